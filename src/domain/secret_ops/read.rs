//! Reading a secret: the current or an explicit version, from the read cache or the store,
//! opened under the key ring with the binding format the version was sealed with.

use crate::clock::to_micros;
use crate::crypto::binding::SecretSlot;
use crate::crypto::envelope::{open, OpenError, Sealed};
use crate::domain::path::SecretPath;
use crate::store::{SecretRow, VersionRow};

use super::*;

impl Ops<'_> {
    /// Reads the current version, or version `n`.
    pub async fn read(
        &self,
        tenant: &str,
        path: &SecretPath,
        n: Option<i64>,
    ) -> Result<ReadSecret, SecretError> {
        let Some(entry) = self
            .store
            .read_secret_cached(tenant, path.as_str(), n)
            .await?
        else {
            // Not found: ask again without the cache, to tell which part is missing.
            let (secret, v) = self.read_uncached(tenant, path, n).await?;
            return self.open_version(tenant, path, n, &secret, &v).await;
        };
        match self.open_version(tenant, path, n, &entry.0, &entry.1).await {
            // A cached copy may predate a change made behind this process's back (an
            // operator's SQL on SQLite, or a notification still on its way): read again.
            Err(SecretError::Undecryptable(_)) => {
                let (secret, v) = self.read_uncached(tenant, path, n).await?;
                self.open_version(tenant, path, n, &secret, &v).await
            }
            other => other,
        }
    }

    /// Checks a version may still be read, and decrypts it.
    pub(super) async fn open_version(
        &self,
        tenant: &str,
        path: &SecretPath,
        n: Option<i64>,
        secret: &SecretRow,
        v: &VersionRow,
    ) -> Result<ReadSecret, SecretError> {
        if n.is_some_and(|n| n != secret.current_version)
            && v.readable_until.is_some_and(|u| u <= to_micros(self.now))
        {
            return Err(SecretError::VersionExpired {
                path: path.to_string(),
                version: v.version,
            });
        }
        let sealed = Sealed {
            ciphertext: v.ciphertext.clone(),
            wrapped_key: v.wrapped_key.clone(),
            key_id: v.key_id.clone(),
        };
        let slot = SecretSlot {
            tenant,
            secret_id: &secret.id,
            path: path.as_str(),
            version: v.version,
        };
        // A binding format this binary does not know opens nothing.
        let binding = slot.binding(v.aad_version).ok_or(OpenError::Integrity);
        if self.keys.get(&sealed.key_id).is_none() {
            // Sealed under a key version rotated in by another process: load it.
            if let Err(e) = crate::domain::master_keys::refresh(self.store, self.keys).await {
                tracing::error!(error.cause = %e, "could not load the master key versions");
            }
        }
        let value = binding
            .and_then(|b| open(self.keys, &b, &sealed))
            .map_err(|e| {
                match &e {
                    OpenError::UnknownKey(id) => {
                        tracing::error!(secret.path = %path, key_id = %id, "value sealed by a master key that is not loaded")
                    }
                    OpenError::Integrity => {
                        tracing::error!(secret.path = %path, version = v.version, aad_version = v.aad_version, "stored value failed its integrity check (altered, or copied from another row)")
                    }
                }
                SecretError::Undecryptable(path.to_string())
            })?;
        Ok(ReadSecret {
            version: v.version,
            version_created_at: v.created_at,
            readable_until: v.readable_until,
            secret: secret.clone(),
            value,
        })
    }

    /// The secret and version straight from the store, with the error naming what is missing.
    pub(super) async fn read_uncached(
        &self,
        tenant: &str,
        path: &SecretPath,
        n: Option<i64>,
    ) -> Result<(SecretRow, VersionRow), SecretError> {
        let not_found = || SecretError::NotFound(path.to_string());
        match n {
            None => self
                .store
                .get_secret_with_current(tenant, path.as_str())
                .await?
                .ok_or_else(not_found),
            Some(n) => {
                let secret = self
                    .store
                    .get_secret(tenant, path.as_str())
                    .await?
                    .ok_or_else(not_found)?;
                let v = self
                    .store
                    .get_version(&secret.id, n)
                    .await?
                    .ok_or_else(|| SecretError::VersionNotFound {
                        path: path.to_string(),
                        version: n,
                    })?;
                Ok((secret, v))
            }
        }
    }
}
