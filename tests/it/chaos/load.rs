//! The mixed load a fault runs under: writers PUT fresh paths, readers GET seeded secrets with
//! their own request ids, and (set up by [`super::target`]) webhook deliveries and scheduled
//! auto-rotations run inside the server. Every answer is counted; every 2xx is recorded with
//! what it acknowledged, so the checks afterwards can prove none of it was lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The secrets readers read (seeded by [`super::target::Target::prepare`]).
pub const READ_PATHS: usize = 4;

/// What the load saw and what the server acknowledged.
#[derive(Default)]
pub struct Ledger {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub unavailable: AtomicU64,
    /// 503 or 507 without a `Retry-After` header.
    pub no_retry_after: AtomicU64,
    /// Connection refused/reset or a client timeout (the process was down, or hung).
    pub conn_errors: AtomicU64,
    /// Any other status, by status code, with one sample body each.
    pub other: Mutex<BTreeMap<u16, (u64, String)>>,
    /// Acknowledged writes: (path, the value `n` written).
    pub writes: Mutex<Vec<(String, u64)>>,
    /// Request ids of acknowledged reads.
    pub reads: Mutex<Vec<String>>,
    /// When each 2xx write and read completed (for recovery times).
    ok_writes_at: Mutex<Vec<Instant>>,
    ok_reads_at: Mutex<Vec<Instant>>,
    /// The slowest answer that was not a 2xx (a 503 must not hang), of a write and of a read.
    pub slowest_failure: Mutex<Duration>,
    pub slowest_failed_write: Mutex<Duration>,
    pub slowest_failed_read: Mutex<Duration>,
    /// The slowest 2xx answer.
    pub slowest_ok: Mutex<Duration>,
    /// 507 answers (full disk), counted inside `unavailable` too.
    pub insufficient_storage: AtomicU64,
}

impl Ledger {
    pub fn other_count(&self) -> u64 {
        self.other.lock().unwrap().values().map(|(n, _)| n).sum()
    }

    /// Time from `since` until both a write and a read had succeeded after it.
    pub fn recovered_after(&self, since: Instant) -> Option<Duration> {
        let first =
            |v: &Mutex<Vec<Instant>>| v.lock().unwrap().iter().find(|t| **t >= since).copied();
        let w = first(&self.ok_writes_at)?;
        let r = first(&self.ok_reads_at)?;
        Some(w.max(r) - since)
    }

    /// How long after `since` both a write and a read were answered 2xx again, waiting (5 ms
    /// polls) at most `limit`; fails with `what()` if they were not.
    pub async fn recovery_after(
        &self,
        since: Instant,
        limit: Duration,
        what: impl Fn() -> String,
    ) -> Duration {
        let deadline = since + limit;
        loop {
            if let Some(d) = self.recovered_after(since) {
                return d;
            }
            assert!(Instant::now() < deadline, "{}", what());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until `n` more writes and `n` more reads than now were answered 2xx.
    pub async fn more_ok(&self, what: &str, n: usize) {
        let (w0, r0) = self.ok_count();
        wait_until(what, || {
            let (w, r) = self.ok_count();
            w >= w0 + n && r >= r0 + n
        })
        .await;
    }

    /// 2xx writes and reads completed so far.
    pub fn ok_count(&self) -> (usize, usize) {
        (
            self.ok_writes_at.lock().unwrap().len(),
            self.ok_reads_at.lock().unwrap().len(),
        )
    }

    fn record(&self, write: bool, status: u16, retry_after: bool, body: &str, took: Duration) {
        match status {
            200..=299 => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                let mut slowest = self.slowest_ok.lock().unwrap();
                *slowest = (*slowest).max(took);
                return;
            }
            503 | 507 => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
                if status == 507 {
                    self.insufficient_storage.fetch_add(1, Ordering::Relaxed);
                }
                if !retry_after {
                    self.no_retry_after.fetch_add(1, Ordering::Relaxed);
                }
            }
            s => {
                let mut other = self.other.lock().unwrap();
                let e = other
                    .entry(s)
                    .or_insert((0, body.chars().take(300).collect()));
                e.0 += 1;
            }
        }
        let mut slowest = self.slowest_failure.lock().unwrap();
        *slowest = (*slowest).max(took);
        let mut of_kind = if write {
            self.slowest_failed_write.lock().unwrap()
        } else {
            self.slowest_failed_read.lock().unwrap()
        };
        *of_kind = (*of_kind).max(took);
    }
}

/// Polls `cond` every 5 ms for at most 60 s.
pub async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The load's knobs.
#[derive(Clone)]
pub struct LoadSpec {
    pub writers: usize,
    pub readers: usize,
    /// Bytes of filler in each written value (the full-disk fault writes big values).
    pub value_bytes: usize,
    /// A prefix that keeps request ids and paths of separate runs apart.
    pub tag: String,
    /// The tag of the target whose seeded secrets the readers read (usually `tag`).
    pub reads_from: String,
}

impl LoadSpec {
    /// The faults' usual load: 4 writers of small values and 4 readers of this tag's secrets.
    pub fn mixed(tag: &str) -> LoadSpec {
        LoadSpec {
            writers: 4,
            readers: 4,
            value_bytes: 16,
            tag: tag.to_string(),
            reads_from: tag.to_string(),
        }
    }
}

/// A running load; [`Load::stop`] ends it.
pub struct Load {
    pub ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Pause after a refused connection or a 503, so a dead server is not spun on; short enough
/// that recovery is seen within tens of milliseconds.
const PACE: Duration = Duration::from_millis(20);

impl Load {
    pub fn start(base: &str, token: &str, spec: &LoadSpec) -> Load {
        let ledger = Arc::new(Ledger::default());
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .expect("http client");
        let worker = || Worker {
            ledger: ledger.clone(),
            stop: stop.clone(),
            client: client.clone(),
            base: base.to_string(),
            token: token.to_string(),
        };
        let mut tasks = Vec::new();
        let filler = "x".repeat(spec.value_bytes);
        for w in 0..spec.writers {
            let worker = worker();
            let (tag, filler) = (spec.tag.clone(), filler.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !worker.stop.load(Ordering::Relaxed) {
                    n += 1;
                    let path = format!("chaos/{tag}/w{w}/{n}");
                    let body = serde_json::json!({"data": {"n": n, "filler": filler}});
                    let ok = worker
                        .send(reqwest::Method::PUT, &path, Some(&body), None)
                        .await;
                    if ok {
                        worker.ledger.writes.lock().unwrap().push((path, n));
                        worker
                            .ledger
                            .ok_writes_at
                            .lock()
                            .unwrap()
                            .push(Instant::now());
                    }
                }
            }));
        }
        for r in 0..spec.readers {
            let worker = worker();
            let (tag, from) = (spec.tag.clone(), spec.reads_from.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !worker.stop.load(Ordering::Relaxed) {
                    n += 1;
                    let rid = format!("chaos-{tag}-r{r}-{n}");
                    let path = format!("chaos/{from}/read/{}", n as usize % READ_PATHS);
                    let ok = worker
                        .send(reqwest::Method::GET, &path, None, Some(&rid))
                        .await;
                    if ok {
                        worker.ledger.reads.lock().unwrap().push(rid);
                        worker
                            .ledger
                            .ok_reads_at
                            .lock()
                            .unwrap()
                            .push(Instant::now());
                    }
                }
            }));
        }
        Load {
            ledger,
            stop,
            tasks,
        }
    }

    /// Stops every worker and waits for their last requests.
    pub async fn stop(self) -> Arc<Ledger> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        self.ledger
    }
}

struct Worker {
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Worker {
    /// Sends one request, records the answer; true on a 2xx.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        request_id: Option<&str>,
    ) -> bool {
        let write = method == reqwest::Method::PUT;
        let mut rb = self
            .client
            .request(method, format!("{}/v1/secrets/{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        if let Some(rid) = request_id {
            rb = rb.header("x-request-id", rid);
        }
        self.ledger.sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        match rb.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let retry_after = res.headers().contains_key("retry-after");
                let text = res.text().await.unwrap_or_default();
                self.ledger
                    .record(write, status, retry_after, &text, started.elapsed());
                if (200..300).contains(&status) {
                    return true;
                }
            }
            Err(_) => {
                self.ledger.conn_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(PACE).await;
        false
    }
}
