//! Webhook routing (event-type filter with `*`, `filters.path_prefix` by string prefix,
//! secret type, tags), token path rules by whole segments and subscription globs (the rule
//! line read as a glob): no panic, and each agrees with its plain definition. Input: lines `events-json`, `path_prefix`, `event path`, `rule`,
//! `tags-json`, `event tags` (comma-separated), `event type index`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::domain::access::{covers, inside, prefix_inside, rule_base};
use scaivault::domain::events::{routes_to, NewEvent, ALL_TYPES};
use scaivault::domain::subscriptions::glob::Glob;
use scaivault::store::WebhookRow;
use serde_json::Value;

fn webhook(events: &str, prefix: &str, tags: &str) -> WebhookRow {
    WebhookRow {
        id: "wh_1".into(),
        tenant_id: "tnt_default".into(),
        name: "w".into(),
        url: "https://example.invalid/".into(),
        description: None,
        secret_ciphertext: Vec::new(),
        secret_wrapped_key: Vec::new(),
        secret_key_id: String::new(),
        prev_secret_ciphertext: None,
        prev_secret_wrapped_key: None,
        prev_secret_key_id: None,
        prev_secret_until: None,
        events: events.into(),
        filter_path_prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
        filter_secret_type: None,
        filter_tags: tags.into(),
        enabled: true,
        status: scaivault::store::WebhookHealth::Healthy,
        disabled_reason: None,
        created_at: 0,
        updated_at: 0,
        subscription_id: None,
    }
}

fn strings(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(json).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut f = s.split('\n');
    let mut next = || f.next().unwrap_or_default();
    let (events, prefix, path, rule) = (next(), next(), next(), next());
    let (tags, event_tags, pick) = (next(), next(), next());
    let event_type = ALL_TYPES[pick.len() % ALL_TYPES.len()];
    let w = webhook(events, prefix, tags);
    let event = NewEvent {
        tenant_id: "tnt_default".into(),
        event_type,
        identity_id: None,
        path: (!path.is_empty()).then(|| path.to_string()),
        data: Value::Null,
        request_id: None,
        secret_type: None,
        tags: event_tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        policy_webhook_ids: Vec::new(),
    };
    let types = strings(events);
    let wanted_tags = strings(tags);
    let expected = types.iter().any(|t| t == "*" || t == event_type)
        && (prefix.is_empty() || path.starts_with(prefix) && !path.is_empty())
        && (wanted_tags.is_empty() || wanted_tags.iter().any(|t| event.tags.contains(t)));
    assert_eq!(routes_to(&w, &event), expected);
    let mut off = w.clone();
    off.enabled = false;
    assert!(!routes_to(&off, &event));

    // Path rules: whole segments only.
    let base = rule_base(rule);
    let p = path.strip_suffix('/').unwrap_or(path);
    let by_segments = p == base || p.starts_with(&format!("{base}/"));
    assert_eq!(covers(rule, path), by_segments);
    let rules = vec![rule.to_string()];
    assert_eq!(inside(&rules, path), by_segments);
    assert!(inside(&[], path) && prefix_inside(&[], path));
    if prefix_inside(&rules, path) {
        // Every path starting with this string lies under the rule.
        assert!(covers(rule, &format!("{path}x")));
    }

    // Subscription globs: a glob without wildcards matches exactly itself; `prefix/**`
    // matches what the prefix covers by whole segments; a glob inside the rules only matches
    // paths inside them.
    if let Ok(g) = Glob::parse(rule) {
        if !rule.contains('*') {
            assert_eq!(g.matches(path), path == rule);
        }
        if g.matches(path) && g.inside(&rules) {
            assert!(inside(&rules, path));
        }
    }
    if let Ok(g) = Glob::parse(&format!("{base}/**")) {
        if !base.contains('*') {
            assert_eq!(g.matches(path), path == base || path.starts_with(&format!("{base}/")));
        }
    }
});
