//! Where webhooks may be sent: URL rules (https unless allowed), and a resolver that refuses
//! any name resolving to a denied network (cloud metadata by default). Redirects are never followed.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Validates a webhook URL as given by a client.
pub fn validate_url(raw: &str, allow_http: bool, deny: &[IpNet]) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_string())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(
                "must use https:// (set SCAIVAULT_WEBHOOK_ALLOW_HTTP=true to allow http://)".into(),
            )
        }
        _ => return Err("must be an https:// URL".into()),
    }
    let host = url
        .host_str()
        .ok_or_else(|| "must name a host".to_string())?;
    if let Some(ip) = literal_ip(host) {
        if is_denied(ip, deny) {
            return Err("points at a denied network (SCAIVAULT_WEBHOOK_DENY_CIDRS)".into());
        }
    }
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    Ok(url)
}

/// The host as an IP address, if it is one (IPv6 hosts come bracketed).
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

pub fn is_denied(ip: IpAddr, deny: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    deny.iter().any(|n| n.contains(&ip))
}

/// Resolves names and fails if ANY address is in a denied network.
struct GuardedResolver {
    deny: Arc<Vec<IpNet>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let deny = self.deny.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| is_denied(a.ip(), &deny)) {
                return Err(format!("{} resolves to a denied network", name.as_str()).into());
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The HTTP client used for every delivery.
pub fn client(timeout: Duration, deny: Vec<IpNet>) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("ScaiVault-Webhook/1.0")
        .dns_resolver(Arc::new(GuardedResolver {
            deny: Arc::new(deny),
        }))
        .pool_max_idle_per_host(32)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny() -> Vec<IpNet> {
        vec![
            "169.254.0.0/16".parse().unwrap(),
            "fe80::/10".parse().unwrap(),
        ]
    }

    #[test]
    fn url_rules() {
        assert!(validate_url("https://example.com/hook", false, &deny()).is_ok());
        assert!(validate_url("http://example.com/hook", false, &deny()).is_err());
        assert!(validate_url("http://example.com/hook", true, &deny()).is_ok());
        assert!(validate_url("ftp://example.com", true, &deny()).is_err());
        assert!(validate_url("https://169.254.169.254/latest", false, &deny()).is_err());
        assert!(validate_url("https://[fe80::1]/x", false, &deny()).is_err());
        assert!(validate_url("not a url", true, &deny()).is_err());
    }

    #[test]
    fn mapped_v4_is_checked() {
        assert!(is_denied("::ffff:169.254.1.1".parse().unwrap(), &deny()));
    }
}
