//! `GET /v1/audit/verify` from a checkpoint: a default run checks only the rows after the last
//! verified head; `full=true` re-verifies from the start; the answer says what was checked;
//! tampering after the checkpoint is caught by a default run, before it by a full run (and
//! from then on by every default run); rows cut from the end or history rewritten under the
//! checkpoint are caught by any run; rapid verifications are refused per tenant (429).

use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

crate::both_stores!(
    second_verify_checks_only_the_new_rows,
    tamper_before_the_checkpoint_is_caught_by_a_full_run,
    tamper_after_the_checkpoint_is_caught_by_a_default_run,
    cut_or_rewritten_chain_is_caught_against_the_checkpoint,
    rapid_verifications_are_refused_per_tenant,
    full_and_from_seq_are_validated,
);

async fn sealed(app: &TestApp) {
    scaivault::audit::sealer::seal_all(&app.state)
        .await
        .expect("seal");
}

/// `GET /v1/audit/verify{query}` a minute after the previous call (out of the way of the
/// per-tenant budget, which `rapid_verifications_are_refused_per_tenant` tests).
async fn verify(app: &TestApp, query: &str) -> Value {
    app.clock.advance(chrono::Duration::seconds(61));
    let r = app.get(&format!("/v1/audit/verify{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn sealed_rows(db: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE seq IS NOT NULL")
        .fetch_one(db)
        .await
        .expect("count")
}

/// Writes `n` secrets under `prefix` and seals their rows.
async fn activity(app: &TestApp, prefix: &str, n: usize) {
    for i in 0..n {
        let r = app
            .put_secret(&format!("{prefix}/{i}"), json!({"i": i}))
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    sealed(app).await;
}

async fn second_verify_checks_only_the_new_rows(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    activity(&app, "a", 5).await;
    let first_rows = sealed_rows(&db).await;
    let v = verify(&app, "").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["mode"], "full", "no checkpoint yet: {v}");
    assert_eq!(v["from_seq"], 1, "{v}");
    assert_eq!(v["checked"], first_rows, "{v}");
    assert_eq!(v["checkpoint_seq"], v["head_seq"], "{v}");
    let head = v["head_seq"].as_i64().expect("head");

    activity(&app, "b", 3).await;
    let new_rows = sealed_rows(&db).await - first_rows;
    assert!(new_rows >= 3, "{new_rows}");
    let v = verify(&app, "").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["mode"], "incremental", "{v}");
    assert_eq!(v["from_seq"], head + 1, "{v}");
    assert_eq!(
        v["checked"], new_rows,
        "only the rows after the checkpoint: {v}"
    );
    assert_eq!(v["head_seq"], head + new_rows, "{v}");
    assert_eq!(v["checkpoint_seq"], head + new_rows, "{v}");
    // Nothing new: nothing checked, the head and checkpoint stay.
    let again = verify(&app, "").await;
    assert_eq!(
        (
            again["ok"].clone(),
            again["checked"].clone(),
            again["head_hash"].clone()
        ),
        (json!(true), json!(0), v["head_hash"].clone()),
        "{again}"
    );
    // A full run re-reads everything.
    let full = verify(&app, "?full=true").await;
    assert_eq!(full["checked"], first_rows + new_rows, "{full}");
    assert_eq!(full["head_hash"], v["head_hash"], "{full}");
}

async fn tamper_before_the_checkpoint_is_caught_by_a_full_run(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    activity(&app, "t", 6).await;
    let v = verify(&app, "").await;
    assert_eq!(v["ok"], true, "{v}");
    let checkpoint = v["checkpoint_seq"].as_i64().expect("checkpoint");
    assert!(checkpoint > 3);
    // A field of row 3 changed, its stored hash left as it was.
    sqlx::query("UPDATE audit_log SET identity_id = 'user:mallory' WHERE seq = 3")
        .execute(&db)
        .await
        .expect("tamper");
    // A default run does not re-read it, and says so: it checked from after the checkpoint.
    let v = verify(&app, "").await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        (v["mode"].clone(), v["checked"].clone()),
        (json!("incremental"), json!(0)),
        "{v}"
    );
    assert_eq!(v["from_seq"], checkpoint + 1, "{v}");
    // A full run catches it ...
    let v = verify(&app, "?full=true").await;
    assert_eq!(
        (
            v["ok"].clone(),
            v["first_bad_seq"].clone(),
            v["reason"].clone()
        ),
        (json!(false), json!(3), json!("hash_mismatch")),
        "{v}"
    );
    assert_eq!(v["checkpoint_seq"], 0, "reset to the chain's start: {v}");
    // ... and from then on every default run is a full run that reports it.
    let v = verify(&app, "").await;
    assert_eq!(
        (
            v["ok"].clone(),
            v["mode"].clone(),
            v["first_bad_seq"].clone()
        ),
        (json!(false), json!("full"), json!(3)),
        "{v}"
    );
    // Repaired, the chain verifies again and a new checkpoint is set.
    sqlx::query("UPDATE audit_log SET identity_id = 'user:root' WHERE seq = 3")
        .execute(&db)
        .await
        .expect("repair");
    let v = verify(&app, "").await;
    assert_eq!(
        (v["ok"].clone(), v["mode"].clone()),
        (json!(true), json!("full")),
        "{v}"
    );
    assert_eq!(v["checkpoint_seq"], v["head_seq"], "{v}");
}

async fn tamper_after_the_checkpoint_is_caught_by_a_default_run(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    activity(&app, "c", 3).await;
    let checkpoint = verify(&app, "").await["checkpoint_seq"]
        .as_i64()
        .expect("checkpoint");
    activity(&app, "d", 3).await;
    let bad = checkpoint + 2;
    sqlx::query("UPDATE audit_log SET status_code = 599 WHERE seq = $1")
        .bind(bad)
        .execute(&db)
        .await
        .expect("tamper");
    let v = verify(&app, "").await;
    assert_eq!(
        (
            v["ok"].clone(),
            v["mode"].clone(),
            v["first_bad_seq"].clone()
        ),
        (json!(false), json!("incremental"), json!(bad)),
        "{v}"
    );
    assert_eq!(
        v["checked"], 1,
        "the row after the checkpoint was fine: {v}"
    );
    assert_eq!(
        v["checkpoint_seq"], checkpoint,
        "a failed run does not move it: {v}"
    );
    // Still reported by the next default run.
    let v = verify(&app, "").await;
    assert_eq!(
        (v["ok"].clone(), v["first_bad_seq"].clone()),
        (json!(false), json!(bad)),
        "{v}"
    );
}

async fn cut_or_rewritten_chain_is_caught_against_the_checkpoint(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    activity(&app, "e", 5).await;
    let checkpoint = verify(&app, "").await["checkpoint_seq"]
        .as_i64()
        .expect("checkpoint");
    // History rewritten: row 3 changed and every hash from it to the head recomputed, as
    // someone with write access to the database would. The chain alone verifies; every kind of
    // run reports that it no longer extends the checkpoint.
    let saved = rewrite_from(&app, &db, 3, None).await;
    for q in ["", "?full=true", "?from_seq=2", ""] {
        let v = verify(&app, q).await;
        assert_eq!(
            (
                v["ok"].clone(),
                v["first_bad_seq"].clone(),
                v["reason"].clone()
            ),
            (
                json!(false),
                json!(checkpoint),
                json!("checkpoint_mismatch")
            ),
            "{q}: {v}"
        );
        assert_eq!(v["checkpoint_seq"], checkpoint, "never reset by it: {v}");
    }
    rewrite_from(&app, &db, 3, Some(saved)).await;
    assert_eq!(verify(&app, "").await["ok"], true);
    // The last two rows cut from the end: the chain alone still verifies, the checkpoint not.
    sqlx::query("DELETE FROM audit_log WHERE seq >= $1")
        .bind(checkpoint - 1)
        .execute(&db)
        .await
        .expect("cut");
    let v = verify(&app, "?full=true").await;
    assert_eq!(
        (
            v["ok"].clone(),
            v["first_bad_seq"].clone(),
            v["reason"].clone()
        ),
        (json!(false), json!(checkpoint - 1), json!("missing_row")),
        "{v}"
    );
    let v = verify(&app, "").await;
    assert_eq!(
        (
            v["ok"].clone(),
            v["first_bad_seq"].clone(),
            v["reason"].clone()
        ),
        (json!(false), json!(checkpoint), json!("missing_row")),
        "{v}"
    );
}

/// Sets row `seq`'s identity to `identity` (default `user:mallory`) and recomputes the hash of
/// every row from it to the head; returns the identity it had.
async fn rewrite_from(
    app: &TestApp,
    db: &sqlx::AnyPool,
    seq: i64,
    identity: Option<String>,
) -> String {
    use scaivault::audit::chain::row_hash;
    let prev: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(seq - 1)
        .fetch_one(db)
        .await
        .expect("previous hash");
    let mut rows = app.state.store.audit_chain(seq, 1000).await.expect("rows");
    let old = std::mem::replace(
        &mut rows[0].identity_id,
        identity.unwrap_or_else(|| "user:mallory".into()),
    );
    let mut prev = prev;
    for r in &rows {
        let s = r.seq.expect("sealed");
        prev = row_hash(&prev, r, s);
        sqlx::query("UPDATE audit_log SET identity_id = $1, hash = $2 WHERE seq = $3")
            .bind(&r.identity_id)
            .bind(&prev)
            .bind(s)
            .execute(db)
            .await
            .expect("rewrite");
    }
    old
}

async fn rapid_verifications_are_refused_per_tenant(kind: StoreKind) {
    use scaivault::audit::verify_limits::{FULL_RUNS_PER_MINUTE, RUNS_PER_MINUTE};
    let app = TestApp::spawn(kind).await;
    activity(&app, "r", 2).await;
    let get = |q: &'static str| app.get(q);
    // Full runs: a small budget per minute.
    for _ in 0..FULL_RUNS_PER_MINUTE {
        let r = get("/v1/audit/verify?full=true").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = get("/v1/audit/verify?full=true").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.code(), "rate_limited");
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(r.body["error"]["details"]["retry_after_seconds"], wait);
    // Default runs from the checkpoint still go, up to their own budget.
    let mut ok = FULL_RUNS_PER_MINUTE;
    loop {
        let r = get("/v1/audit/verify").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.code(), "rate_limited");
            assert!(r.header("retry-after").is_some());
            break;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["mode"], "incremental", "{}", r.body);
        ok += 1;
        assert!(ok <= RUNS_PER_MINUTE, "never refused");
    }
    assert_eq!(ok, RUNS_PER_MINUTE);
    // Another tenant has its own budget.
    let other = app.token_in_tenant("tnt_other", &["audit:read"]).await;
    let r = app
        .call(Method::GET, "/v1/audit/verify", Some(&other), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A minute later the budget is back.
    app.clock
        .advance(chrono::Duration::seconds(wait.max(60) as i64));
    let r = get("/v1/audit/verify?full=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn full_and_from_seq_are_validated(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    activity(&app, "v", 3).await;
    for q in ["?full=yes", "?full=true&from_seq=2", "?from_seq=0"] {
        let r = app.get(&format!("/v1/audit/verify{q}")).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error", "{q}");
    }
    let v = verify(&app, "?from_seq=2").await;
    assert_eq!(
        (v["ok"].clone(), v["mode"].clone(), v["from_seq"].clone()),
        (json!(true), json!("from_seq"), json!(2)),
        "{v}"
    );
    assert_eq!(
        v["checkpoint_seq"],
        Value::Null,
        "a from_seq run sets no checkpoint: {v}"
    );
    let v = verify(&app, "?from_seq=1").await;
    assert_eq!(v["mode"], "full", "from the start is a full run: {v}");
}
