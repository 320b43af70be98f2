//! `Retry-After` (delay-seconds or an HTTP-date, against the response's `Date`): no panic on
//! any header pair; delay-seconds round-trip; an HTTP-date we format waits exactly the gap to
//! the `Date`, and one already past waits nothing. Input: `retry-after \n date`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::delivery::retry_after::seconds;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (ra, date) = s.split_once('\n').unwrap_or((s, ""));
    let _ = seconds(Some(ra), Some(date), now);
    let _ = seconds(Some(ra), None, now);
    if data.len() >= 16 {
        let n = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
        assert_eq!(seconds(Some(&n.to_string()), None, now), Some(n));
        // Two instants in the HTTP-date range (1970..9999), whole seconds.
        let max = 253_402_300_799u64;
        let a = n % max;
        let b = u64::from_le_bytes(data[8..16].try_into().unwrap_or_default()) % max;
        let t = |x: u64| UNIX_EPOCH + Duration::from_secs(x);
        let (ha, hb) = (httpdate::fmt_http_date(t(a)), httpdate::fmt_http_date(t(b)));
        assert_eq!(
            seconds(Some(&ha), Some(&hb), now),
            Some(a.saturating_sub(b))
        );
        let against_now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert_eq!(
            seconds(Some(&ha), None, now),
            Some(a.saturating_sub(against_now))
        );
    }
});
