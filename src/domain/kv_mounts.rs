//! Vault KV v2 mounts (SPEC §12): which names a mount may take and the path prefix each serves.
//! `secret` is built in and serves the tenant's root; any other mount `name` serves `name/`.

/// The built-in mount, present in every tenant.
pub const ROOT_MOUNT: &str = "secret";

/// Names a mount cannot take: Vault's own system paths and the native API's first segments
/// (a mount there would be shadowed by, or shadow, a native route).
const RESERVED: &[&str] = &[
    "sys",
    "auth",
    "identity",
    "cubbyhole",
    "secrets",
    "rotation",
    "webhooks",
    "events",
    "audit",
    "health",
    "version",
    "openapi.json",
    "metrics",
    "secret-policies",
    "subscriptions",
];

/// Why a mount name was refused.
#[derive(Debug, thiserror::Error)]
pub enum MountNameError {
    #[error("a mount name is one path segment of 1 to 64 characters of [A-Za-z0-9._-]")]
    Shape,
    #[error("'{0}' is reserved and cannot be a mount")]
    Reserved(String),
}

/// A mount name as sent (`kv`, `kv/`), checked.
pub fn parse_name(raw: &str) -> Result<&str, MountNameError> {
    let name = raw.strip_suffix('/').unwrap_or(raw);
    let shape_ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !shape_ok {
        return Err(MountNameError::Shape);
    }
    if name == ROOT_MOUNT || RESERVED.contains(&name) {
        return Err(MountNameError::Reserved(name.to_string()));
    }
    Ok(name)
}

/// The native path prefix a mount serves: `""` for `secret`, `name/` for the others.
pub fn prefix_of(name: &str) -> String {
    if name == ROOT_MOUNT {
        String::new()
    } else {
        format!("{name}/")
    }
}

/// True when `name` is reserved for the native API or Vault's system paths (requests there
/// never reach a mount).
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_segment_and_never_reserved() {
        assert_eq!(parse_name("kv").unwrap(), "kv");
        assert_eq!(parse_name("kvv2_read-1/").unwrap(), "kvv2_read-1");
        for bad in ["", "/", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(
                matches!(parse_name(bad), Err(MountNameError::Shape)),
                "{bad}"
            );
        }
        for reserved in ["secret", "sys", "secrets", "audit", "auth/"] {
            assert!(
                matches!(parse_name(reserved), Err(MountNameError::Reserved(_))),
                "{reserved}"
            );
        }
    }

    #[test]
    fn the_root_mount_serves_the_whole_tenant() {
        assert_eq!(prefix_of("secret"), "");
        assert_eq!(prefix_of("kv"), "kv/");
    }
}
