//! HTTPS certificate handling: loads and checks `SCAIVAULT_TLS_CERT`/`SCAIVAULT_TLS_KEY` (PEM,
//! key matches certificate) into a rustls server config on the ring provider, and swaps in new
//! files on reload (SIGHUP) while existing connections keep the config they started with.
//! Errors name the setting and the file, never key material.

use crate::config::ConfigError;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{InconsistentKeys, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificate and key files in use, and the live config new handshakes read.
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    live: RustlsConfig,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads both files; any problem is a start-up error naming the setting.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, ConfigError> {
        let config = server_config(cert, key)?;
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            live: RustlsConfig::from_config(config),
        })
    }

    /// The config the HTTPS listener serves with (shared: a reload reaches it).
    pub fn rustls(&self) -> RustlsConfig {
        self.live.clone()
    }

    /// Reads the files again and, only if they are good, uses them for new handshakes.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let config = server_config(&self.cert, &self.key)?;
        self.live.reload_from_config(config);
        Ok(())
    }

    /// Reloads on every SIGHUP until the process ends; a bad reload keeps the old certificate.
    #[cfg(unix)]
    pub fn reload_on_sighup(self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let this = self.clone();
                let outcome = tokio::task::spawn_blocking(move || this.reload()).await;
                match outcome {
                    Ok(Ok(())) => tracing::info!(
                        tls.cert = %self.cert.display(),
                        "TLS certificate reloaded"
                    ),
                    Ok(Err(e)) => tracing::error!(
                        "TLS reload failed, still serving the previous certificate: {e}"
                    ),
                    Err(_) => tracing::error!("TLS reload task failed"),
                }
            }
        });
        Ok(())
    }

    #[cfg(not(unix))]
    pub fn reload_on_sighup(self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks the files without keeping them (`config check`).
pub fn check(cert: &Path, key: &Path) -> Result<(), ConfigError> {
    server_config(cert, key).map(|_| ())
}

fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, ConfigError> {
    let certs = read_certs(cert_file)?;
    let key = read_key(key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider.key_provider.load_private_key(key).map_err(|_| {
        ConfigError::new(
            "tls_key",
            format!(
                "the private key in {} is not an RSA, ECDSA or Ed25519 key rustls can use",
                key_file.display()
            ),
        )
    })?;
    let certified = CertifiedKey::new(certs, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(ConfigError::new(
                "tls_key",
                format!(
                    "the private key in {} does not match the certificate in {} \
                     (SCAIVAULT_TLS_CERT)",
                    key_file.display(),
                    cert_file.display()
                ),
            ))
        }
        Err(e) => {
            return Err(ConfigError::new(
                "tls_cert",
                format!(
                    "the first certificate in {} is not a usable X.509 certificate: {e}",
                    cert_file.display()
                ),
            ))
        }
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("tls_cert", format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(setting: &str, file: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(file)
        .map_err(|e| ConfigError::new(setting, format!("cannot read {}: {e}", file.display())))
}

fn read_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read("tls_cert", file)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ConfigError::new(
                "tls_cert",
                format!("{} is not a valid PEM certificate file", file.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            "tls_cert",
            format!(
                "no PEM certificate (BEGIN CERTIFICATE) in {}",
                file.display()
            ),
        ));
    }
    Ok(certs)
}

fn read_key(file: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let bytes = read("tls_key", file)?;
    // The parse error is not shown: it could quote part of the file.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        ConfigError::new(
            "tls_key",
            format!(
                "no PEM private key (PKCS#8, PKCS#1 or SEC1) in {}",
                file.display()
            ),
        )
    })
}
