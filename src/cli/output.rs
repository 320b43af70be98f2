//! Standard output that never panics when the reader has gone (`scaivault config check | head`):
//! lines are written with `writeln!`, and a closed pipe ends the command quietly with exit 0
//! (as `cat` does when its reader exits).

use std::fmt::Display;
use std::io::Write;

/// Writes `text` and a newline to stdout.
pub fn line(text: impl Display) -> std::io::Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")
}

/// Writes `bytes` to stdout as they are (no newline added) and flushes.
pub fn raw(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// True when the error (or one of its causes) is a write to a closed pipe.
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
