//! Where webhooks may be sent (SPEC §5a): URL rules (https unless allowed), the deny and allow
//! lists checked on every address (IPv4-mapped, IPv4-compatible and NAT64 forms normalised
//! first), and the delivery client whose resolver refuses a name resolving into a denied
//! network. Redirects are never followed and environment proxies are never used.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Networks never called unless allowed: loopback, unspecified, RFC 1918, CGNAT, link-local,
/// ULA and NAT64 (SPEC §5a).
pub const DEFAULT_DENY_CIDRS: &str = "127.0.0.0/8,::1/128,0.0.0.0/8,::/128,10.0.0.0/8,\
172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,fe80::/10,fc00::/7,64:ff9b::/96";

/// Networks `serve --dev` opens, so a receiver on the same laptop works.
pub const DEV_ALLOW_CIDRS: &str = "127.0.0.0/8,::1/128";

/// The error of an attempt whose target is refused (no connection was tried).
pub const TARGET_DENIED: &str = "target_denied";

/// The error of every other transport failure: refused, reset, timed out, TLS, … are not told
/// apart, so the test endpoint cannot scan ports (the cause goes to the log only).
pub const CONNECTION_FAILED: &str = "connection_failed";

/// Which networks may be called: the allow list beats the deny list.
#[derive(Debug, Clone, Default)]
pub struct TargetRules {
    pub deny: Vec<IpNet>,
    pub allow: Vec<IpNet>,
}

impl TargetRules {
    /// Whether `ip` may be called. An address is checked as given and in its normalised IPv4
    /// form: a deny entry matching either refuses it, an allow entry matching either opens it.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let forms = [ip, normalise(ip)];
        let hit = |list: &[IpNet]| list.iter().any(|n| forms.iter().any(|a| n.contains(a)));
        hit(&self.allow) || !hit(&self.deny)
    }
}

/// The IPv4 address an IPv6 address stands for, if it is IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`, not `::` or `::1`) or NAT64 (`64:ff9b::a.b.c.d`).
pub fn normalise(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    let compatible = s[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback();
    if compatible || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(low);
    }
    ip
}

/// Parses a comma-separated list of CIDR blocks (a bare address counts as one host).
pub fn parse_cidrs(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{s}' is not a CIDR block"))
        })
        .collect()
}

/// The host of a URL as an IP address, if it is one (the URL parser has already turned forms
/// such as `0x7f.1` or `2130706433` into `127.0.0.1`).
/// IPv6 hosts come bracketed.
pub fn host_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// Validates a webhook URL as given by a client. An IP-literal host is checked against the
/// rules now; a name is checked at each attempt, on every address it resolves to.
pub fn validate_url(raw: &str, allow_http: bool, rules: &TargetRules) -> Result<Url, String> {
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
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if let Some(ip) = host_ip(&url) {
        if !rules.permits(ip) {
            return Err(format!(
                "{TARGET_DENIED}: {ip} is in a denied network (SCAIVAULT_WEBHOOK_DENY_CIDRS; \
                 SCAIVAULT_WEBHOOK_ALLOW_CIDRS opens a range)"
            ));
        }
    }
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    Ok(url)
}

/// A name resolved to an address the rules refuse: nothing was connected to.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to a denied network")]
pub struct TargetDenied(String);

/// Whether a delivery error (or anything in its source chain) is a [`TargetDenied`].
pub fn is_target_denied(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<TargetDenied>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Resolves names and fails if ANY address is refused by the rules.
struct GuardedResolver {
    rules: Arc<TargetRules>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| !rules.permits(a.ip())) {
                return Err(TargetDenied(name.as_str().to_string()).into());
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The HTTP client used for every delivery. `HTTP(S)_PROXY`/`ALL_PROXY` are ignored: through a
/// proxy the target's name would be resolved by the proxy, past the resolver's check.
pub fn client(timeout: Duration, rules: TargetRules) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent("ScaiVault-Webhook/1.0")
        .dns_resolver(Arc::new(GuardedResolver {
            rules: Arc::new(rules),
        }))
        .pool_max_idle_per_host(32)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TargetRules {
        TargetRules {
            deny: parse_cidrs(DEFAULT_DENY_CIDRS).unwrap(),
            allow: Vec::new(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn url_rules() {
        let d = defaults();
        assert!(validate_url("https://example.com/hook", false, &d).is_ok());
        assert!(validate_url("http://example.com/hook", false, &d).is_err());
        assert!(validate_url("http://example.com/hook", true, &d).is_ok());
        assert!(validate_url("ftp://example.com", true, &d).is_err());
        assert!(validate_url("https://169.254.169.254/latest", false, &d).is_err());
        assert!(validate_url("https://[fe80::1]/x", false, &d).is_err());
        assert!(validate_url("not a url", true, &d).is_err());
        // Numeric host spellings the URL parser turns into 127.0.0.1.
        for u in ["http://2130706433/", "http://0x7f.1/", "http://127.1/"] {
            let e = validate_url(u, true, &d).unwrap_err();
            assert!(e.starts_with(TARGET_DENIED), "{u}: {e}");
        }
        assert!(validate_url("https://93.184.215.14/x", false, &d).is_ok());
    }

    #[test]
    fn default_list_refuses_internal_ranges() {
        let d = defaults();
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "64:ff9b::8.8.8.8",
        ] {
            assert!(!d.permits(ip(a)), "{a} must be refused");
        }
        for a in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert!(d.permits(ip(a)), "{a} must be allowed");
        }
    }

    #[test]
    fn embedded_v4_forms_are_normalised() {
        let d = defaults();
        for (v6, v4) in [
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("::127.0.0.1", "127.0.0.1"),
            ("64:ff9b::7f00:1", "127.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ] {
            assert_eq!(normalise(ip(v6)), ip(v4));
            assert!(!d.permits(ip(v6)), "{v6} must be refused");
        }
        assert_eq!(normalise(ip("::1")), ip("::1"));
        assert_eq!(normalise(ip("::")), ip("::"));
        assert_eq!(normalise(ip("2001:db8::1")), ip("2001:db8::1"));
        // A mapped public address is public.
        assert!(d.permits(ip("::ffff:8.8.8.8")));
    }

    #[test]
    fn allow_list_beats_deny_list() {
        let mut r = defaults();
        r.allow = parse_cidrs(DEV_ALLOW_CIDRS).unwrap();
        assert!(r.permits(ip("127.0.0.1")));
        assert!(r.permits(ip("::1")));
        assert!(r.permits(ip("::ffff:127.0.0.1")));
        assert!(!r.permits(ip("10.0.0.1")));
        assert!(!r.permits(ip("0.0.0.0")));
        r.allow = parse_cidrs("10.20.0.0/16, 192.168.7.7").unwrap();
        assert!(r.permits(ip("10.20.3.4")) && r.permits(ip("192.168.7.7")));
        assert!(!r.permits(ip("10.21.0.1")) && !r.permits(ip("192.168.7.8")));
        assert!(parse_cidrs("10.0.0.0/33").is_err());
    }
}
