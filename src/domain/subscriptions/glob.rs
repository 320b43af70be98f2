//! Path globs of subscriptions (SPEC §10): segments separated by `/`, `*` matches exactly one
//! segment, `**` any number of segments (none included); every other segment is literal.
//! A wildcard is a whole segment: `db-*` is refused rather than silently never matching.

use crate::domain::access;
use std::fmt;

/// Longest glob accepted, in bytes (a path is at most 512).
const MAX_LEN: usize = 512;
/// Most segments in a glob (a path has at most 10; `**` segments come on top).
const MAX_SEGMENTS: usize = 20;

/// One segment of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: zero or more segments.
    Any,
}

/// A parsed glob such as `integrations/*/oauth` or `team-a/**`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    segs: Vec<Seg>,
}

/// Why a glob was refused (400 `invalid_glob`); safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GlobError(pub String);

impl Glob {
    pub fn parse(input: &str) -> Result<Self, GlobError> {
        if input.is_empty() {
            return Err(GlobError("a glob cannot be empty".into()));
        }
        if input.len() > MAX_LEN {
            return Err(GlobError(format!("a glob is at most {MAX_LEN} bytes")));
        }
        if input.starts_with('/') || input.ends_with('/') {
            return Err(GlobError("a glob cannot start or end with '/'".into()));
        }
        let mut segs = Vec::new();
        for s in input.split('/') {
            segs.push(match s {
                "" => return Err(GlobError("a glob cannot have an empty segment".into())),
                "*" => Seg::One,
                "**" => Seg::Any,
                "." | ".." => {
                    return Err(GlobError("'.' and '..' are not path segments".into()));
                }
                s if s.contains('*') => {
                    return Err(GlobError(
                        "'*' and '**' must be whole segments (as in 'team-a/*/db')".into(),
                    ))
                }
                s if !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
                {
                    return Err(GlobError(
                        "segments are made of letters, digits, '.', '_', '-', or are '*' or '**'"
                            .into(),
                    ))
                }
                s => Seg::Literal(s.to_string()),
            });
        }
        if segs.len() > MAX_SEGMENTS {
            return Err(GlobError(format!(
                "a glob has at most {MAX_SEGMENTS} segments"
            )));
        }
        Ok(Self {
            source: input.to_string(),
            segs,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when `path` matches the whole glob.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        match_from(&self.segs, &parts)
    }

    /// The literal segments before the first wildcard, joined by `/` (empty when the glob
    /// starts with one): every path the glob matches lies under it.
    pub fn literal_prefix(&self) -> String {
        self.segs
            .iter()
            .map_while(|s| match s {
                Seg::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// True when every path this glob matches lies inside `rules` (path rules of whole
    /// segments; none allow everything).
    pub fn inside(&self, rules: &[String]) -> bool {
        if rules.is_empty() {
            return true;
        }
        let prefix = self.literal_prefix();
        !prefix.is_empty() && access::inside(rules, &prefix)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Whether `segs` match all of `parts`: a table of "segs[i..] matches parts[j..]" filled
/// from the end, so time is segments × parts whatever the `**`s (no backtracking blow-up).
fn match_from(segs: &[Seg], parts: &[&str]) -> bool {
    let m = parts.len();
    let mut next = vec![false; m + 1];
    next[m] = true;
    for seg in segs.iter().rev() {
        let mut cur = vec![false; m + 1];
        for j in (0..=m).rev() {
            cur[j] = match seg {
                Seg::Any => next[j] || (j < m && cur[j + 1]),
                Seg::One => j < m && next[j + 1],
                Seg::Literal(l) => j < m && l == parts[j] && next[j + 1],
            };
        }
        next = cur;
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glob semantics table (SPEC §10): glob, path, matches.
    const TABLE: &[(&str, &str, bool)] = &[
        ("a/b/c", "a/b/c", true),
        ("a/b/c", "a/b", false),
        ("a/b/c", "a/b/c/d", false),
        ("a/*/c", "a/b/c", true),
        ("a/*/c", "a/c", false),
        ("a/*/c", "a/b/x/c", false),
        ("a/*", "a/b", true),
        ("a/*", "a", false),
        ("a/*", "a/b/c", false),
        ("a/**", "a", true),
        ("a/**", "a/b", true),
        ("a/**", "a/b/c/d", true),
        ("a/**", "ab/c", false),
        ("**", "x", true),
        ("**", "x/y/z", true),
        ("**/oauth", "oauth", true),
        ("**/oauth", "a/b/oauth", true),
        ("**/oauth", "a/b/oauth/x", false),
        ("a/**/c", "a/c", true),
        ("a/**/c", "a/b/c", true),
        ("a/**/c", "a/b/b/c", true),
        ("a/**/c", "a/b/c/d", false),
        ("*/*", "a/b", true),
        ("*/*", "a", false),
        ("a/**/b/**/c", "a/x/b/y/z/c", true),
        ("a/**/b/**/c", "a/x/c", false),
        ("team-a", "team-a-prod", false),
        ("a.b", "aXb", false),
    ];

    #[test]
    fn semantics_table() {
        for (glob, path, want) in TABLE {
            let g = Glob::parse(glob).expect(glob);
            assert_eq!(g.matches(path), *want, "{glob} vs {path}");
        }
    }

    #[test]
    fn bad_globs_are_refused() {
        for bad in [
            "", "/a", "a/", "a//b", "a/./b", "a/../b", "db-*", "***", "a/b*", "a b", "a/é",
        ] {
            assert!(Glob::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Glob::parse("a/".repeat(20).trim_end_matches('/')).is_ok());
        assert!(Glob::parse("a/".repeat(21).trim_end_matches('/')).is_err());
    }

    #[test]
    fn containment_in_path_rules() {
        let rules = vec!["team-a".to_string()];
        let inside = |g: &str| Glob::parse(g).expect(g).inside(&rules);
        assert!(inside("team-a/**"));
        assert!(inside("team-a"));
        assert!(inside("team-a/*/db"));
        assert!(!inside("**"));
        assert!(!inside("*/db"));
        assert!(!inside("team-a-prod/**"));
        assert!(Glob::parse("**").expect("glob").inside(&[]));
        let narrow = vec!["team-a/db".to_string()];
        assert!(!Glob::parse("team-a/*").expect("glob").inside(&narrow));
        assert!(Glob::parse("team-a/db/**").expect("glob").inside(&narrow));
    }
}
