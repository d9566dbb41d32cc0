//! The development CA: made on first start when no certificate is configured.
//!
//! `<state dir>/tls/` holds `ca.pem`, `ca.key`, `server.pem` and
//! `server.key` (ECDSA P-256, rcgen). The directory is 0700 and the keys
//! 0600. The server certificate names `localhost`, `127.0.0.1` and `::1`.
//! The certificates use rcgen's default validity (they do not expire in
//! practice): this is for development; production configures `tls.cert`.
//! Later starts reuse the files; a partial set (some missing) is an error,
//! never silently replaced, because clients may have pinned the CA.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::TlsError;
use crate::service::files::write_new;

/// The directory under the state directory.
pub const TLS_DIR: &str = "tls";

/// The four files of the development CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCaFiles {
    /// CA certificate (PEM): what clients pin.
    pub ca_cert: PathBuf,
    /// CA private key (PEM, 0600).
    pub ca_key: PathBuf,
    /// Server certificate (PEM), issued by the CA.
    pub server_cert: PathBuf,
    /// Server private key (PEM, 0600).
    pub server_key: PathBuf,
}

impl DevCaFiles {
    /// The file names in `state_dir`.
    #[must_use]
    pub fn in_state_dir(state_dir: &Path) -> Self {
        let dir = state_dir.join(TLS_DIR);
        Self {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }

    fn all(&self) -> [&PathBuf; 4] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
        ]
    }
}

/// Reuses the development CA in `state_dir`, or makes it if none of its files
/// exist. Returns the files and whether they were made now.
///
/// # Errors
/// [`TlsError::DevCa`] when only some files exist or generation fails;
/// [`TlsError::Io`] when a file cannot be written.
pub fn ensure(state_dir: &Path) -> Result<(DevCaFiles, bool), TlsError> {
    let files = DevCaFiles::in_state_dir(state_dir);
    let present: Vec<bool> = files.all().iter().map(|p| p.exists()).collect();
    if present.iter().all(|p| *p) {
        return Ok((files, false));
    }
    if let Some(path) = files.all().iter().zip(&present).find(|(_, p)| **p) {
        return Err(TlsError::DevCa(format!(
            "{} exists but the development CA is incomplete; move {} away to make a new one \
             (clients must then pin the new ca.pem)",
            path.0.display(),
            state_dir.join(TLS_DIR).display()
        )));
    }
    let dir = state_dir.join(TLS_DIR);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| io(&dir, &e))?;
    let made = generate()?;
    // Keys first, so a crash never leaves certificates whose keys are lost.
    write(&files.ca_key, made.ca_key.as_bytes(), 0o600)?;
    write(&files.server_key, made.server_key.as_bytes(), 0o600)?;
    write(&files.server_cert, made.server_cert.as_bytes(), 0o644)?;
    write(&files.ca_cert, made.ca_cert.as_bytes(), 0o644)?;
    Ok((files, true))
}

/// PEM texts of a fresh CA and server certificate.
struct Generated {
    ca_cert: String,
    ca_key: zeroize::Zeroizing<String>,
    server_cert: String,
    server_key: zeroize::Zeroizing<String>,
}

fn generate() -> Result<Generated, TlsError> {
    let gen_err = |e: rcgen::Error| TlsError::DevCa(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "enclet control plane development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(gen_err)?;
    let ca_key_pem = zeroize::Zeroizing::new(ca_key.serialize_pem());
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(gen_err)?;

    let names = ["localhost", "127.0.0.1", "::1"]
        .map(str::to_owned)
        .to_vec();
    let mut params = CertificateParams::new(names).map_err(gen_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "enclet control plane (development)");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let server_key = KeyPair::generate().map_err(gen_err)?;
    let server_cert = params.signed_by(&server_key, &ca).map_err(gen_err)?;
    Ok(Generated {
        ca_cert: ca.pem(),
        ca_key: ca_key_pem,
        server_cert: server_cert.pem(),
        server_key: zeroize::Zeroizing::new(server_key.serialize_pem()),
    })
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    write_new(path, bytes, mode).map_err(|e| io(path, &e))
}

fn io(path: &Path, e: &std::io::Error) -> TlsError {
    TlsError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
