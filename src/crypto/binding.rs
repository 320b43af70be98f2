//! What a secret version's value is bound to: the AES-GCM associated data of its ciphertext
//! and wrapped data key, by format. Each stored version records the format it was sealed with
//! (`secret_versions.aad_version`); new versions are always sealed with [`AAD_CURRENT`].
//!
//! - v1 (`scaivault:secret:v1`): tenant, path, version. A version copied into a secret that
//!   was deleted and re-created at the same path still opens.
//! - v2 (`scaivault:secret:v2`): tenant, secret id, path, version. It opens only in the row of
//!   the secret it was written for. `scaivault keys rewrap` re-seals v1 rows as v2.

/// The first format: tenant, path and version.
pub const AAD_V1: i64 = 1;
/// Tenant, secret id, path and version.
pub const AAD_V2: i64 = 2;
/// The format new versions are sealed with; older rows are migrated by `keys rewrap`.
pub const AAD_CURRENT: i64 = AAD_V2;

/// The row a secret version's value belongs to.
#[derive(Debug, Clone, Copy)]
pub struct SecretSlot<'a> {
    pub tenant: &'a str,
    pub secret_id: &'a str,
    pub path: &'a str,
    pub version: i64,
}

impl SecretSlot<'_> {
    /// The associated data of format `aad_version`; None for a format this binary does not
    /// know (a damaged row, or one written by a newer release), which must not open.
    pub fn binding(&self, aad_version: i64) -> Option<Vec<u8>> {
        let Self {
            tenant,
            secret_id,
            path,
            version,
        } = self;
        match aad_version {
            AAD_V1 => {
                Some(format!("scaivault:secret:v1\0{tenant}\0{path}\0{version}").into_bytes())
            }
            AAD_V2 => Some(
                format!("scaivault:secret:v2\0{tenant}\0{secret_id}\0{path}\0{version}")
                    .into_bytes(),
            ),
            _ => None,
        }
    }

    /// The associated data new versions are sealed with.
    pub fn current(&self) -> Vec<u8> {
        self.binding(AAD_CURRENT).unwrap_or_else(|| unreachable!())
    }
}

/// The associated data that binds a webhook's signing secret to its row.
pub fn webhook_binding(tenant: &str, webhook_id: &str) -> Vec<u8> {
    format!("scaivault:webhook-secret:v1\0{tenant}\0{webhook_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot<'a>(secret_id: &'a str) -> SecretSlot<'a> {
        SecretSlot {
            tenant: "tnt_a",
            secret_id,
            path: "db/main",
            version: 3,
        }
    }

    #[test]
    fn v1_ignores_the_secret_id_and_v2_binds_it() {
        let (a, b) = (slot("sec_1"), slot("sec_2"));
        assert_eq!(a.binding(AAD_V1), b.binding(AAD_V1));
        assert_ne!(a.binding(AAD_V2), b.binding(AAD_V2));
        assert_ne!(a.binding(AAD_V1), a.binding(AAD_V2));
        assert_eq!(a.current(), a.binding(AAD_V2).unwrap_or_default());
        assert!(a.binding(0).is_none() && a.binding(3).is_none());
    }

    #[test]
    fn v1_is_the_format_rows_were_sealed_with_before() {
        assert_eq!(
            slot("sec_1").binding(AAD_V1).unwrap_or_default(),
            b"scaivault:secret:v1\0tnt_a\0db/main\x003".to_vec()
        );
    }
}
