//! Start-up duties: load the master key (or generate one in `--dev`), check it against the
//! database's encryption probe, and make sure someone can log in (root, dev or first-start token).

use crate::audit;
use crate::config::Config;
use crate::crypto::envelope::{open, rewrap_key, seal, Sealed};
use crate::crypto::{KeyRing, MasterKey};
use crate::domain::scope::{Scope, ScopeSet};
use crate::domain::token::{NewToken, DEFAULT_TENANT};
use crate::domain::token_ops::{kind, token_row, TokenSpec};
use crate::server::{InitialToken, StartError};
use crate::store::{Store, StoreError, StoreTx, TokenKind, TokenRow};
use base64::Engine;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::json;
use std::path::Path;

const PROBE_KEY: &str = "encryption_probe";
const PROBE_BINDING: &[u8] = b"scaivault:encryption-probe:v1";
const PROBE_PLAINTEXT: &[u8] = b"scaivault encryption probe";

/// Loads the master key from config, its file, or (in `--dev`) `./data/master.key`.
pub fn load_master_key(config: &Config) -> Result<KeyRing, StartError> {
    let bad = |src: &str, e: crate::crypto::keyring::KeyError| {
        StartError::MasterKey(format!("{src}: {e}"))
    };
    if let Some(text) = &config.master_key {
        let key = MasterKey::from_base64(text.expose_secret())
            .map_err(|e| bad("SCAIVAULT_MASTER_KEY", e))?;
        return Ok(KeyRing::new(key));
    }
    if let Some(file) = &config.master_key_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            StartError::MasterKey(format!(
                "SCAIVAULT_MASTER_KEY_FILE: cannot read {}: {e}",
                file.display()
            ))
        })?;
        let key = MasterKey::from_base64(&text).map_err(|e| bad("SCAIVAULT_MASTER_KEY_FILE", e))?;
        return Ok(KeyRing::new(key));
    }
    if config.dev {
        return dev_key(&config.data_dir.join("master.key")).map(KeyRing::new);
    }
    Err(StartError::MasterKey(
        "no master key: set SCAIVAULT_MASTER_KEY (base64 of 32 bytes, e.g. from \
         `openssl rand -base64 32`) or SCAIVAULT_MASTER_KEY_FILE, or run `scaivault serve --dev`"
            .into(),
    ))
}

/// Reads the dev key file, or creates it (mode 0600) on first start.
fn dev_key(path: &Path) -> Result<MasterKey, StartError> {
    let err = |what: &str, e: std::io::Error| {
        StartError::MasterKey(format!("{what} {}: {e}", path.display()))
    };
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| err("cannot read", e))?;
        return MasterKey::from_base64(&text)
            .map_err(|e| StartError::MasterKey(format!("{}: {e}", path.display())));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err("cannot create the folder of", e))?;
    }
    let (key, text) = MasterKey::generate();
    write_private(path, text.as_bytes()).map_err(|e| err("cannot write", e))?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Creates the probe on first start; afterwards refuses to start with a key that can't open it.
pub async fn check_probe(store: &dyn Store, keys: &KeyRing) -> Result<(), StartError> {
    if store.get_meta(PROBE_KEY).await?.is_none() {
        let sealed = seal(keys, PROBE_BINDING, PROBE_PLAINTEXT);
        let b64 = base64::engine::general_purpose::STANDARD;
        let value = json!({
            "key_id": sealed.key_id,
            "ciphertext": b64.encode(&sealed.ciphertext),
            "wrapped_key": b64.encode(&sealed.wrapped_key),
        })
        .to_string();
        let mut tx = store.begin().await?;
        tx.put_meta_if_absent(PROBE_KEY, &value).await?;
        tx.commit().await?;
    }
    probe_opens(store, keys).await.map_err(|e| {
        StartError::MasterKey(format!(
            "{e}: this database was encrypted with a different master key; \
             start with the key it was created with"
        ))
    })
}

/// True when the stored probe opens with the loaded keys (the readiness check). A probe under
/// a key version this process has not loaded yet (rotated by another process) loads it first.
pub async fn probe_opens(store: &dyn Store, keys: &KeyRing) -> Result<(), ProbeError> {
    let (_, sealed) = stored_probe(store).await?;
    if keys.get(&sealed.key_id).is_none() {
        crate::domain::master_keys::refresh(store, keys)
            .await
            .map_err(|e| ProbeError(e.to_string()))?;
    }
    match open(keys, PROBE_BINDING, &sealed) {
        Ok(p) if p.as_slice() == PROBE_PLAINTEXT => Ok(()),
        Ok(_) => Err(ProbeError("the probe is damaged".into())),
        Err(e) => Err(ProbeError(format!(
            "the master key cannot open the probe ({e})"
        ))),
    }
}

/// Re-wraps the probe's data key under the active key; false when it already was (or changed
/// meanwhile).
pub async fn rewrap_probe(store: &dyn Store, keys: &KeyRing) -> Result<bool, StoreError> {
    let Ok((text, sealed)) = stored_probe(store).await else {
        return Ok(false);
    };
    if sealed.key_id == keys.active().id() {
        return Ok(false);
    }
    let Ok((wrapped, key_id)) =
        rewrap_key(keys, PROBE_BINDING, &sealed.wrapped_key, &sealed.key_id)
    else {
        return Ok(false);
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = json!({
        "key_id": key_id,
        "ciphertext": b64.encode(&sealed.ciphertext),
        "wrapped_key": b64.encode(&wrapped),
    })
    .to_string();
    store.replace_meta(PROBE_KEY, &text, &value).await
}

/// The probe as stored (its text) and parsed.
async fn stored_probe(store: &dyn Store) -> Result<(String, Sealed), ProbeError> {
    let text = store
        .get_meta(PROBE_KEY)
        .await
        .map_err(|_| ProbeError("the database is unreachable".into()))?
        .ok_or_else(|| ProbeError("no encryption probe stored".into()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| ProbeError("the probe is damaged".into()))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |name: &str| {
        v.get(name)
            .and_then(|x| x.as_str())
            .ok_or_else(|| ProbeError("the probe is damaged".into()))
    };
    let sealed = Sealed {
        key_id: field("key_id")?.to_string(),
        ciphertext: b64
            .decode(field("ciphertext")?)
            .map_err(|_| ProbeError("the probe is damaged".into()))?,
        wrapped_key: b64
            .decode(field("wrapped_key")?)
            .map_err(|_| ProbeError("the probe is damaged".into()))?,
    };
    Ok((text, sealed))
}

/// Why the encryption probe did not open.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(pub String);

/// Applies `SCAIVAULT_ROOT_TOKEN`, the `--dev` root token, or the first-start admin token.
pub async fn ensure_tokens(
    store: &dyn Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<InitialToken>, StartError> {
    let admin = ScopeSet::new(vec![Scope::Admin]);
    let spec = |kind: TokenKind| TokenSpec {
        tenant_id: DEFAULT_TENANT,
        name: "root",
        scopes: &admin,
        path_prefixes: &[],
        ttl: None,
        kind,
        created_by: BOOTSTRAP_IDENTITY,
        is_user: true,
    };
    if let Some(value) = &config.root_token {
        apply_root_token(
            store,
            &spec(kind::ROOT_ENV),
            &NewToken::from_value(value),
            now,
        )
        .await?;
    }
    if config.dev {
        let token = NewToken::generate();
        let mut tx = store.begin().await?;
        retire_previous(&mut *tx, kind::DEV_ROOT, &token.hash, now).await?;
        tx.insert_token(&token_row(&spec(kind::DEV_ROOT), &token, now))
            .await?;
        tx.commit().await?;
        return Ok(Some(InitialToken {
            token: token.plaintext,
            reason: "dev root token (a fresh one every start; the previous one is revoked)",
        }));
    }
    if config.root_token.is_none() && store.count_tokens().await? == 0 {
        let token = NewToken::generate();
        let mut tx = store.begin().await?;
        tx.insert_token(&token_row(&spec(kind::BOOTSTRAP), &token, now))
            .await?;
        tx.commit().await?;
        return Ok(Some(InitialToken {
            token: token.plaintext,
            reason: "first-start admin token (shown once, never again: store it now)",
        }));
    }
    Ok(None)
}

/// Who start-up's token changes are attributed to (created_by, audit identity).
const BOOTSTRAP_IDENTITY: &str = "system:bootstrap";

/// Makes the operator's root token the only live one of its kind: root tokens of earlier
/// values are revoked (audited). An unchanged value keeps its row, so replicas already
/// serving never see it vanish; a missing or no longer usable row (revoked, edited) is
/// created afresh.
async fn apply_root_token(
    store: &dyn Store,
    spec: &TokenSpec<'_>,
    token: &NewToken,
    now: DateTime<Utc>,
) -> Result<(), StartError> {
    let fresh = token_row(spec, token, now);
    let keep = store
        .find_token_by_hash(&token.hash)
        .await?
        .is_some_and(|row| same_live_token(&row, &fresh));
    let mut tx = store.begin().await?;
    retire_previous(&mut *tx, spec.kind, &token.hash, now).await?;
    if !keep {
        tx.delete_token_by_hash(&token.hash).await?;
        tx.insert_token(&fresh).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// True when `row` is unrevoked and grants what `wanted` would.
fn same_live_token(row: &TokenRow, wanted: &TokenRow) -> bool {
    row.revoked_at.is_none()
        && row.expires_at.is_none()
        && row.kind == wanted.kind
        && row.tenant_id == wanted.tenant_id
        && row.identity_id == wanted.identity_id
        && row.scopes == wanted.scopes
        && row.path_prefixes == wanted.path_prefixes
}

/// Revokes every live token of `kind` but the one hashed `keep_hash`, one audit row each.
async fn retire_previous(
    tx: &mut dyn StoreTx,
    kind: TokenKind,
    keep_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let revoked = tx
        .revoke_tokens_of_kind(kind, keep_hash, crate::clock::to_micros(now))
        .await?;
    for t in revoked {
        let row = audit::system_row(
            &t.tenant_id,
            BOOTSTRAP_IDENTITY,
            now,
            audit::action::TOKEN_REVOKE,
            None,
            None,
            json!({ "token_id": t.id, "token_name": t.name, "reason": "replaced_at_start" }),
        );
        tx.insert_audit(&row).await?;
    }
    Ok(())
}
