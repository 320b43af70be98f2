//! API durations: `<int><unit>` with unit `s`, `m`, `h`, `d`, `w`, and comma-separated lists of them.

use std::fmt;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form `<int><unit>`.
    #[error("'{0}' is not a duration: use <integer><unit> with unit s, m, h, d or w (e.g. 90d)")]
    Malformed(String),
    /// Zero or negative.
    #[error("'{0}' must be greater than zero")]
    NotPositive(String),
}

/// A parsed positive duration that remembers how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDuration {
    text: String,
    seconds: i64,
}

impl ApiDuration {
    /// Parses `90d`, `48h`, `30s`, `5m`, `2w`.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let s = input.trim();
        let malformed = || DurationError::Malformed(input.to_string());
        let unit = s.chars().last().ok_or_else(malformed)?;
        let mult: i64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(malformed()),
        };
        let digits = &s[..s.len() - 1];
        let negative = digits.starts_with('-');
        let body = digits.strip_prefix('-').unwrap_or(digits);
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let n: i64 = body.parse().map_err(|_| malformed())?;
        if negative || n == 0 {
            return Err(DurationError::NotPositive(input.to_string()));
        }
        let seconds = n.checked_mul(mult).ok_or_else(malformed)?;
        // Keep far below the range where timestamp arithmetic could overflow (~100 years).
        if seconds > 100 * 366 * 86_400 {
            return Err(malformed());
        }
        Ok(Self {
            text: s.to_string(),
            seconds,
        })
    }

    /// The length in whole seconds.
    pub fn seconds(&self) -> i64 {
        self.seconds
    }

    /// As a chrono duration.
    pub fn as_chrono(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.seconds)
    }

    /// As a std duration.
    pub fn as_std(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds.unsigned_abs())
    }

    /// The string as the client wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ApiDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a comma-separated list such as `30d,7d,1d`; the list is returned in the written order.
pub fn parse_list(input: &str) -> Result<Vec<ApiDuration>, DurationError> {
    if input.trim().is_empty() {
        return Err(DurationError::Malformed(input.to_string()));
    }
    input.split(',').map(ApiDuration::parse).collect()
}

/// Renders a list back into its canonical comma-separated string.
pub fn list_to_string(list: &[ApiDuration]) -> String {
    list.iter()
        .map(ApiDuration::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(ApiDuration::parse("30s").unwrap().seconds(), 30);
        assert_eq!(ApiDuration::parse("5m").unwrap().seconds(), 300);
        assert_eq!(ApiDuration::parse("48h").unwrap().seconds(), 172_800);
        assert_eq!(ApiDuration::parse("90d").unwrap().seconds(), 7_776_000);
        assert_eq!(ApiDuration::parse("2w").unwrap().seconds(), 1_209_600);
    }

    #[test]
    fn refuses_malformed_and_non_positive() {
        for bad in ["", "d", "10", "1.5h", "1y", "h1", "1 h", "+1h", "ten d"] {
            assert!(
                matches!(ApiDuration::parse(bad), Err(DurationError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            ApiDuration::parse("0s"),
            Err(DurationError::NotPositive("0s".into()))
        );
        assert_eq!(
            ApiDuration::parse("-5m"),
            Err(DurationError::NotPositive("-5m".into()))
        );
    }

    #[test]
    fn lists_keep_order_and_text() {
        let l = parse_list("30d,7d,1d").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(list_to_string(&l), "30d,7d,1d");
        assert!(parse_list("7d,,1d").is_err());
    }
}
