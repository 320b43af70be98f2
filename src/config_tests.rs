//! Unit tests of configuration loading and validation.

use super::*;

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_url("postgres://u:hunter2@db:5432/x"),
        "postgres://u:[redacted]@db:5432/x"
    );
    assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
}

#[test]
fn bad_metrics_listen_names_the_setting() {
    let raw = RawConfig {
        metrics_listen: Some("port 9210".into()),
        ..RawConfig::default()
    };
    let err = Config::validate(raw, false).err().unwrap();
    assert_eq!(err.env, "SCAIVAULT_METRICS_LISTEN");
    let ok = Config::validate(
        RawConfig {
            metrics_listen: Some("127.0.0.1:9210".into()),
            rate_limit_reads: 3,
            ..RawConfig::default()
        },
        false,
    )
    .unwrap();
    assert_eq!(ok.metrics_listen, Some("127.0.0.1:9210".parse().unwrap()));
    assert_eq!(ok.rate_limits.reads, 3);
    assert_eq!(ok.rate_limits.writes, 0);
}

#[test]
fn webhook_target_lists() {
    let c = Config::validate(RawConfig::default(), false).unwrap();
    let rules = c.webhook_targets();
    for denied in [
        "127.0.0.1",
        "10.0.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "0.0.0.0",
    ] {
        assert!(!rules.permits(denied.parse().unwrap()), "{denied}");
    }
    assert!(c.webhook_allow_cidrs.is_empty());
    let dev = Config::validate(RawConfig::default(), true).unwrap();
    assert!(dev.webhook_targets().permits("127.0.0.1".parse().unwrap()));
    assert!(dev.webhook_targets().permits("::1".parse().unwrap()));
    assert!(!dev.webhook_targets().permits("10.0.0.1".parse().unwrap()));
    // An explicit (even empty) allow list replaces the --dev default.
    let closed = Config::validate(
        RawConfig {
            webhook_allow_cidrs: Some(String::new()),
            ..RawConfig::default()
        },
        true,
    )
    .unwrap();
    assert!(closed.webhook_allow_cidrs.is_empty());
    let err = Config::validate(
        RawConfig {
            webhook_allow_cidrs: Some("10.0.0.0/40".into()),
            ..RawConfig::default()
        },
        false,
    )
    .err()
    .unwrap();
    assert_eq!(err.env, "SCAIVAULT_WEBHOOK_ALLOW_CIDRS");
}

#[test]
fn bad_duration_names_the_setting() {
    let raw = RawConfig {
        scheduler_tick: "10 seconds".into(),
        ..RawConfig::default()
    };
    let err = Config::validate(raw, false).err().unwrap();
    assert_eq!(err.env, "SCAIVAULT_SCHEDULER_TICK");
    assert!(err
        .to_string()
        .starts_with("invalid setting SCAIVAULT_SCHEDULER_TICK"));
}

#[test]
fn audit_durability_is_durable_unless_set_to_process() {
    let c = Config::validate(RawConfig::default(), false).unwrap();
    assert_eq!(c.audit_durability, AuditDurability::Durable);
    let raw = |v: &str| RawConfig {
        audit_durability: Some(v.into()),
        ..RawConfig::default()
    };
    let c = Config::validate(raw("process"), false).unwrap();
    assert_eq!(c.audit_durability, AuditDurability::Process);
    let err = Config::validate(raw("fast"), false).err().unwrap();
    assert_eq!(err.env, "SCAIVAULT_AUDIT_DURABILITY");
}
