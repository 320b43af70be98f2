//! Secret paths: parsed once at the edge so the rest of the code only sees valid ones.

use std::fmt;

/// Last segments that name sub-resources and so can't end a secret path.
pub const RESERVED_LAST_SEGMENTS: [&str; 3] = ["versions", "metadata", "restore"];

const MAX_LEN: usize = 512;
const MAX_SEGMENTS: usize = 10;

/// A valid secret path such as `integrations/salesforce/oauth`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretPath(String);

/// Why a path was refused; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PathError(pub String);

impl SecretPath {
    /// Parses a path, refusing reserved names.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        validate_shape(input, false)?;
        let last = input.rsplit('/').next().unwrap_or(input);
        if RESERVED_LAST_SEGMENTS.contains(&last) {
            return Err(PathError(format!(
                "'{last}' is reserved and cannot be the last segment of a secret path"
            )));
        }
        if input == "batch" {
            return Err(PathError("'batch' is a reserved top-level name".into()));
        }
        Ok(Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when this path starts with `prefix` (plain string prefix, as filters and rules use).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a path prefix (a filter or a token rule): path characters, may end with `/`.
pub fn validate_prefix(input: &str) -> Result<(), PathError> {
    if input.is_empty() {
        return Ok(());
    }
    let trimmed = input.strip_suffix('/').unwrap_or(input);
    if trimmed.is_empty() {
        return Err(PathError("a path prefix cannot be just '/'".into()));
    }
    // Allow a partial last segment (`apps/web-`), so check characters only.
    if input.len() > MAX_LEN || input.starts_with('/') || input.contains("//") {
        return Err(PathError(format!("'{input}' is not a valid path prefix")));
    }
    if !input.bytes().all(|b| is_segment_byte(b) || b == b'/') {
        return Err(PathError(format!(
            "'{input}' is not a valid path prefix: use letters, digits, '.', '_', '-' and '/'"
        )));
    }
    Ok(())
}

/// The exclusive upper bound of all paths that start with `prefix` in byte order.
/// Every path byte sorts below `~`, so `[prefix, prefix + "~")` is exactly the prefix range.
pub fn prefix_upper_bound(prefix: &str) -> String {
    format!("{prefix}~")
}

fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'
}

fn validate_shape(input: &str, _allow_trailing: bool) -> Result<(), PathError> {
    if input.is_empty() || input.len() > MAX_LEN {
        return Err(PathError(format!(
            "a secret path must be 1 to {MAX_LEN} characters"
        )));
    }
    if input.starts_with('/') || input.ends_with('/') {
        return Err(PathError(
            "a secret path cannot start or end with '/'".into(),
        ));
    }
    let segments: Vec<&str> = input.split('/').collect();
    if segments.len() > MAX_SEGMENTS {
        return Err(PathError(format!(
            "a secret path has at most {MAX_SEGMENTS} segments"
        )));
    }
    for seg in segments {
        if seg.is_empty() {
            return Err(PathError(
                "a secret path cannot contain an empty segment".into(),
            ));
        }
        if seg == "." || seg == ".." {
            return Err(PathError(
                "a secret path cannot contain '.' or '..' segments".into(),
            ));
        }
        if !seg.bytes().all(is_segment_byte) {
            return Err(PathError(format!(
                "segment '{seg}' may only contain letters, digits, '.', '_' and '-'"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_paths() {
        for ok in [
            "a",
            "integrations/salesforce/oauth",
            "A.b_c-d/9",
            "a/b/c/d/e/f/g/h/i/j",
        ] {
            assert!(SecretPath::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_invalid_paths() {
        let long = "a".repeat(513);
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "a/./b",
            "a/../b",
            "..",
            "a b",
            "a/b$",
            "a/versions",
            "x/metadata",
            "restore",
            "batch",
            "a/b/c/d/e/f/g/h/i/j/k",
            long.as_str(),
            "ä",
        ] {
            assert!(SecretPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_bound_covers_exactly_the_prefix() {
        let upper = prefix_upper_bound("ab");
        for inside in ["ab", "ab/c", "abz", "ab-x", "ab_9"] {
            assert!(inside >= "ab" && inside < upper.as_str(), "{inside}");
        }
        for outside in ["ac", "b", "aa/zz"] {
            assert!(!(outside >= "ab" && outside < upper.as_str()), "{outside}");
        }
    }
}
