//! The one authorization decision (SPEC §2, ARCHITECTURE rule 10). Every operation names the
//! scope it needs and what it reaches; [`decide`] says yes, or why not. Handlers never check
//! scopes or path rules themselves: they call the request guard, which calls this and audits
//! every refusal.
//!
//! Path rules are whole segments (`team-a` covers `team-a` and `team-a/…`, never
//! `team-a-prod/…`) and bind admins too: an admin with rules is an admin of those paths only.

use super::scope::Scope;
use super::token::Caller;

/// The scope an operation needs.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Exactly this scope (or `admin`, which implies every scope).
    Scope(Scope),
    /// Any one of these.
    AnyOf(&'static [Scope]),
}

impl From<Scope> for Need {
    fn from(s: Scope) -> Self {
        Need::Scope(s)
    }
}

/// What an operation touches, as far as path rules are concerned.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    /// Nothing path-bound, or a result the caller filters to its paths afterwards (lists,
    /// feeds, its own identity).
    Filtered,
    /// The whole tenant (keys, metrics, a webhook without a path filter, a token without
    /// rules): only a caller without path rules.
    Tenant,
    /// One secret path, or a path prefix: it must lie inside the caller's rules.
    Path(&'a str),
    /// Every path of an object (a policy's attached secrets, a token's rules): each must lie
    /// inside the caller's rules. An empty list touches no path.
    Paths(&'a [String]),
    /// Every path that starts with this string (a webhook's `filters.path_prefix`, which
    /// matches by string prefix, SPEC §5): inside only when the prefix starts with `rule/`.
    Prefix(&'a str),
    /// Every path a subscription glob matches (SPEC §10): inside only when the glob's
    /// literal segments before its first wildcard lie inside the rules.
    Glob(&'a super::subscriptions::glob::Glob),
    /// An object owned by one token (a subscription, SPEC §10): only that token, or an
    /// admin without path rules, reaches it.
    OwnedBy(&'a str),
}

impl<'a> Reach<'a> {
    /// The reach of an object scoped by an optional path filter (a webhook's
    /// `filters.path_prefix`): no filter means every path of the tenant.
    pub fn filter(prefix: Option<&'a str>) -> Self {
        prefix.map_or(Reach::Tenant, Reach::Prefix)
    }

    /// The one secret path this reaches, for the audit row of a refusal.
    pub fn path(&self) -> Option<&'a str> {
        match self {
            Reach::Path(p) => Some(p),
            _ => None,
        }
    }

    /// The reach of an object scoped by path rules (a token's): none means the whole tenant.
    pub fn rules(rules: &'a [String]) -> Self {
        if rules.is_empty() {
            Reach::Tenant
        } else {
            Reach::Paths(rules)
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The token lacks the scope (named, `a or b` for several).
    Scope(String),
    /// A path outside the caller's rules.
    Path(String),
    /// A tenant-wide operation asked by a caller with path rules.
    Tenant,
}

/// The decision: scope first, then path rules.
pub fn decide(caller: &Caller, need: Need, reach: Reach<'_>) -> Result<(), Denial> {
    let granted = match need {
        Need::Scope(s) => caller.has(s),
        Need::AnyOf(list) => list.iter().any(|s| caller.has(*s)),
    };
    if !granted {
        return Err(Denial::Scope(match need {
            Need::Scope(s) => s.as_str().to_string(),
            Need::AnyOf(list) => list
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        }));
    }
    within(caller, reach)
}

/// The path half of [`decide`]: whether `reach` lies inside the caller's path rules.
pub fn within(caller: &Caller, reach: Reach<'_>) -> Result<(), Denial> {
    let rules = &caller.path_prefixes;
    if let Reach::OwnedBy(owner) = reach {
        return match caller.token_id == owner || (rules.is_empty() && caller.has(Scope::Admin)) {
            true => Ok(()),
            false => Err(Denial::Tenant),
        };
    }
    if rules.is_empty() {
        return Ok(());
    }
    match reach {
        Reach::Filtered => Ok(()),
        Reach::Tenant => Err(Denial::Tenant),
        Reach::Path(p) if !inside(rules, p) => Err(Denial::Path(p.to_string())),
        Reach::Path(_) => Ok(()),
        Reach::Paths(ps) => paths_within(rules, ps),
        Reach::Prefix(p) if !prefix_inside(rules, p) => Err(Denial::Path(p.to_string())),
        Reach::Prefix(_) => Ok(()),
        Reach::Glob(g) if !g.inside(rules) => Err(Denial::Path(g.as_str().to_string())),
        Reach::Glob(_) => Ok(()),
        Reach::OwnedBy(_) => Ok(()),
    }
}

/// Every one of `paths` inside `rules` (no rules allow everything), else the first outside.
pub fn paths_within(rules: &[String], paths: &[String]) -> Result<(), Denial> {
    match paths.iter().find(|p| !inside(rules, p)) {
        Some(p) => Err(Denial::Path(p.clone())),
        None => Ok(()),
    }
}

/// True when every path starting with the string `prefix` lies inside one of `rules`.
pub fn prefix_inside(rules: &[String], prefix: &str) -> bool {
    rules.is_empty()
        || rules.iter().any(|r| {
            prefix
                .strip_prefix(rule_base(r))
                .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// True when `path` (a secret path, or a rule or filter made of whole segments) lies inside
/// one of `rules`; no rules allow everything.
pub fn inside(rules: &[String], path: &str) -> bool {
    rules.is_empty() || rules.iter().any(|r| covers(r, path))
}

/// True when the rule `rule` covers `path` by whole segments.
pub fn covers(rule: &str, path: &str) -> bool {
    let base = rule_base(rule);
    let path = path.strip_suffix('/').unwrap_or(path);
    path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A rule without its trailing `/`.
pub fn rule_base(rule: &str) -> &str {
    rule.strip_suffix('/').unwrap_or(rule)
}

/// The paths a rule covers as SQL bounds: equal to `.0`, or within `[.1, .2)` in byte order.
pub fn rule_bounds(rule: &str) -> (String, String, String) {
    let base = rule_base(rule);
    (
        base.to_string(),
        format!("{base}/"),
        super::path::prefix_upper_bound(&format!("{base}/")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scope::ScopeSet;

    fn caller(scopes: &[&str], rules: &[&str]) -> Caller {
        Caller {
            token_id: "tok_x".into(),
            identity_id: "sa:x".into(),
            identity_type: crate::store::IdentityType::ServiceAccount,
            tenant_id: "tnt_default".into(),
            scopes: ScopeSet::parse(scopes.iter().copied()).unwrap(),
            path_prefixes: rules.iter().map(|r| r.to_string()).collect(),
            expires_at: None,
            recheck_token: false,
        }
    }

    #[test]
    fn rules_are_whole_segments() {
        for rule in ["team-a", "team-a/"] {
            assert!(covers(rule, "team-a"));
            assert!(covers(rule, "team-a/db"));
            assert!(covers(rule, "team-a/x/y"));
            assert!(covers(rule, "team-a/"));
            assert!(!covers(rule, "team-a-prod/db"));
            assert!(!covers(rule, "team-ab"));
            assert!(!covers(rule, "team"));
        }
        assert!(covers("a/b", "a/b/c"));
        assert!(!covers("a/b", "a"));
    }

    #[test]
    fn admins_with_rules_are_bound_by_them() {
        let admin = caller(&["admin"], &["team-a/"]);
        assert_eq!(
            decide(&admin, Scope::Admin.into(), Reach::Path("team-a/x")),
            Ok(())
        );
        assert_eq!(
            decide(&admin, Scope::Admin.into(), Reach::Path("team-b/x")),
            Err(Denial::Path("team-b/x".into()))
        );
        assert_eq!(
            decide(&admin, Scope::Admin.into(), Reach::Tenant),
            Err(Denial::Tenant)
        );
        assert_eq!(decide(&admin, Scope::Admin.into(), Reach::Filtered), Ok(()));
        let attached = vec!["team-a/x".to_string(), "team-b/y".to_string()];
        assert_eq!(
            decide(&admin, Scope::Admin.into(), Reach::Paths(&attached)),
            Err(Denial::Path("team-b/y".into()))
        );
        assert_eq!(
            decide(&admin, Scope::Admin.into(), Reach::Paths(&[])),
            Ok(())
        );
        let root = caller(&["admin"], &[]);
        assert_eq!(decide(&root, Scope::Admin.into(), Reach::Tenant), Ok(()));
    }

    #[test]
    fn a_string_prefix_is_inside_only_below_a_rule() {
        let rules = vec!["team-a".to_string()];
        assert!(prefix_inside(&rules, "team-a/"));
        assert!(prefix_inside(&rules, "team-a/ap"));
        assert!(
            !prefix_inside(&rules, "team-a"),
            "would match team-a-prod/…"
        );
        assert!(!prefix_inside(&rules, "team"));
        assert!(!prefix_inside(&rules, "team-b/"));
        assert!(prefix_inside(&[], ""));
    }

    #[test]
    fn scope_is_checked_before_paths() {
        let reader = caller(&["secrets:read"], &["team-a"]);
        assert_eq!(
            decide(&reader, Scope::SecretsWrite.into(), Reach::Path("team-b/x")),
            Err(Denial::Scope("secrets:write".into()))
        );
        assert_eq!(
            decide(
                &reader,
                Need::AnyOf(&[Scope::Admin, Scope::AuditRead]),
                Reach::Filtered
            ),
            Err(Denial::Scope("admin or audit:read".into()))
        );
    }

    #[test]
    fn bounds_select_exactly_the_rule() {
        let (eq, lo, hi) = rule_bounds("team-a/");
        assert_eq!(eq, "team-a");
        for p in ["team-a/x", "team-a/x/y"] {
            assert!(p >= lo.as_str() && p < hi.as_str());
        }
        for p in ["team-a-prod/x", "team-ab", "team-a"] {
            assert!(!(p >= lo.as_str() && p < hi.as_str()));
        }
    }
}
