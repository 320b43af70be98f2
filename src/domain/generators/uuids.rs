//! The `uuid` generator: version 4 (random) or 7 (time-ordered), built by the `uuid` crate
//! from bytes of the OS CSPRNG and, for version 7, the server's clock.

use super::config::Config;
use chrono::{DateTime, Utc};
use rand::RngCore;

/// Which UUID version to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuidVersion {
    V4,
    V7,
}

/// The `uuid` generator's config: `version` 4 (default) or 7.
pub fn parse(c: &mut Config<'_>) -> Option<UuidVersion> {
    match c.one_of_int("version", &[4, 7])? {
        7 => Some(UuidVersion::V7),
        _ => Some(UuidVersion::V4),
    }
}

/// A fresh UUID in its hyphenated lower-case form.
pub fn generate(version: UuidVersion, now: DateTime<Utc>) -> String {
    let mut rng = super::random::os_rng();
    let id = match version {
        UuidVersion::V4 => {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            uuid::Builder::from_random_bytes(bytes).into_uuid()
        }
        UuidVersion::V7 => {
            let mut bytes = [0u8; 10];
            rng.fill_bytes(&mut bytes);
            let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
            uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
        }
    };
    id.hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_right_and_values_differ() {
        let now = Utc::now();
        for (v, n) in [(UuidVersion::V4, 4), (UuidVersion::V7, 7)] {
            let a = uuid::Uuid::parse_str(&generate(v, now)).expect("parses");
            let b = uuid::Uuid::parse_str(&generate(v, now)).expect("parses");
            assert_eq!(a.get_version_num(), n);
            assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
            assert_ne!(a, b);
        }
        let v7 = uuid::Uuid::parse_str(&generate(UuidVersion::V7, now)).expect("parses");
        let (secs, _) = v7.get_timestamp().expect("v7 has a time").to_unix();
        assert_eq!(secs as i64, now.timestamp());
    }
}
