//! Records the git commit for `GET /v1/version` (falls back to "unknown" outside a checkout).
fn main() {
    let commit = std::env::var("SCAIVAULT_COMMIT").ok().or_else(|| {
        std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    });
    println!(
        "cargo:rustc-env=SCAIVAULT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=SCAIVAULT_COMMIT");
    // In a linked worktree `.git` is a file and HEAD lives elsewhere: ask git where. A path
    // that does not exist would make cargo rerun this script, and rebuild the crate, every time.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--git-path", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|p| std::path::Path::new(p).exists());
    if let Some(head) = head {
        println!("cargo:rerun-if-changed={head}");
    }
    println!("cargo:rerun-if-changed=migrations");
}
