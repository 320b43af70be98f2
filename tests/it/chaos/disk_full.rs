//! Fault 3: the disk fills up. The SQLite store lives on a small tmpfs mounted for the test
//! (needs root; without it the test says so and passes without running), a ballast file takes
//! most of the room, and the mixed load (values of 8 KiB) fills the rest. Writes and audited
//! reads then answer 507 `insufficient_storage` or 503 with `Retry-After`, the log says the
//! disk is full, nothing acknowledged is lost, the file stays intact, and once the ballast is
//! deleted service resumes by itself.

use super::check::check;
use super::load::wait_until;
use super::load::{Load, LoadSpec};
use super::report::{assert_clean, full, line};
use super::target::{server_env, Target, HOOK_SECRET};
use crate::binary::{free_port, master_key, root_token, Server};
use crate::common::receiver::Receiver;
use crate::common::StoreKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Size of the tmpfs the database lives on.
const MOUNT_MIB: u64 = 64;
/// Room left free by the ballast when the load starts.
const LEFT_FREE_MIB: u64 = 3;

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn new() -> Result<Mount, String> {
        let dir = tempfile::Builder::new()
            .prefix("scaivault-chaos-disk-")
            .tempdir_in("/var/tmp")
            .map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={MOUNT_MIB}m,mode=0700")])
            .args(["tmpfs", &dir.path().display().to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Mount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Free bytes on the file system holding `p` (from `df`, no extra dependency).
fn free_bytes(p: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(p)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df output")
}

/// Fills `file` until only `leave` bytes remain free.
fn write_ballast(file: &Path, leave: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).expect("ballast");
    let chunk = vec![0u8; 1 << 20];
    while free_bytes(file.parent().expect("folder")) > leave + chunk.len() as u64 {
        f.write_all(&chunk).expect("ballast write");
    }
    f.sync_all().expect("ballast sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "mounts a tmpfs (root); run by scripts/chaos.sh"]
async fn disk_full_then_freed() {
    let root_user = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if !root_user {
        println!("chaos: fault=disk-full skipped: mounting a tmpfs needs root");
        return;
    }
    let mount = match Mount::new() {
        Ok(m) => m,
        Err(e) => {
            println!("chaos: fault=disk-full skipped: cannot mount a tmpfs: {e}");
            return;
        }
    };
    let cycles = if full() { 3 } else { 1 };
    let hold = if full() {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(1)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let db_file: PathBuf = mount.path().join("sv.db");
    let db = format!("sqlite://{}", db_file.display());
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = server_env(&db, &key, &root);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let rx = Receiver::start(HOOK_SECRET).await;
    let t = Target::new(&srv.base, &root, "disk");
    t.prepare(&rx).await;
    let load = Load::start(
        &srv.base,
        &root,
        &LoadSpec {
            value_bytes: 8 * 1024,
            ..LoadSpec::mixed("disk")
        },
    );
    let ballast = mount.path().join("ballast");
    let mut worst = Duration::ZERO;
    for cycle in 0..cycles {
        write_ballast(&ballast, LEFT_FREE_MIB << 20);
        let full_at = Instant::now();
        let u0 = load.ledger.unavailable.load(Ordering::Relaxed);
        wait_until("writes refused on the full disk", || {
            load.ledger.unavailable.load(Ordering::Relaxed) >= u0 + 20 && full_at.elapsed() >= hold
        })
        .await;
        // What reads get while the disk is full, over a fresh connection.
        let (s, b) = t
            .call(reqwest::Method::GET, "/v1/secrets/chaos/disk/read/0", None)
            .await;
        println!("chaos: disk-full cycle {cycle}: an audited read answers {s} {b}");
        std::fs::remove_file(&ballast).expect("remove ballast");
        let freed_at = Instant::now();
        let took = load
            .ledger
            .recovery_after(freed_at, Duration::from_secs(30), || {
                format!(
                    "no recovery after space was freed (cycle {cycle}):\n{}",
                    tail(&srv.output())
                )
            })
            .await;
        worst = worst.max(took);
        load.ledger.more_ok("load after space came back", 20).await;
    }
    let ledger = load.stop().await;
    let log = srv.output();
    let says_why = log.contains("full") || log.contains("No space");
    for cause in causes(&log) {
        println!("chaos: disk-full: logged {cause}");
    }
    let v = check(&t, &db, StoreKind::Sqlite, &ledger, &rx).await;
    let text = line("disk-full", "sqlite", cycles, &ledger, worst, &v);
    assert_clean(&text, &ledger, &v);
    assert!(
        ledger.unavailable.load(Ordering::Relaxed) > 0,
        "the full disk was not seen: {text}"
    );
    assert!(
        says_why,
        "the log does not say the disk is full:\n{}",
        tail(&log)
    );
    // Reads too: an audited read whose row cannot be written is told the disk is full (507),
    // not that the store is unreachable (it was 503 before the audit writer kept the cause).
    assert_eq!(
        ledger.insufficient_storage.load(Ordering::Relaxed),
        ledger.unavailable.load(Ordering::Relaxed),
        "every refusal on a full disk is 507 insufficient_storage: {text}"
    );
    let (ok, out) = srv.stop().await;
    assert!(ok, "scaivault did not stop cleanly:\n{}", tail(&out));
    drop(mount);
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The distinct (message, cause) pairs of the server's warnings and errors.
fn causes(log: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for l in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        let f = &v;
        if let Some(msg) = f["message"].as_str() {
            let cause = f["error.cause"].as_str().unwrap_or("");
            *seen
                .entry(format!(
                    "{}: {msg} ({cause})",
                    v["level"].as_str().unwrap_or("")
                ))
                .or_default() += 1;
        }
    }
    seen.into_iter().map(|(k, n)| format!("{n}x {k}")).collect()
}
