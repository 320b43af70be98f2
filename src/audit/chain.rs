//! The audit hash chain: `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical row)`, and verification.
//!
//! What it detects: a changed field, a deleted row or an inserted row anywhere before the head
//! (the next row's hash no longer matches, or the seq numbering breaks). What it cannot detect
//! alone: someone with database write access who recomputes every hash after their change, or
//! who drops rows from the very end. Exporting the head hash elsewhere (`GET /v1/audit/verify`
//! returns it) closes both: a later head must extend the exported one. The verify checkpoint
//! (`checkpoint`) does the same inside the database, against anyone who does not also rewrite it.

use crate::store::{AuditRow, Store, StoreResult};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The previous hash of the first row ever sealed.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Meta key of the last row removed by retention (`{"seq","hash"}`): the chain resumes from it.
pub const ANCHOR_KEY: &str = "audit_chain_anchor";

/// The bytes a row is hashed over: every stored field in a fixed order, with its seq.
pub fn canonical(row: &AuditRow, seq: i64) -> Vec<u8> {
    format!("[{seq},{}", canonical_tail(row)).into_bytes()
}

/// The canonical bytes after `[seq,`: what PostgreSQL's batch function is given to seal a row
/// itself (migration 0016 computes `"[" ‖ seq ‖ "," ‖ tail`, the same bytes).
pub fn canonical_tail(row: &AuditRow) -> String {
    let mut array = json!([
        row.id,
        row.tenant_id,
        row.ts,
        row.action,
        row.identity_type.as_str(),
        row.identity_id,
        row.secret_path,
        row.version,
        row.source_ip,
        row.user_agent,
        // Hashed as stored: 0 or 1.
        crate::store::flag(row.success),
        row.status_code,
        row.duration_ms,
        row.request_id,
        row.extra_data,
    ])
    .to_string();
    // `[` is ASCII: one byte.
    array.remove(0);
    array
}

/// The chain hash of `row` at `seq` after `prev`.
pub fn row_hash(prev: &str, row: &AuditRow, seq: i64) -> String {
    tail_hash(prev, seq, &canonical_tail(row))
}

/// The chain hash at `seq` after `prev` of the row whose canonical bytes after `[seq,` are
/// `tail`: SHA-256 of `prev ‖ "\n" ‖ canonical(row, seq)`.
fn tail_hash(prev: &str, seq: i64, tail: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n[");
    h.update(seq.to_string().as_bytes());
    h.update(b",");
    h.update(tail.as_bytes());
    hex::encode(h.finalize())
}

pub fn anchor_value(seq: i64, hash: &str) -> String {
    json!({ "seq": seq, "hash": hash }).to_string()
}

pub fn parse_anchor(v: &str) -> Option<(i64, String)> {
    let j: serde_json::Value = serde_json::from_str(v).ok()?;
    Some((j["seq"].as_i64()?, j["hash"].as_str()?.to_string()))
}

/// The link a chain with no sealed row goes on from: the retention anchor (the stored value of
/// `ANCHOR_KEY`), else genesis.
pub fn start_link(anchor: Option<&str>) -> (i64, String) {
    anchor
        .and_then(parse_anchor)
        .unwrap_or_else(|| (0, GENESIS.to_string()))
}

/// Chains `rows` after `head`: each row's (seq, hash).
pub fn seal_onto(head: (i64, String), rows: &[AuditRow]) -> Vec<(i64, String)> {
    let tails: Vec<String> = rows.iter().map(canonical_tail).collect();
    seal_tails_onto(head, &tails)
}

/// `seal_onto` for rows given by their `canonical_tail`s, for a caller that needs those too.
pub fn seal_tails_onto(head: (i64, String), tails: &[String]) -> Vec<(i64, String)> {
    let (mut seq, mut prev) = head;
    let mut links = Vec::with_capacity(tails.len());
    for tail in tails {
        seq += 1;
        prev = tail_hash(&prev, seq, tail);
        links.push((seq, prev.clone()));
    }
    links
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Ok {
        checked: i64,
        head_seq: i64,
        head_hash: String,
    },
    Broken {
        checked: i64,
        first_bad_seq: i64,
        reason: &'static str,
    },
}

/// Recomputes the chain from `from_seq` (or its start) to the head.
pub async fn verify(store: &dyn Store, from_seq: Option<i64>) -> StoreResult<Verdict> {
    let anchor = start_link(store.get_meta(ANCHOR_KEY).await?.as_deref());
    let start = from_seq.unwrap_or(anchor.0 + 1).max(anchor.0 + 1);
    if start == anchor.0 + 1 {
        return verify_after(store, anchor).await;
    }
    // Start mid-chain: trust the stored hash of the row just before.
    match store.audit_chain(start - 1, 1).await?.into_iter().next() {
        Some(r) if r.seq == Some(start - 1) => {
            verify_after(store, (start - 1, r.hash.unwrap_or_default())).await
        }
        _ => Ok(Verdict::Broken {
            checked: 0,
            first_bad_seq: start - 1,
            reason: "missing_row",
        }),
    }
}

/// Recomputes the chain from the row after `link` (a seq and the hash it must chain from) to
/// the head.
pub async fn verify_after(store: &dyn Store, link: (i64, String)) -> StoreResult<Verdict> {
    let (mut expected_seq, mut prev) = (link.0 + 1, link.1);
    let mut checked = 0;
    loop {
        let page = store.audit_chain(expected_seq, 1000).await?;
        if page.is_empty() {
            return Ok(Verdict::Ok {
                checked,
                head_seq: expected_seq - 1,
                head_hash: prev,
            });
        }
        for r in &page {
            let seq = r.seq.unwrap_or_default();
            if seq != expected_seq {
                return Ok(Verdict::Broken {
                    checked,
                    first_bad_seq: expected_seq.min(seq),
                    reason: if seq > expected_seq {
                        "missing_row"
                    } else {
                        "duplicate_seq"
                    },
                });
            }
            if r.hash.as_deref() != Some(row_hash(&prev, r, seq).as_str()) {
                return Ok(Verdict::Broken {
                    checked,
                    first_bad_seq: seq,
                    reason: "hash_mismatch",
                });
            }
            prev = r.hash.clone().unwrap_or_default();
            expected_seq += 1;
            checked += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IdentityType;

    fn row(id: &str, success: bool) -> AuditRow {
        AuditRow {
            id: id.into(),
            tenant_id: "tnt_default".into(),
            ts: 1_700_000_000_000_001,
            action: "read".into(),
            identity_type: IdentityType::ServiceAccount,
            identity_id: "sa:ci".into(),
            secret_path: Some("app/db".into()),
            version: Some(3),
            source_ip: Some("10.0.0.1".into()),
            user_agent: Some("curl/8".into()),
            success,
            status_code: 200,
            duration_ms: 4,
            request_id: Some("req_1".into()),
            extra_data: r#"{"k":"v"}"#.into(),
            seq: None,
            hash: None,
        }
    }

    /// The hashed bytes are the stored values, `success` as the stored integer 0/1 and the
    /// identity type as its stored text: chains sealed before rows were typed still verify.
    #[test]
    fn canonical_bytes_are_pinned() {
        let bytes = canonical(&row("log_01", true), 7);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"[7,"log_01","tnt_default",1700000000000001,"read","service_account","sa:ci","app/db",3,"10.0.0.1","curl/8",1,200,4,"req_1","{\"k\":\"v\"}"]"#
        );
        // SHA-256 of GENESIS, "\n" and those bytes, computed outside this crate.
        assert_eq!(
            row_hash(GENESIS, &row("log_01", true), 7),
            "0b9a1f6ea5b458d853060c2a74f43d5c3327468bb59cc89dd0a26a008eb2f200"
        );
    }

    #[test]
    fn a_failure_hashes_as_zero_with_nulls_for_absent_fields() {
        let r = AuditRow {
            id: "log_02".into(),
            ts: 1_700_000_000_000_002,
            action: "auth_failed".into(),
            identity_type: IdentityType::User,
            identity_id: "anonymous".into(),
            secret_path: None,
            version: None,
            source_ip: None,
            user_agent: None,
            status_code: 401,
            duration_ms: 0,
            request_id: None,
            extra_data: "{}".into(),
            ..row("log_02", false)
        };
        assert_eq!(
            String::from_utf8_lossy(&canonical(&r, 8)),
            r#"[8,"log_02","tnt_default",1700000000000002,"auth_failed","user","anonymous",null,null,null,null,0,401,0,null,"{}"]"#
        );
        assert_eq!(
            row_hash("abc", &r, 8),
            "7f92526433ac5e85f638ff822f978fb02f1054d780c515d5b8ba9e9c09ba5621"
        );
    }
}
