//! `scaivault run --env NAME=PATH#key … -- CMD ARGS`: reads each value from the server, then
//! replaces this process with CMD (exec), its environment plus those values. Signals reach CMD
//! directly and its exit status is the status of `scaivault run`. Values never touch a file or
//! the command line.

use super::client_args::RunArgs;
use super::client_values::{env_binding, value_text, BadArg, EnvBinding};
use crate::client::{ApiClient, ClientSettings};
use serde_json::Value;
use std::collections::HashMap;

/// Exit status when `run` itself fails (before CMD started), as `env` and `nohup` use.
const EXIT_RUN_FAILED: i32 = 125;
/// Exit status when CMD cannot be started.
const EXIT_CANNOT_START: i32 = 126;

/// Runs CMD with the values; the process exit code (CMD's own, once started).
pub(super) async fn run(args: RunArgs) -> i32 {
    let values = match fetch(&args.env).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("scaivault: {e:#}");
            return EXIT_RUN_FAILED;
        }
    };
    let Some((program, rest)) = args.command.split_first() else {
        eprintln!("scaivault: name the command after --");
        return EXIT_RUN_FAILED;
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).envs(values);
    start(cmd, program)
}

/// Replaces this process with `cmd` (Unix); only returns if it cannot be started.
#[cfg(unix)]
fn start(mut cmd: std::process::Command, program: &str) -> i32 {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    eprintln!("scaivault: cannot start {program}: {e}");
    if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        EXIT_CANNOT_START
    }
}

/// Runs `cmd` as a child and returns its exit code (elsewhere).
#[cfg(not(unix))]
fn start(mut cmd: std::process::Command, program: &str) -> i32 {
    match cmd.status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("scaivault: cannot start {program}: {e}");
            EXIT_CANNOT_START
        }
    }
}

/// Each binding's value, reading each secret once.
async fn fetch(bindings: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let bindings: Vec<EnvBinding> = bindings
        .iter()
        .map(|b| env_binding(b))
        .collect::<Result<_, _>>()?;
    let client = ApiClient::new(&ClientSettings::load()?)?;
    let mut secrets: HashMap<String, Value> = HashMap::new();
    let mut values = Vec::with_capacity(bindings.len());
    for b in &bindings {
        if !secrets.contains_key(&b.path) {
            let r = client.get(&["secrets", &b.path], &[]).await?;
            secrets.insert(b.path.clone(), r);
        }
        let data = &secrets[&b.path]["data"];
        let v = data.get(&b.key).ok_or_else(|| {
            BadArg(format!(
                "--env {}: {} has no key '{}'",
                b.name, b.path, b.key
            ))
        })?;
        values.push((b.name.clone(), value_text(v)));
    }
    Ok(values)
}
