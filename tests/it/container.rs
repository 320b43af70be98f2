//! The container files, checked without a Docker engine (none runs on the build machines):
//! the Dockerfile's build step is README's release build command and `Cargo.lock` is current
//! (so `--locked` succeeds); the runtime stage copies the binary from where that build puts it,
//! runs as a non-root user with a `/data` volume; its ENV is a valid configuration
//! (`config check`); its HEALTHCHECK, ENTRYPOINT and CMD are commands the binary has; the binary
//! needs no library a slim Debian lacks; `docker-compose.yml` parses and wires PostgreSQL 15.

use crate::binary::{command, master_key, EXIT_DEADLINE};
use std::collections::HashMap;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(name)).unwrap()
}

/// Dockerfile instructions as (stage index, KEYWORD, rest), continuation lines joined.
fn instructions() -> Vec<(usize, String, String)> {
    let text = read("Dockerfile").replace("\\\n", " ");
    let mut stage = 0;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kw, rest) = line.split_once(' ').unwrap_or((line, ""));
        let kw = kw.to_uppercase();
        if kw == "FROM" {
            stage += 1;
        }
        out.push((
            stage,
            kw,
            rest.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    out
}

fn get<'a>(ins: &'a [(usize, String, String)], stage: usize, kw: &str) -> Vec<&'a str> {
    ins.iter()
        .filter(|(s, k, _)| *s == stage && k == kw)
        .map(|(_, _, r)| r.as_str())
        .collect()
}

/// A JSON-array (exec form) instruction argument as its words.
fn exec_form(rest: &str) -> Vec<String> {
    serde_json::from_str(rest).unwrap_or_else(|e| panic!("not exec form: {rest}: {e}"))
}

async fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(EXIT_DEADLINE, command(dir.path(), args, env).output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn dockerfile_builds_with_the_readme_command() {
    let ins = instructions();
    let stages = ins.iter().filter(|(_, k, _)| k == "FROM").count();
    assert_eq!(stages, 2, "expected a build stage and a runtime stage");
    let builds: Vec<&str> = get(&ins, 1, "RUN");
    assert_eq!(builds.len(), 1, "one build step: {builds:?}");
    let readme = read("README.md");
    let readme_builds: Vec<&str> = readme
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cargo build --release"))
        .collect();
    assert!(
        !readme_builds.is_empty(),
        "README has no release build command"
    );
    for r in &readme_builds {
        assert_eq!(*r, builds[0], "README and Dockerfile build differently");
    }
    // `--locked` fails on a stale Cargo.lock: check it is current, without building.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Cargo.lock is not current: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The runtime stage copies the binary from where that build leaves it.
    let workdir = get(&ins, 1, "WORKDIR");
    assert_eq!(workdir.len(), 1);
    let copy = get(&ins, 2, "COPY");
    let expected = format!(
        "--from=build {}/target/release/scaivault /usr/local/bin/scaivault",
        workdir[0]
    );
    assert!(copy.contains(&expected.as_str()), "{copy:?} vs {expected}");
    assert!(ins[0].2.ends_with(" AS build"), "{:?}", ins[0]);
    // Nothing the build needs is kept out of the build context.
    let ignore = read(".dockerignore");
    for needed in [
        "src",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "migrations",
        "tests",
    ] {
        assert!(
            !ignore.lines().any(|l| l.trim_start_matches('/') == needed),
            ".dockerignore drops {needed}"
        );
    }
}

#[tokio::test]
async fn runtime_stage_is_consistent_with_the_binary() {
    let ins = instructions();
    let user = get(&ins, 2, "USER");
    assert_eq!(user.len(), 1);
    assert!(
        !user[0].starts_with("root") && !user[0].starts_with("0"),
        "runs as root: {user:?}"
    );
    let setup = get(&ins, 2, "RUN")[0];
    assert!(setup.contains("--gid 10001 scaivault") && setup.contains("--uid 10001 --gid 10001"));
    assert_eq!(user[0], "10001:10001");
    assert_eq!(get(&ins, 2, "VOLUME"), ["/data"]);
    // The image's ENV is a valid configuration (plus a master key, which the operator gives).
    let env_line = get(&ins, 2, "ENV").join(" ");
    let mut env: HashMap<String, String> = env_line
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(env["SCAIVAULT_LISTEN"], "0.0.0.0:8210");
    assert!(env["SCAIVAULT_DATABASE_URL"].starts_with("sqlite:///data/"));
    env.insert("SCAIVAULT_MASTER_KEY".into(), master_key());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (code, out) = run(&["config", "check"], &env).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("listen = \"0.0.0.0:8210\"  # env SCAIVAULT_LISTEN"),
        "{out}"
    );
    // ENTRYPOINT + CMD and the HEALTHCHECK are commands the binary has.
    let entry = exec_form(get(&ins, 2, "ENTRYPOINT")[0]);
    let cmd = exec_form(get(&ins, 2, "CMD")[0]);
    assert_eq!(entry, ["scaivault"]);
    assert_eq!(cmd, ["serve"]);
    let health = get(&ins, 2, "HEALTHCHECK")[0];
    let (_, probe) = health.split_once("CMD ").unwrap();
    let probe = exec_form(probe);
    assert_eq!(probe[0], "scaivault");
    for sub in [&cmd[..], &probe[1..]] {
        let mut args: Vec<&str> = sub.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, out) = run(&args, &[]).await;
        assert_eq!(code, Some(0), "scaivault {args:?}: {out}");
    }
    // With nothing listening, the health check fails (so Docker marks the container unhealthy).
    let port = crate::binary::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let (code, out) = run(
        &probe[1..].iter().map(String::as_str).collect::<Vec<_>>(),
        &[("SCAIVAULT_LISTEN", listen.as_str())],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("did not answer"), "{out}");
}

/// The binary links only libraries every Debian (slim) image has.
#[test]
fn binary_needs_only_base_libraries() {
    let Ok(out) = std::process::Command::new("ldd")
        .arg(crate::binary::BIN)
        .output()
    else {
        return; // no ldd here: nothing to check
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let base = [
        "linux-vdso",
        "libgcc_s",
        "libm",
        "libc",
        "ld-linux",
        "libpthread",
        "libdl",
        "librt",
    ];
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lib = line.trim_start_matches("/lib64/");
        assert!(
            base.iter().any(|b| lib.starts_with(b)),
            "links a library debian:bookworm-slim may lack: {line}"
        );
    }
}

#[test]
fn compose_file_wires_postgres() {
    let doc: serde_yaml::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let svc = &doc["services"];
    assert_eq!(svc["postgres"]["image"].as_str(), Some("postgres:15"));
    assert!(svc["postgres"]["volumes"][0]
        .as_str()
        .unwrap()
        .ends_with(":/var/lib/postgresql/data"));
    let sv = &svc["scaivault"];
    assert_eq!(sv["build"].as_str(), Some("."));
    assert_eq!(
        sv["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    let env = &sv["environment"];
    let db = env["SCAIVAULT_DATABASE_URL"].as_str().unwrap();
    assert!(
        db.starts_with("postgres://") && db.contains("@postgres:5432/"),
        "{db}"
    );
    assert!(
        db.contains("${POSTGRES_PASSWORD"),
        "password not from the environment: {db}"
    );
    let key_file = env["SCAIVAULT_MASTER_KEY_FILE"].as_str().unwrap();
    let secret = key_file.strip_prefix("/run/secrets/").unwrap();
    assert_eq!(sv["secrets"][0].as_str(), Some(secret));
    assert!(doc["secrets"][secret]["file"].as_str().is_some());
    assert!(env["SCAIVAULT_ROOT_TOKEN"]
        .as_str()
        .unwrap()
        .starts_with("${"));
    assert!(sv["volumes"][0].as_str().unwrap().ends_with(":/data"));
    for v in ["pgdata", "scaivault-data"] {
        assert!(doc["volumes"].get(v).is_some(), "volume {v} not declared");
    }
}
