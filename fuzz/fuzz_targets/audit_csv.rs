//! Audit CSV export: any row (JSON from the input) renders as one RFC 4180 record of 14 cells
//! that reads back to the row's values; no cell starts with `=`, `+`, `-`, `@`, tab or CR
//! unless it is the `'`-escaped form of a value that did.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::fuzz_entry::{audit_csv_line, AUDIT_CSV_COLUMNS};
use serde_json::Value;

const COLUMNS: [&str; 14] = AUDIT_CSV_COLUMNS;
const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// RFC 4180 cells of one record (quoted cells may hold `,`, `"` as `""`, CR and LF).
fn cells(line: &str) -> Vec<String> {
    let body = line.strip_suffix('\n').expect("a line ends with \\n");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if at_start && c == '"' {
            quoted = true;
            at_start = false;
            continue;
        }
        at_start = false;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                    assert!(
                        matches!(chars.peek(), None | Some(',')),
                        "text after a quote"
                    );
                }
            } else {
                cur.push(c);
            }
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            assert!(
                !matches!(c, '"' | '\n' | '\r'),
                "unquoted special in {line:?}"
            );
            cur.push(c);
        }
    }
    assert!(!quoted, "unterminated quote");
    out.push(cur);
    out
}

fuzz_target!(|data: &[u8]| {
    // The input as a row: a JSON object, or else every column holds the input as a string.
    let row = match serde_json::from_slice::<Value>(data) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let s = String::from_utf8_lossy(data).into_owned();
            Value::Object(
                COLUMNS
                    .iter()
                    .map(|c| (c.to_string(), Value::String(s.clone())))
                    .collect(),
            )
        }
    };
    let line = audit_csv_line(&row);
    let got = cells(&line);
    assert_eq!(got.len(), COLUMNS.len(), "{line:?}");
    for (cell, col) in got.iter().zip(COLUMNS) {
        let want = match &row[col] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if want.starts_with(FORMULA) {
            assert_eq!(
                cell.strip_prefix('\''),
                Some(want.as_str()),
                "{col}: {line:?}"
            );
        } else {
            assert!(
                !cell.starts_with(FORMULA),
                "{col}: formula cell in {line:?}"
            );
            assert_eq!(cell, &want, "{col}");
        }
    }
});
