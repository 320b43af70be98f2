//! A throwaway PostgreSQL cluster of a test's own — `initdb` and `pg_ctl` on a free port under
//! a temporary folder in /var/tmp — that the test may restart or kill. The shared server the
//! rest of the suite uses is never touched. Stopped (`-m immediate`) and removed on drop.

use crate::binary::free_port;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The PostgreSQL binaries: `SCAIVAULT_CHAOS_PG_BIN`, else the newest Debian
/// `/usr/lib/postgresql/<version>/bin` (as `scripts/test.sh` finds them).
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("SCAIVAULT_CHAOS_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A running cluster of the test's own.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl Cluster {
    /// `initdb` + `pg_ctl start -w` on a free port; panics with the tool's output on failure.
    pub async fn start() -> Cluster {
        let bin = pg_bin();
        assert!(
            bin.join("initdb").exists(),
            "no initdb under {} (set SCAIVAULT_CHAOS_PG_BIN)",
            bin.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("scaivault-chaos-pg-")
            .tempdir_in("/var/tmp")
            .expect("temp dir for the cluster");
        if running_as_root() {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let ok = std::process::Command::new("chown")
                .args(["postgres:postgres", &dir.path().display().to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "chown of the cluster folder to postgres failed");
        }
        let cluster = Cluster {
            dir,
            bin,
            port: free_port(),
        };
        let data = cluster.data();
        cluster
            .tool(
                "initdb",
                &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            )
            .await;
        cluster.start_again().await;
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// A connection URL for database `db` of this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs one PostgreSQL tool (as the postgres user when we are root); panics on failure.
    async fn tool(&self, name: &str, args: &[&str]) -> String {
        let exe = self.bin.join(name).display().to_string();
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &exe]);
            c
        } else {
            Command::new(&exe)
        };
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.args(args).output())
            .await
            .unwrap_or_else(|_| panic!("{name} {args:?} did not finish within 120 s"))
            .unwrap_or_else(|e| panic!("run {name}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name} {args:?} failed:\n{text}");
        text
    }

    /// `pg_ctl start -w`: returns once the server accepts connections.
    pub async fn start_again(&self) {
        let (data, log) = (
            self.data(),
            self.dir.path().join("log").display().to_string(),
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.tool(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-o", &opts, "start"],
        )
        .await;
        self.wait_accepting().await;
    }

    /// `pg_ctl stop -m MODE -w` (`fast`: clean shutdown; `immediate`: no shutdown checkpoint,
    /// crash recovery at the next start).
    pub async fn stop(&self, mode: &str) {
        self.tool("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "stop"])
            .await;
    }

    /// Polls until a plain connection succeeds (bounded).
    async fn wait_accepting(&self) {
        use sqlx::Connection;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(c) = sqlx::PgConnection::connect(&self.url("postgres")).await {
                let _ = c.close().await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster does not accept connections"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates database `name` and returns its URL.
    pub async fn create_db(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .expect("create database");
        let _ = c.close().await;
        self.url(name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl").display().to_string();
        let data = self.data();
        let mut cmd = if running_as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", &exe]);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
