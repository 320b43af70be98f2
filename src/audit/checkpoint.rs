//! Incremental verification of the audit chain (`GET /v1/audit/verify`).
//!
//! A checkpoint (meta `audit_chain_checkpoint`, `{"seq","hash"}`) is the head of the chain as
//! of the last run that verified every row from the chain's start (or from the previous
//! checkpoint) to that head. By default a run checks only the rows after the checkpoint: it
//! first confirms the checkpointed row still carries the checkpointed hash, then chains the new
//! rows onto it, and on success moves the checkpoint to the new head. So a default run does
//! NOT re-read rows at or before the checkpoint: a field changed there without touching its
//! stored hash goes unnoticed until a full run (`full=true`), which re-verifies from the start
//! (the retention anchor, or genesis). Every answer says which rows it checked (`mode`,
//! `from_seq`, `checked`, `checkpoint_seq`).
//!
//! Every run also checks the chain still extends the checkpoint: that the checkpointed row
//! exists and carries the checkpointed hash. That catches rows cut from the end and history
//! rewritten with recomputed hashes (`missing_row` / `checkpoint_mismatch` at or before
//! `checkpoint_seq`), which the chain alone cannot show; such a break is reported by every run
//! until an operator deletes the checkpoint (after restoring an older backup, say). A full or
//! `from_seq` run that finds a break inside the rows the checkpoint vouches for resets the
//! checkpoint to the chain's start, so every later default run is a full run and keeps
//! reporting the break until it is repaired. A `from_seq` run trusts the stored hash of the row
//! before it, so it never moves the checkpoint forward.
//!
//! The checkpoint lives in the same database as the chain: someone who can rewrite the chain
//! can rewrite it too. Against that, export `head_hash` elsewhere (see `chain`). The sealer
//! does not move the checkpoint: it chains new rows onto the stored head without verifying
//! what is before, so a checkpoint it set would hide a change made since the last run.

use super::chain::{self, start_link, verify_after, Verdict, ANCHOR_KEY};
use super::verify_limits::{Refused, VerifyLimits};
use crate::store::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};

/// Meta key of the last verified head.
pub const CHECKPOINT_KEY: &str = "audit_chain_checkpoint";

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// From the checkpoint (from the start when there is none).
    Default,
    /// From the chain's start.
    Full,
    /// From this seq, trusting the stored hash of the row before it.
    From(i64),
}

impl Request {
    /// The request of `GET /v1/audit/verify`'s `full` and `from_seq` parameters; the reason
    /// when they do not make one.
    pub fn parse(full: Option<&str>, from_seq: Option<i64>) -> Result<Self, &'static str> {
        match (full, from_seq) {
            (None | Some("" | "false"), None) => Ok(Request::Default),
            (None | Some("" | "false"), Some(n)) => Ok(Request::From(n)),
            (Some("true"), None) => Ok(Request::Full),
            (Some("true"), Some(_)) => Err("use either full or from_seq"),
            _ => Err("must be true or false"),
        }
    }
}

/// Which run was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Incremental,
    Full,
    FromSeq,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Incremental => "incremental",
            Mode::Full => "full",
            Mode::FromSeq => "from_seq",
        }
    }
}

/// A run's verdict and what it covered.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub mode: Mode,
    /// The first seq this run checked; rows before it were not read by this run.
    pub from_seq: i64,
    /// The checkpoint stored after the run (None: no run has completed yet).
    pub checkpoint_seq: Option<i64>,
}

/// Why no verification was made.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Limited(#[from] Refused),
}

/// Verifies (part of) the chain for `tenant`'s caller at `now`, within `limits`.
pub async fn run(
    store: &dyn Store,
    limits: &VerifyLimits,
    tenant: &str,
    now: DateTime<Utc>,
    req: Request,
) -> Result<Outcome, VerifyError> {
    let anchor = start_link(store.get_meta(ANCHOR_KEY).await?.as_deref());
    let stored = store.get_meta(CHECKPOINT_KEY).await?;
    let checkpoint = stored.as_deref().and_then(chain::parse_anchor);
    let (mode, from_seq) = match (req, &checkpoint) {
        (Request::From(n), _) if n > anchor.0 + 1 => (Mode::FromSeq, n),
        (Request::Default, Some(c)) if c.0 > anchor.0 || (c.0 == anchor.0 && c.1 != anchor.1) => {
            (Mode::Incremental, c.0 + 1)
        }
        // No checkpoint, one at the chain's start, or one behind retention's anchor.
        _ => (Mode::Full, anchor.0 + 1),
    };
    let _permit = limits.admit(tenant, mode != Mode::Incremental, now)?;
    // A checkpoint retention has not passed: the rows up to it were verified once.
    let live = checkpoint.as_ref().filter(|c| c.0 >= anchor.0);
    let (verdict, against_checkpoint) = match (mode, live) {
        (Mode::Incremental, Some(c)) => match check_link(store, &anchor, c).await? {
            Some(broken) => (broken, true),
            None => (verify_after(store, c.clone()).await?, false),
        },
        (Mode::FromSeq, _) => {
            extends(
                store,
                &anchor,
                live,
                chain::verify(store, Some(from_seq)).await?,
            )
            .await?
        }
        _ => {
            extends(
                store,
                &anchor,
                live,
                verify_after(store, anchor.clone()).await?,
            )
            .await?
        }
    };
    let next = match (&verdict, live) {
        (
            Verdict::Ok {
                head_seq,
                head_hash,
                ..
            },
            c,
        ) if mode != Mode::FromSeq => c
            .is_none_or(|c| *head_seq > c.0)
            .then(|| chain::anchor_value(*head_seq, head_hash)),
        // A break in the rows the checkpoint vouches for: later default runs must see it.
        (Verdict::Broken { first_bad_seq, .. }, Some(c))
            if !against_checkpoint && *first_bad_seq <= c.0 =>
        {
            Some(chain::anchor_value(anchor.0, &anchor.1))
        }
        _ => None,
    };
    if let Some(next) = next {
        replace(store, stored.as_deref(), &next).await?;
    }
    let checkpoint_seq = store
        .get_meta(CHECKPOINT_KEY)
        .await?
        .as_deref()
        .and_then(chain::parse_anchor)
        .map(|c| c.0);
    Ok(Outcome {
        verdict,
        mode,
        from_seq,
        checkpoint_seq,
    })
}

/// A chain that verified on its own must still extend the checkpoint: reach its seq, and
/// carry its hash there. Returns the verdict and whether it is a break against the checkpoint
/// (rows cut from the end, or history rewritten with recomputed hashes), which only the
/// checkpoint shows, so it must not be reset.
async fn extends(
    store: &dyn Store,
    anchor: &(i64, String),
    live: Option<&(i64, String)>,
    verdict: Verdict,
) -> StoreResult<(Verdict, bool)> {
    let (
        Verdict::Ok {
            checked, head_seq, ..
        },
        Some(c),
    ) = (&verdict, live)
    else {
        return Ok((verdict, false));
    };
    if *head_seq < c.0 {
        let cut = Verdict::Broken {
            checked: *checked,
            first_bad_seq: head_seq + 1,
            reason: "missing_row",
        };
        return Ok((cut, true));
    }
    Ok(match check_link(store, anchor, c).await? {
        Some(broken) => (broken, true),
        None => (verdict, false),
    })
}

/// Checks the checkpointed row still carries the checkpointed hash (or, when retention has
/// just deleted it, that the anchor does); the break if not.
async fn check_link(
    store: &dyn Store,
    anchor: &(i64, String),
    c: &(i64, String),
) -> StoreResult<Option<Verdict>> {
    let broken = |reason| {
        Some(Verdict::Broken {
            checked: 0,
            first_bad_seq: c.0,
            reason,
        })
    };
    if c.0 == anchor.0 {
        return Ok(if c.1 == anchor.1 {
            None
        } else {
            broken("checkpoint_mismatch")
        });
    }
    Ok(match store.audit_chain(c.0, 1).await?.into_iter().next() {
        Some(r) if r.seq == Some(c.0) => {
            if r.hash.as_deref() == Some(c.1.as_str()) {
                None
            } else {
                broken("checkpoint_mismatch")
            }
        }
        _ => broken("missing_row"),
    })
}

/// Compare-and-set of the checkpoint: changed only if it is still `old`, so a concurrent run
/// that reset it (having found a break) is never overwritten by one that read it before.
async fn replace(store: &dyn Store, old: Option<&str>, new: &str) -> StoreResult<()> {
    match old {
        Some(old) => {
            store.replace_meta(CHECKPOINT_KEY, old, new).await?;
        }
        None => {
            let mut tx = store.begin().await?;
            tx.put_meta_if_absent(CHECKPOINT_KEY, new).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}
