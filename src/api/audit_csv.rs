//! CSV rendering of audit rows for `POST /v1/audit/export`: RFC 4180 quoting, and a cell that a
//! spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`, tab or CR — a
//! `User-Agent` of `=HYPERLINK(…)`, say) is prefixed with `'` so it stays text (OWASP CSV
//! injection, SPEC §13).

use serde_json::Value;

/// The columns, in order; each is a field of the API's row view.
pub(crate) const COLUMNS: [&str; 14] = [
    "id",
    "timestamp",
    "action",
    "identity_type",
    "identity_id",
    "secret_path",
    "version",
    "source_ip",
    "user_agent",
    "success",
    "status_code",
    "duration_ms",
    "request_id",
    "extra_data",
];

/// First characters that make a spreadsheet evaluate a cell.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The header line.
pub fn header_line() -> String {
    format!("{}\n", COLUMNS.join(","))
}

/// One row view as a CSV line.
pub fn line(row: &Value) -> String {
    let mut line = COLUMNS
        .iter()
        .map(|c| field(&row[*c]))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

fn field(v: &Value) -> String {
    let mut s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.starts_with(FORMULA_STARTS) {
        s.insert(0, '\'');
    }
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::field;
    use serde_json::json;

    #[test]
    fn formula_cells_become_text() {
        assert_eq!(field(&json!("=1+1")), "'=1+1");
        assert_eq!(field(&json!("+1")), "'+1");
        assert_eq!(field(&json!("-1")), "'-1");
        assert_eq!(field(&json!("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(field(&json!("\tx")), "'\tx");
        assert_eq!(field(&json!("\rx")), "\"'\rx\"");
        assert_eq!(
            field(&json!("=HYPERLINK(\"http://x\",\"a\")")),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\""
        );
    }

    #[test]
    fn other_cells_are_unchanged() {
        assert_eq!(field(&json!("curl/8.5")), "curl/8.5");
        assert_eq!(field(&json!("a=b")), "a=b");
        assert_eq!(field(&json!(200)), "200");
        assert_eq!(field(&json!(null)), "");
        assert_eq!(field(&json!("a,b")), "\"a,b\"");
    }
}
