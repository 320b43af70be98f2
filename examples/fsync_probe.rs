//! The disk's durable-write cost, the floor under every durable audit row: how long one 4 KiB
//! `pwrite` + `fdatasync` takes on the filesystem of a folder, and how many such syncs per
//! second one and several threads (each on a file of its own) get.
//! `cargo run --release --example fsync_probe -- DIR [SECONDS]` (`bench/run.sh` runs it in its
//! work folder, which is where the benchmarked SQLite files live).
//!
//! Each thread first writes and syncs a 4 MiB file (so the measured writes rewrite allocated
//! blocks, as a preallocated journal would; appending to a growing file is slower), then
//! rewrites one 4 KiB block after another and `fdatasync`s each.
//!
//! Prints one line per thread count: `RESULT threads=N syncs_per_s=… p50_us=… p99_us=…`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BLOCK: usize = 4096;
const FILE_BYTES: usize = 4 << 20;
const THREAD_COUNTS: [usize; 2] = [1, 4];

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: fsync_probe DIR [SECONDS]");
        std::process::exit(2);
    };
    let secs: f64 = match args.next().map(|s| s.parse()) {
        None => 1.5,
        Some(Ok(s)) if s > 0.0 => s,
        Some(_) => {
            eprintln!("fsync_probe: SECONDS must be a positive number");
            std::process::exit(2);
        }
    };
    for threads in THREAD_COUNTS {
        match probe(&dir, threads, Duration::from_secs_f64(secs)) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("fsync_probe: {}: {e}", dir.display());
                std::process::exit(1);
            }
        }
    }
}

/// Runs `threads` writers for `time`; returns the RESULT line.
fn probe(dir: &Path, threads: usize, time: Duration) -> std::io::Result<String> {
    let files = (0..threads)
        .map(|i| prepared(&dir.join(format!("fsync_probe.{i}"))))
        .collect::<std::io::Result<Vec<File>>>()?;
    let started = Instant::now();
    let handles: Vec<_> = files
        .into_iter()
        .map(|f| std::thread::spawn(move || sync_loop(&f, time)))
        .collect();
    let mut lat: Vec<Duration> = Vec::new();
    for h in handles {
        match h.join() {
            Ok(r) => lat.extend(r?),
            Err(_) => return Err(std::io::Error::other("a probe thread panicked")),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for i in 0..threads {
        let _ = std::fs::remove_file(dir.join(format!("fsync_probe.{i}")));
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    Ok(format!(
        "RESULT threads={threads} syncs_per_s={:.0} p50_us={:.0} p99_us={:.0}",
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    ))
}

/// A file of `FILE_BYTES` written and synced once.
fn prepared(path: &Path) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)?;
    f.write_all_at(&vec![0u8; FILE_BYTES], 0)?;
    f.sync_all()?;
    Ok(f)
}

/// Rewrites and syncs one block after another for `time`; each sync's latency.
fn sync_loop(f: &File, time: Duration) -> std::io::Result<Vec<Duration>> {
    let block = [0x5au8; BLOCK];
    let blocks = FILE_BYTES / BLOCK;
    let end = Instant::now() + time;
    let mut lat = Vec::new();
    let mut i = 0usize;
    while Instant::now() < end {
        let t = Instant::now();
        f.write_all_at(&block, ((i % blocks) * BLOCK) as u64)?;
        f.sync_data()?;
        lat.push(t.elapsed());
        i += 1;
    }
    Ok(lat)
}
