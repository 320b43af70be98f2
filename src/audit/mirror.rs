//! The audit mirror for log shippers (`SCAIVAULT_AUDIT_MIRROR=stdout|file:PATH`): every committed
//! audit row, one JSON line each, in chain order.
//!
//! It follows the hash chain rather than one write path: mutation rows commit inside their
//! mutation's transaction and read rows through the group-commit writer, and the chain is the one
//! place where all of them appear, committed and in one order (`seq`). Twice a second (the
//! sealer chains new rows once a second), [`AuditMirror::catch_up`] reads the rows sealed since
//! the last line it wrote (`Store::audit_chain`) and appends them, so a line is written only
//! after its row committed, at most about a second and a half later. The order is the chain's:
//! on SQLite a read is chained as it commits and a write by the sealer within the second, so a
//! read can come before a write that committed just before it; `seq` and `timestamp` tell.
//! A file mirror resumes after the `seq` of the file's last line, so a restart neither repeats
//! nor skips rows; it is reopened on SIGHUP (after logrotate renamed it). Several replicas on
//! one database each mirror the whole chain: turn it on for one of them, or de-duplicate by `id`.
//! Rows never hold a secret value or a token (SPEC's audit row), so neither does the mirror.

use crate::clock::{from_micros, rfc3339_micros};
use crate::store::{AuditRow, Store, StoreResult};
use serde_json::{json, Value};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Rows read from the chain per query.
const PAGE: i64 = 500;

/// Where mirrored rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorTarget {
    Stdout,
    File(PathBuf),
}

impl MirrorTarget {
    /// Parses `stdout` or `file:PATH`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "stdout" => Ok(Self::Stdout),
            t => match t.strip_prefix("file:") {
                Some(p) if !p.trim().is_empty() => Ok(Self::File(PathBuf::from(p.trim()))),
                _ => Err(format!("'{t}' is not stdout or file:PATH")),
            },
        }
    }

    /// As written in the setting.
    pub fn as_setting(&self) -> String {
        match self {
            Self::Stdout => "stdout".into(),
            Self::File(p) => format!("file:{}", p.display()),
        }
    }
}

/// A running mirror: its output and the next `seq` to write.
pub struct AuditMirror {
    target: MirrorTarget,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    next_seq: i64,
}

impl AuditMirror {
    /// Opens the target. A file that already holds mirrored lines resumes after its last `seq`;
    /// otherwise mirroring starts after the rows sealed before this start.
    pub async fn open(target: MirrorTarget, store: &dyn Store) -> std::io::Result<Self> {
        let resume = match &target {
            MirrorTarget::File(path) => last_seq(path)?,
            MirrorTarget::Stdout => None,
        };
        let next_seq = match resume {
            Some(seq) => seq + 1,
            None => {
                chain_head(store)
                    .await
                    .map_err(|e| std::io::Error::other(format!("audit mirror: {e}")))?
                    + 1
            }
        };
        let out = open_output(&target)?;
        Ok(Self {
            target,
            state: Mutex::new(State { out, next_seq }),
        })
    }

    /// Writes every row sealed since the last call; returns how many. Called by [`run`] and once
    /// more at shutdown, after the sealer's last pass.
    pub async fn catch_up(&self, store: &dyn Store) -> StoreResult<usize> {
        let mut written = 0;
        loop {
            let from = self.lock().next_seq;
            let rows = store.audit_chain(from, PAGE).await?;
            if rows.is_empty() {
                return Ok(written);
            }
            let mut st = self.lock();
            // Another call may have written these meanwhile: keep only what is still next.
            let mut text = Vec::new();
            for row in &rows {
                let Some(seq) = row.seq.filter(|s| *s >= st.next_seq) else {
                    continue;
                };
                text.extend_from_slice(line(row).to_string().as_bytes());
                text.push(b'\n');
                st.next_seq = seq + 1;
                written += 1;
            }
            if let Err(e) = st.out.write_all(&text).and_then(|()| st.out.flush()) {
                tracing::warn!(error.cause = %e, mirror = %self.target.as_setting(), "audit mirror write failed");
            }
            if rows.len() < PAGE as usize {
                return Ok(written);
            }
        }
    }

    /// Reopens a file target (after logrotate renamed it): new rows go to a new file at the
    /// configured path. Stdout has nothing to reopen.
    pub fn reopen(&self) -> std::io::Result<()> {
        if let MirrorTarget::File(_) = &self.target {
            let out = open_output(&self.target)?;
            let mut st = self.lock();
            let _ = st.out.flush();
            st.out = out;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One row as a line: the audit API's fields plus tenant, `seq` and `hash`.
fn line(r: &AuditRow) -> Value {
    json!({
        "id": r.id,
        "tenant_id": r.tenant_id,
        "timestamp": rfc3339_micros(from_micros(r.ts)),
        "action": r.action,
        "identity_type": r.identity_type.as_str(),
        "identity_id": r.identity_id,
        "secret_path": r.secret_path,
        "version": r.version,
        "source_ip": r.source_ip,
        "user_agent": r.user_agent,
        "success": r.success,
        "status_code": r.status_code,
        "duration_ms": r.duration_ms,
        "request_id": r.request_id,
        "extra_data": serde_json::from_str::<Value>(&r.extra_data).unwrap_or(Value::Null),
        "seq": r.seq,
        "hash": r.hash,
    })
}

fn open_output(target: &MirrorTarget) -> std::io::Result<Box<dyn Write + Send>> {
    match target {
        MirrorTarget::Stdout => Ok(Box::new(std::io::stdout())),
        MirrorTarget::File(path) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o640);
            }
            let f = opts.open(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("audit mirror {}: {e}", path.display()))
            })?;
            Ok(Box::new(f))
        }
    }
}

/// The `seq` of the last complete line of a mirror file (None: no file, or no line yet).
fn last_seq(path: &Path) -> std::io::Result<Option<i64>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("audit mirror {}: {e}", path.display()),
            ))
        }
    };
    // The last line is within the file's last 64 KiB (a row is far smaller).
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    Ok(tail
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter_map(|v| v["seq"].as_i64())
        .last())
}

/// The highest `seq` sealed so far (0 when nothing is): `audit_chain` answers "any row at or
/// after seq n?", which is true up to the head, so the head is found in O(log head) queries.
async fn chain_head(store: &dyn Store) -> StoreResult<i64> {
    let any_from = |n: i64| async move {
        Ok::<bool, crate::store::StoreError>(!store.audit_chain(n, 1).await?.is_empty())
    };
    if !any_from(1).await? {
        return Ok(0);
    }
    // Largest power of two with a row at or after it, then binary search above it.
    let mut lo = 1_i64;
    while any_from(lo * 2).await? {
        lo *= 2;
    }
    let mut hi = lo * 2; // no row at or after hi
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if any_from(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // `lo` has a row at or after it and `lo + 1` none: the head is `lo`.
    Ok(lo)
}

/// Catches up twice a second until `cancel`; reopens the file on SIGHUP. The caller
/// runs one last [`AuditMirror::catch_up`] after the sealer's final pass.
pub async fn run(
    st: crate::server::AppState,
    mirror: std::sync::Arc<AuditMirror>,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut hup = hangups();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = next_hangup(&mut hup) => {
                match mirror.reopen() {
                    Ok(()) => tracing::info!(mirror = %mirror.target.as_setting(), "SIGHUP: audit mirror reopened"),
                    Err(e) => tracing::warn!(error.cause = %e, "SIGHUP: audit mirror could not be reopened; still writing to the previous file"),
                }
            }
            _ = cancel.cancelled() => return,
        }
        if let Err(e) = mirror.catch_up(st.store.as_ref()).await {
            tracing::warn!(error.cause = %e, "audit mirror pass failed");
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

/// The next SIGHUP (never, without a handler).
async fn next_hangup(h: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(s) = h {
        return s.recv().await;
    }
    let _ = h;
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::MirrorTarget;

    #[test]
    fn targets_parse() {
        assert_eq!(MirrorTarget::parse("stdout"), Ok(MirrorTarget::Stdout));
        assert_eq!(
            MirrorTarget::parse("file:/var/log/sv.jsonl"),
            Ok(MirrorTarget::File("/var/log/sv.jsonl".into()))
        );
        assert!(MirrorTarget::parse("file:").is_err());
        assert!(MirrorTarget::parse("syslog").is_err());
    }
}
