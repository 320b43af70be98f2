//! The duration parser (`90d`, lists `30d,7d,1d`): no panic; whatever parses renders back to
//! the trimmed input and re-parses equal; `<n><unit>` built from the input's number parses
//! to `n * unit` seconds or is refused as out of range; lists round-trip through
//! `list_to_string`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::domain::duration::{list_to_string, parse_list, ApiDuration, DurationError};

const UNITS: [(char, i64); 5] = [
    ('s', 1),
    ('m', 60),
    ('h', 3_600),
    ('d', 86_400),
    ('w', 604_800),
];

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = ApiDuration::parse(s) {
        assert_eq!(d.as_str(), s.trim());
        assert!(d.seconds() > 0 && d.seconds() <= 100 * 366 * 86_400);
        assert_eq!(d.as_std().as_secs() as i64, d.seconds());
        assert_eq!(d.as_chrono().num_seconds(), d.seconds());
        assert_eq!(ApiDuration::parse(&d.to_string()), Ok(d.clone()));
    }
    if let Ok(list) = parse_list(s) {
        let text = list_to_string(&list);
        assert_eq!(parse_list(&text), Ok(list));
    }
    // format → parse: a number taken from the input, with every unit.
    if data.len() >= 8 {
        let n = u64::from_le_bytes(data[..8].try_into().unwrap_or_default()) >> (data[0] % 64);
        for (unit, mult) in UNITS {
            let text = format!("{n}{unit}");
            match ApiDuration::parse(&text) {
                Ok(d) => {
                    assert_eq!(d.seconds() as u64, n * mult as u64);
                    assert_eq!(d.to_string(), text);
                }
                Err(DurationError::NotPositive(_)) => assert_eq!(n, 0),
                Err(DurationError::Malformed(_)) => assert!(
                    (n as i128) * (mult as i128) > 100 * 366 * 86_400,
                    "{text} refused"
                ),
            }
        }
    }
});
