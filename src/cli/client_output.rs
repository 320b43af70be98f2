//! How client commands print: JSON when stdout is not a terminal or with `--json` (for scripts
//! and `jq`), an aligned table on a terminal. Writes go through `output`, so a closed pipe ends
//! the command quietly.

use super::client_args::OutputArgs;
use super::output::line;
use serde_json::Value;
use std::io::IsTerminal;

/// True when this command should print JSON.
pub fn wants_json(out: OutputArgs) -> bool {
    out.json || !std::io::stdout().is_terminal()
}

/// Prints `value` as pretty JSON.
pub fn json(value: &Value) -> std::io::Result<()> {
    line(serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

/// Prints `value` as one compact JSON line (feeds).
pub fn json_line(value: &Value) -> std::io::Result<()> {
    line(value)
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let text: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        text.join("  ").trim_end().to_string()
    };
    line(render(&mut header.iter().copied()))?;
    for row in rows {
        line(render(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

/// A JSON field as a table cell (`-` when absent or null).
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
