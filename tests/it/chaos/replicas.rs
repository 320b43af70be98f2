//! Fault 4: a replica dies mid-work. Three `serve` processes share one PostgreSQL database;
//! secrets (10,000 in the full run) sit under two policies, half `auto_generate` and half not,
//! a webhook takes every event, and both policies are force-rotated while one replica after
//! another is killed with `kill -9` every few seconds and started again. Afterwards: each
//! manual secret has exactly one `rotation.due` (due now), each auto secret exactly one
//! `rotation.completed` and no rotation left `pending`, every event reached the receiver
//! (at least once, always the same `event_id`), no delivery is left `pending`, and the
//! rotations a dead replica had opened were finished by another within the auto-write lease.

use super::report::full;
use super::target::HOOK_SECRET;
use crate::binary::{free_port, master_key, root_token, Server};
use crate::common::fresh_pg_database;
use crate::common::receiver::Receiver;
use futures_util::StreamExt;
use reqwest::Method as M;
use scaivault::domain::rotation::AUTO_WRITE_LEASE_SECS;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const REPLICAS: usize = 3;
/// How long each replica works between two kills (one replica is killed at a time, in turn).
const KILL_EVERY: Duration = Duration::from_secs(4);

/// Sends one request to `base`, retrying (bounded) until it answers `want`; replicas may be
/// down or restarting.
async fn call(
    client: &reqwest::Client,
    bases: &[String],
    token: &str,
    m: M,
    path: &str,
    body: Option<Value>,
    want: u16,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut i = 0usize;
    loop {
        let base = &bases[i % bases.len()];
        i += 1;
        let mut rb = client
            .request(m.clone(), format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = &body {
            rb = rb.json(b);
        }
        if let Ok(r) = rb.send().await {
            let s = r.status().as_u16();
            let b: Value = r.json().await.unwrap_or(Value::Null);
            if s == want {
                return b;
            }
            // A 200 for a PUT that a dead replica already committed (201 expected) is fine.
            if m == M::PUT && s == 200 && want == 201 {
                return b;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{m} {path} never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long; run by scripts/chaos.sh"]
async fn replicas_killed_during_forced_rotation() {
    let secrets = if full() { 10_000 } else { 600 };
    let db = fresh_pg_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, root) = (master_key(), root_token());
    let env_owned = super::target::server_env(&db, &key, &root);
    let env: Vec<(&str, &str)> = env_owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ports: Vec<u16> = (0..REPLICAS).map(|_| free_port()).collect();
    let mut replicas = Vec::new();
    for p in &ports {
        let d = dir.path().join(p.to_string());
        std::fs::create_dir_all(&d).expect("replica dir");
        replicas.push(Some(Server::start(&d, &[], *p, &env, &root).await));
    }
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client");
    let rx = Receiver::start(HOOK_SECRET).await;
    call(
        &client,
        &bases,
        &root,
        M::POST,
        "/v1/webhooks",
        Some(json!({"name": "all", "url": rx.url, "secret": HOOK_SECRET, "events": ["*"]})),
        201,
    )
    .await;
    for (name, auto) in [("manual", false), ("auto", true)] {
        call(
            &client,
            &bases,
            &root,
            M::POST,
            "/v1/rotation/policies",
            Some(json!({"name": name, "interval": "30d", "auto_generate": auto})),
            201,
        )
        .await;
    }
    let seeded = Instant::now();
    futures_util::stream::iter(0..secrets)
        .map(|i| {
            let (client, bases, root) = (&client, &bases, &root);
            async move {
                let policy = if i % 2 == 0 { "manual" } else { "auto" };
                let b = &bases[i % REPLICAS..];
                call(
                    client,
                    b,
                    root,
                    M::PUT,
                    &format!("/v1/secrets/fleet/{policy}/{i}"),
                    Some(json!({"data": {"pw": "initial", "user": "app"},
                                "options": {"rotation_policy_id": format!("rot_{policy}")}})),
                    201,
                )
                .await;
            }
        })
        .buffer_unordered(12)
        .collect::<Vec<()>>()
        .await;
    let seed_secs = seeded.elapsed().as_secs_f64();

    // Both forced rotations while replicas are killed in turn.
    let forced_at = Instant::now();
    let pool = sqlx::PgPool::connect(&db).await.expect("pool");
    let mut rotations = Vec::new();
    // The manual half in chunks of 250 paths, each chunk retried on the next replica until one
    // answers: a retry returns the rotations already pending, it never opens a second
    // (SPEC §4 rule 8). One transaction of 5,000 would rarely outlive the kills.
    let manual: Vec<String> = (0..secrets)
        .step_by(2)
        .map(|i| format!("fleet/manual/{i}"))
        .collect();
    for (n, chunk) in manual.chunks(250).enumerate() {
        let (client, bases, root) = (client.clone(), bases.clone(), root.clone());
        let body = json!({ "secret_paths": chunk });
        rotations.push(tokio::spawn(async move {
            let rotated = bases[n % REPLICAS..]
                .iter()
                .chain(bases[..n % REPLICAS].iter())
                .cloned()
                .collect::<Vec<_>>();
            call(
                &client,
                &rotated,
                &root,
                M::POST,
                "/v1/rotation/policies/rot_manual/rotate",
                Some(body),
                200,
            )
            .await;
        }));
    }
    // The auto half in chunks too. A chunk's rotations are opened in one transaction or not
    // at all, so a chunk whose replica died mid-request is retried (elsewhere) only if none of
    // them was opened, as an operator would: retrying blindly would rotate again what the
    // first request had already completed. What a dead replica opened but did not write is
    // taken over by the others' schedulers after the auto-write lease.
    let auto: Vec<String> = (1..secrets)
        .step_by(2)
        .map(|i| format!("fleet/auto/{i}"))
        .collect();
    for (n, chunk) in auto.chunks(250).enumerate() {
        let (client, bases, root, pool) =
            (client.clone(), bases.clone(), root.clone(), pool.clone());
        let chunk = chunk.to_vec();
        rotations.push(tokio::spawn(async move {
            let mut at = n % REPLICAS;
            loop {
                let r = client
                    .post(format!("{}/v1/rotation/policies/rot_auto/rotate", bases[at]))
                    .bearer_auth(&root)
                    .json(&json!({ "secret_paths": chunk }))
                    .send()
                    .await;
                if matches!(&r, Ok(r) if r.status().as_u16() == 200) {
                    return;
                }
                let opened: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM rotation_history WHERE policy_id = 'rot_auto' AND secret_path = ANY($1)",
                )
                .bind(&chunk)
                .fetch_one(&pool)
                .await
                .expect("history");
                if opened > 0 {
                    return;
                }
                at = (at + 1) % bases.len();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    let half = secrets as i64 / 2;
    let done = |pool: sqlx::PgPool| async move {
        let due: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT path) FROM events WHERE event_type = 'rotation.due'",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
        let completed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rotation_history WHERE policy_id = 'rot_auto' AND status = 'success'")
            .fetch_one(&pool).await.unwrap_or(0);
        let pending_deliveries: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
                .fetch_one(&pool)
                .await
                .unwrap_or(1);
        (due, completed, pending_deliveries)
    };
    let mut kills = 0usize;
    let deadline = Instant::now() + Duration::from_secs(if full() { 1800 } else { 300 });
    let mut next = 0usize;
    loop {
        let (due, completed, pending) = done(pool.clone()).await;
        let rotations_answered = rotations.iter().all(|h| h.is_finished());
        if due >= half && completed >= half && pending == 0 && rotations_answered && kills >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not done: due={due} completed={completed} pending_deliveries={pending} kills={kills}"
        );
        // Let the replica work a few seconds, then kill it and start it again.
        let wait_until = Instant::now() + KILL_EVERY;
        while Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(srv) = replicas[next].take() {
            srv.kill9().await;
            kills += 1;
            let d = dir.path().join(ports[next].to_string());
            replicas[next] = Some(Server::start(&d, &[], ports[next], &env, &root).await);
        }
        next = (next + 1) % REPLICAS;
    }
    let total_secs = forced_at.elapsed().as_secs_f64();
    for h in rotations {
        h.await.expect("forced rotation task");
    }

    // Exactly once per secret.
    let per_path = |event: &'static str| {
        let pool = pool.clone();
        async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT path, COUNT(*) FROM events WHERE event_type = $1 GROUP BY path",
            )
            .bind(event)
            .fetch_all(&pool)
            .await
            .expect("events");
            rows.into_iter().collect::<HashMap<String, i64>>()
        }
    };
    let due = per_path("rotation.due").await;
    let completed = per_path("rotation.completed").await;
    let due_bad = (0..secrets)
        .step_by(2)
        .filter(|i| due.get(&format!("fleet/manual/{i}")) != Some(&1))
        .count();
    let completed_bad = (1..secrets)
        .step_by(2)
        .filter(|i| completed.get(&format!("fleet/auto/{i}")) != Some(&1))
        .count();
    let stuck: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rotation_history WHERE policy_id = 'rot_auto' AND status <> 'success'")
        .fetch_one(&pool).await.expect("history");
    // The slowest auto rotation, opened to completed (a dead replica's are taken over after the lease).
    let slowest_us: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(completed_at - started_at), 0) FROM rotation_history WHERE policy_id = 'rot_auto'")
        .fetch_one(&pool).await.expect("history");
    // Every event received, each delivery always with one event id.
    let events: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT id FROM events")
        .fetch_all(&pool)
        .await
        .expect("events")
        .into_iter()
        .collect();
    let got = rx.received();
    let seen: HashSet<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    let undelivered = events.iter().filter(|e| !seen.contains(e.as_str())).count();
    let mut by_delivery: HashMap<&str, HashSet<&str>> = HashMap::new();
    for r in &got {
        let ids = by_delivery.entry(r.delivery_id.as_str()).or_default();
        ids.insert(r.event_id.as_str());
        ids.insert(r.body["event_id"].as_str().unwrap_or(""));
    }
    let changed = by_delivery.values().filter(|s| s.len() > 1).count();
    let duplicates = got.len() - seen.len();
    let lost = due_bad + completed_bad + stuck as usize + undelivered + changed;
    println!(
        "chaos: fault=replica-kill store=postgres replicas={REPLICAS} secrets={secrets} seeded_in_s={seed_secs:.0} kills={kills} kill_every_s={} \
         done_in_s={total_secs:.0} events={} receipts={} duplicate_receipts={duplicates} slowest_auto_rotation_ms={} \
         lease_s={AUTO_WRITE_LEASE_SECS} lost={lost} [rotation.due_not_once={due_bad} completed_not_once={completed_bad} \
         auto_not_success={stuck} undelivered={undelivered} changed_event_ids={changed}]",
        KILL_EVERY.as_secs(),
        events.len(),
        got.len(),
        slowest_us / 1000
    );
    assert_eq!(lost, 0);
    for srv in replicas.into_iter().flatten() {
        let (ok, out) = srv.stop().await;
        assert!(ok, "a replica did not stop cleanly:\n{out}");
    }
}
