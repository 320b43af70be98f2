//! The client's address and token: `SCAIVAULT_ADDR` / `SCAIVAULT_TOKEN` (and `SCAIVAULT_CACERT`)
//! override what `scaivault login` saved in `$XDG_CONFIG_HOME/scaivault/config.json` (or
//! `~/.config/scaivault/config.json`), a file only its owner can read (0600). The token is a
//! `SecretString`: it is never printed by `Debug` nor put into an error message.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The address used when neither `SCAIVAULT_ADDR` nor a saved login names one.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8210";

/// Where the client talks to, and with which token.
#[derive(Clone)]
pub struct ClientSettings {
    pub addr: String,
    pub token: Option<SecretString>,
    /// PEM file of certificates to trust besides the public roots.
    pub ca: Option<PathBuf>,
    /// Which source each value came from, for messages (`SCAIVAULT_TOKEN`, the file, …).
    pub token_source: String,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("ca", &self.ca)
            .field("token_source", &self.token_source)
            .finish()
    }
}

/// The saved file's contents.
#[derive(Serialize, Deserialize, Default)]
struct Saved {
    addr: Option<String>,
    token: Option<String>,
    ca: Option<PathBuf>,
}

/// Why the settings could not be read or saved (never holds the token).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no home folder: set XDG_CONFIG_HOME or HOME")]
    NoHome,
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: String },
    #[error("{path} is not a scaivault client file ({cause}); run `scaivault login` again")]
    Parse { path: String, cause: String },
    #[error("cannot write {path}: {cause}")]
    Write { path: String, cause: String },
}

/// `$XDG_CONFIG_HOME/scaivault/config.json`, else `$HOME/.config/scaivault/config.json`.
pub fn config_file() -> Result<PathBuf, SettingsError> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let base = match (non_empty("XDG_CONFIG_HOME"), non_empty("HOME")) {
        (Some(x), _) => PathBuf::from(x),
        (None, Some(h)) => PathBuf::from(h).join(".config"),
        (None, None) => return Err(SettingsError::NoHome),
    };
    Ok(base.join("scaivault").join("config.json"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ClientSettings {
    /// The saved login, with `SCAIVAULT_ADDR`, `SCAIVAULT_TOKEN` and `SCAIVAULT_CACERT` on top.
    pub fn load() -> Result<Self, SettingsError> {
        let file = config_file().ok();
        let saved = match &file {
            Some(f) => read_saved(f)?,
            None => Saved::default(),
        };
        let file_label = file
            .as_ref()
            .map_or_else(|| "the login file".to_string(), |f| f.display().to_string());
        let (token, token_source) = match (env("SCAIVAULT_TOKEN"), saved.token) {
            (Some(t), _) => (Some(t), "SCAIVAULT_TOKEN".to_string()),
            (None, Some(t)) => (Some(t), file_label),
            (None, None) => (None, "nowhere".to_string()),
        };
        Ok(Self {
            addr: env("SCAIVAULT_ADDR")
                .or(saved.addr)
                .unwrap_or_else(|| DEFAULT_ADDR.to_string())
                .trim_end_matches('/')
                .to_string(),
            token: token.map(SecretString::from),
            ca: env("SCAIVAULT_CACERT").map(PathBuf::from).or(saved.ca),
            token_source,
        })
    }

    /// Saves address, token and CA file to the login file (0600, folder 0700); returns its path.
    pub fn save(
        addr: &str,
        token: &SecretString,
        ca: Option<&Path>,
    ) -> Result<PathBuf, SettingsError> {
        let path = config_file()?;
        let saved = Saved {
            addr: Some(addr.trim_end_matches('/').to_string()),
            token: Some(token.expose_secret().to_string()),
            ca: ca.map(Path::to_path_buf),
        };
        let text = serde_json::to_vec_pretty(&saved).map_err(|e| SettingsError::Write {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        write_private(&path, &text).map_err(|e| SettingsError::Write {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Ok(path)
    }
}

fn read_saved(path: &Path) -> Result<Saved, SettingsError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => {
            return Err(SettingsError::Read {
                path: path.display().to_string(),
                cause: e.to_string(),
            })
        }
    };
    // serde_json's message names a position, never the text it failed on.
    serde_json::from_slice(&bytes).map_err(|e| SettingsError::Parse {
        path: path.display().to_string(),
        cause: e.to_string(),
    })
}

/// Writes `bytes` to `path` through a temporary file created 0600 and renamed over it, so the
/// token is never readable by others, not even for a moment.
#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)
}
