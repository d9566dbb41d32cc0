//! HTTPS server configuration: rustls with the aws-lc-rs provider, TLS 1.3
//! and 1.2 with rustls's safe defaults, optional mutual TLS.
//!
//! * **Server identity.** Production deployments configure `tls.cert` and
//!   `tls.key`. Without them the first start makes a development CA and a
//!   server certificate for `localhost`, `127.0.0.1` and `::1` in
//!   `<state dir>/tls/` ([`devca`]); later starts reuse them. Clients pin
//!   `tls/ca.pem`. Private keys are written 0600 and never logged.
//! * **Mutual TLS.** With `tls.client_ca`, every client must present a
//!   certificate chaining to that CA, or the handshake fails. The client's
//!   identity ([`peer::peer_identity`]: SHA-256 fingerprint and subject of its
//!   certificate) becomes the audit `peer`; without mutual TLS the peer is the
//!   remote address.
//! * PEM files are parsed with `rustls::pki_types::pem::PemObject`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::config::Config;

pub mod devca;
pub mod peer;
#[cfg(test)]
mod tests;

/// Largest certificate or key file read, in bytes.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Why TLS could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file holds no usable PEM certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why (never key material).
        reason: String,
    },
    /// The development CA could not be made, or only part of it exists.
    #[error("development CA: {0}")]
    DevCa(String),
    /// rustls refused the configuration (e.g. key and certificate mismatch).
    #[error("TLS configuration: {0}")]
    Config(String),
}

impl TlsError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "tls_io",
            Self::Pem { .. } => "tls_pem",
            Self::DevCa(_) => "tls_dev_ca",
            Self::Config(_) => "tls_config",
        }
    }
}

/// A ready server configuration and what to tell the operator about it.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// For the acceptor.
    pub config: Arc<rustls::ServerConfig>,
    /// The development CA certificate clients pin, if the dev CA is in use.
    pub dev_ca: Option<PathBuf>,
    /// Whether the dev CA was made by this call (first start).
    pub dev_ca_created: bool,
    /// Whether clients must present a certificate.
    pub mutual: bool,
}

/// Builds the server configuration for `config` (paths already absolute),
/// making or reusing the development CA in `state_dir` when no certificate
/// is configured.
///
/// # Errors
/// [`TlsError`] naming the file or setting at fault.
pub fn server_tls(config: &Config, state_dir: &Path) -> Result<ServerTls, TlsError> {
    let (chain, key, dev_ca, dev_ca_created) =
        if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
            (read_certs(cert)?, read_key(key)?, None, false)
        } else {
            let (files, created) = devca::ensure(state_dir)?;
            (
                read_certs(&files.server_cert)?,
                read_key(&files.server_key)?,
                Some(files.ca_cert),
                created,
            )
        };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &config.tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| TlsError::Pem {
                    path: path.clone(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(format!("client CA {}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(format!("server certificate and key: {e}")))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(server),
        dev_ca,
        dev_ca_created,
        mutual: config.tls.client_ca.is_some(),
    })
}

/// Every certificate in the PEM file `path` (at least one).
///
/// # Errors
/// [`TlsError::Io`] or [`TlsError::Pem`].
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            reason: "holds no CERTIFICATE".to_owned(),
        });
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
///
/// # Errors
/// [`TlsError::Io`] or [`TlsError::Pem`] (the message never shows the key).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = zeroize::Zeroizing::new(read(path)?);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Pem {
        path: path.to_path_buf(),
        reason: "holds no usable PRIVATE KEY".to_owned(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    crate::service::files::read_bounded(path, MAX_PEM_BYTES).map_err(|e| TlsError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
