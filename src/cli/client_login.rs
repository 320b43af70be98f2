//! `scaivault login`: reads a token from standard input (hidden on a terminal) or `--token-file`,
//! checks it with `GET /v1/auth/whoami`, and saves address and token in the client's login file
//! (0600). The token never appears in arguments, so it never sits in shell history or `ps`.

use super::client_args::LoginArgs;
use super::output::line;
use crate::client::settings::{ClientSettings, DEFAULT_ADDR};
use crate::client::ApiClient;
use secrecy::{ExposeSecret, SecretString};
use std::io::{BufRead, IsTerminal};

pub(super) async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let current = ClientSettings::load()?;
    let addr = args
        .addr
        .or_else(|| {
            std::env::var("SCAIVAULT_ADDR")
                .ok()
                .filter(|a| !a.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_ADDR.to_string());
    let token = read_token(&args.token_file)?;
    let settings = ClientSettings {
        addr: addr.trim_end_matches('/').to_string(),
        token: Some(token.clone()),
        ca: args.ca.clone().or(current.ca),
        token_source: "login".into(),
    };
    let client = ApiClient::new(&settings)?;
    let me = client.get(&["auth", "whoami"], &[]).await?;
    let file = ClientSettings::save(&settings.addr, &token, settings.ca.as_deref())?;
    eprintln!("saved to {} (mode 0600)", file.display());
    line(format_args!(
        "logged in to {} as {} (tenant {}, scopes {})",
        settings.addr,
        me["identity_id"].as_str().unwrap_or("?"),
        me["tenant_id"].as_str().unwrap_or("?"),
        me["scopes"]
            .as_array()
            .map(|s| s
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(","))
            .unwrap_or_default()
    ))?;
    Ok(())
}

/// The token from `source` (`-`: standard input, prompted and hidden on a terminal).
fn read_token(source: &str) -> anyhow::Result<SecretString> {
    let text = if source == "-" {
        let stdin = std::io::stdin();
        let tty = stdin.is_terminal();
        if tty {
            eprint!("token: ");
            set_echo(false);
        }
        let mut text = String::new();
        let read = stdin.lock().read_line(&mut text);
        if tty {
            set_echo(true);
            eprintln!();
        }
        read.map_err(|e| anyhow::anyhow!("cannot read the token from standard input: {e}"))?;
        text
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| anyhow::anyhow!("cannot read the token file {source}: {e}"))?
    };
    let token = SecretString::from(text.trim().to_string());
    if token.expose_secret().is_empty() {
        anyhow::bail!(
            "no token given: pipe it in (`scaivault login < token-file`) or type it at the prompt"
        );
    }
    Ok(token)
}

/// Turns the terminal's echo off or on (best effort, through `stty`).
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}
