//! `scaivault health`: asks a running server's `/v1/health/ready` and succeeds only when it
//! answers ready. It is the container's HEALTHCHECK (a slim image has no curl).

use crate::config::Config;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// Why the server is not (known to be) ready, as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(String);

/// Checks readiness of `url` (a base URL such as `https://127.0.0.1:8210`), or of the server the
/// configuration describes (its listen address on loopback; HTTPS when TLS is configured).
/// `ca` is a PEM file of certificates to trust; without it, a loopback URL accepts the server's
/// certificate unchecked (self-signed is fine there), any other URL needs a trusted one.
pub async fn run(config: &Config, url: Option<&str>, ca: Option<&Path>) -> Result<(), NotReady> {
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => default_base(config),
    };
    let target = format!("{base}/v1/health/ready");
    let parsed = reqwest::Url::parse(&target)
        .map_err(|e| NotReady(format!("--url {base} is not a URL: {e}")))?;
    let mut client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none());
    match ca {
        Some(file) => {
            let pem = std::fs::read(file)
                .map_err(|e| NotReady(format!("--ca: cannot read {}: {e}", file.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
                NotReady(format!("--ca: {} holds no PEM certificate", file.display()))
            })?;
            for cert in certs {
                client = client.add_root_certificate(cert);
            }
        }
        None if is_loopback(&parsed) => client = client.danger_accept_invalid_certs(true),
        None => {}
    }
    let client = client
        .build()
        .map_err(|e| NotReady(format!("cannot set up the HTTP client: {e}")))?;
    let res = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| NotReady(format!("{target} did not answer: {}", chain(&e))))?;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(NotReady(format!(
            "{target} answered {status}: {}",
            body.chars().take(300).collect::<String>()
        )))
    }
}

/// `http(s)://<listen address, wildcard replaced by loopback>`.
fn default_base(config: &Config) -> String {
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    format!("{scheme}://{addr}")
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(h) if h.eq_ignore_ascii_case("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// An error and its causes on one line (reqwest's own message omits the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
