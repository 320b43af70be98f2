//! Token scopes; `admin` implies every other scope.

use std::fmt;
use std::str::FromStr;

/// One permission a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    SecretsRead,
    SecretsWrite,
    SecretsDelete,
    SecretsList,
    SecretsRotate,
    AuditRead,
    AuditExport,
    /// See and poll one's own subscriptions (SPEC §10).
    SubscriptionsRead,
    /// Create, change and delete one's own subscriptions.
    SubscriptionsWrite,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::SecretsDelete,
        Scope::SecretsList,
        Scope::SecretsRotate,
        Scope::AuditRead,
        Scope::AuditExport,
        Scope::SubscriptionsRead,
        Scope::SubscriptionsWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SecretsRead => "secrets:read",
            Scope::SecretsWrite => "secrets:write",
            Scope::SecretsDelete => "secrets:delete",
            Scope::SecretsList => "secrets:list",
            Scope::SecretsRotate => "secrets:rotate",
            Scope::AuditRead => "audit:read",
            Scope::AuditExport => "audit:export",
            Scope::SubscriptionsRead => "subscriptions:read",
            Scope::SubscriptionsWrite => "subscriptions:write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|sc| sc.as_str() == s)
            .ok_or_else(|| format!("unknown scope '{s}'"))
    }
}

/// The scopes a token holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.dedup();
        Self(scopes)
    }

    /// Parses names, failing on the first unknown one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut out = Vec::new();
        for n in names {
            let s: Scope = n.trim().parse()?;
            if !out.contains(&s) {
                out.push(s);
            }
        }
        Ok(Self(out))
    }

    /// True when the set grants `scope` (directly or through `admin`).
    pub fn grants(&self, scope: Scope) -> bool {
        self.0.contains(&Scope::Admin) || self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_everything() {
        let admin = ScopeSet::parse(["admin"]).unwrap();
        assert!(Scope::ALL.iter().all(|s| admin.grants(*s)));
        let reader = ScopeSet::parse(["secrets:read"]).unwrap();
        assert!(reader.grants(Scope::SecretsRead));
        assert!(!reader.grants(Scope::SecretsWrite));
        assert!(ScopeSet::parse(["secrets:fly"]).is_err());
    }
}
