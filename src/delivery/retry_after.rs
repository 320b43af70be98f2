//! `Retry-After` of a webhook receiver's 429/503 (RFC 9110 §10.2.3): delay-seconds (`120`) or
//! an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`). A date is measured against the response's
//! own `Date` header when it has one, so a receiver whose clock differs from ours still gets
//! the wait it asked for; otherwise against our clock. A date already past means no extra wait.

use std::time::SystemTime;

/// Seconds the receiver asked us to wait, or None when the header is absent or unreadable.
pub fn seconds(retry_after: Option<&str>, date: Option<&str>, now: SystemTime) -> Option<u64> {
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let base = date
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .unwrap_or(now);
    Some(at.duration_since(base).map_or(0, |d| d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::seconds;
    use std::time::{Duration, SystemTime};

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn delay_seconds() {
        assert_eq!(seconds(Some("120"), None, at(0)), Some(120));
        assert_eq!(seconds(Some(" 0 "), None, at(0)), Some(0));
        assert_eq!(seconds(None, None, at(0)), None);
        assert_eq!(seconds(Some("soon"), None, at(0)), None);
        assert_eq!(seconds(Some("-5"), None, at(0)), None);
    }

    #[test]
    fn http_date_against_the_response_date() {
        // 1445412480 = Wed, 21 Oct 2015 07:28:00 GMT
        let ra = Some("Wed, 21 Oct 2015 07:30:00 GMT");
        let date = Some("Wed, 21 Oct 2015 07:28:00 GMT");
        // Our clock is far off; the receiver's own Date decides.
        assert_eq!(seconds(ra, date, at(0)), Some(120));
        // Without a Date header, our clock.
        assert_eq!(seconds(ra, None, at(1_445_412_480 + 20)), Some(100));
        // Already past: no extra wait.
        assert_eq!(seconds(ra, None, at(1_445_412_480 + 500)), Some(0));
        // The obsolete RFC 850 form is an HTTP-date too.
        assert_eq!(
            seconds(Some("Wednesday, 21-Oct-15 07:29:00 GMT"), date, at(0)),
            Some(60)
        );
    }
}
