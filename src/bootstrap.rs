//! Start-up duties: load the master key (or generate one in `--dev`), check it against the
//! database's encryption probe, and make sure someone can log in (root, dev or first-start token).

use crate::audit;
use crate::config::Config;
use crate::crypto::{KeyRing, MasterKey};
use crate::domain::key_probe;
use crate::domain::scope::{Scope, ScopeSet};
use crate::domain::token::{NewToken, DEFAULT_TENANT};
use crate::domain::token_ops::{kind, token_row, TokenSpec};
use crate::server::{InitialToken, StartError};
use crate::store::{Store, StoreError, StoreTx, TokenKind, TokenRow};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::json;
use std::path::Path;

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
    key_probe::ensure(store, keys).await?;
    key_probe::probe_opens(store, keys).await.map_err(|e| {
        StartError::MasterKey(format!(
            "{e}: this database was encrypted with a different master key; \
             start with the key it was created with"
        ))
    })
}

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
