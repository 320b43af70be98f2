//! The secret path parser and the path-prefix validator: no panic; an accepted path renders
//! back to itself, is a valid prefix, and is covered by itself as a path rule (also as SQL
//! bounds); the shape rules (length, segments, characters) hold for every accepted path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::domain::access::{covers, rule_bounds};
use scaivault::domain::path::{validate_prefix, SecretPath, RESERVED_LAST_SEGMENTS};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let prefix_ok = validate_prefix(s).is_ok();
    let Ok(p) = SecretPath::parse(s) else {
        return;
    };
    assert_eq!(p.as_str(), s);
    assert_eq!(p.to_string(), s);
    assert_eq!(SecretPath::parse(&p.to_string()).ok(), Some(p.clone()));
    assert!(prefix_ok, "an accepted path is not a valid prefix: {s:?}");
    assert!(!s.is_empty() && s.len() <= 512);
    let segments: Vec<&str> = s.split('/').collect();
    assert!(segments.len() <= 10);
    for seg in &segments {
        assert!(!seg.is_empty() && *seg != "." && *seg != "..");
        assert!(seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
    }
    let last = segments.last().copied().unwrap_or_default();
    assert!(!RESERVED_LAST_SEGMENTS.contains(&last));
    assert!(covers(s, s) && covers(&format!("{s}/"), s));
    assert!(covers(s, &format!("{s}/x")));
    assert!(!covers(s, &format!("{s}x")));
    let (eq, lo, hi) = rule_bounds(s);
    assert_eq!(eq, s);
    let child = format!("{s}/x");
    assert!(child.as_str() >= lo.as_str() && child.as_str() < hi.as_str());
});
