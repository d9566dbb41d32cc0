//! The capability root key: signs the capability tokens minted with every
//! release (and, later, revocation lists). Its public half is what an
//! enclave's `--capability-root` names.
//!
//! ```text
//!  [capabilities] key = "…"  set ─▶ load it (PKCS#8 PEM Ed25519); missing → start-up error
//!                            unset ─▶ <state dir>/capability.key (0600), made on first start
//!  always ─▶ <state dir>/capability.pub (SPKI PEM, 0644): give it to the enclave image
//! ```

use std::path::{Path, PathBuf};

use enclet_capability::RootKey;

use crate::config::Config;
use crate::service::StartError;
use crate::service::files::{read_bounded, write_new};

/// The private key file made in the state directory.
pub const KEY_FILE: &str = "capability.key";
/// The public key file written next to it.
pub const PUBLIC_FILE: &str = "capability.pub";

/// The root key and the token lifetime.
#[derive(Debug)]
pub struct Issuer {
    pub(crate) key: RootKey,
    pub(crate) token_ttl_secs: u64,
    public_path: PathBuf,
}

impl Issuer {
    /// Loads the configured key, or the state directory's (made if absent),
    /// and writes its public half to `<dir>/capability.pub` if not there.
    ///
    /// # Errors
    /// [`StartError::Config`] for a key file that is unreadable or not a
    /// PKCS#8 Ed25519 key; [`StartError::Io`] if a file cannot be written.
    pub fn load_or_create(dir: &Path, config: &Config) -> Result<Self, StartError> {
        let key = if let Some(path) = &config.capabilities.key {
            read_key(path)?
        } else {
            let path = dir.join(KEY_FILE);
            if path.exists() {
                read_key(&path)?
            } else {
                create_key(&path)?
            }
        };
        let public_path = dir.join(PUBLIC_FILE);
        let public = key
            .public()
            .to_pem()
            .map_err(|e| StartError::Io(format!("capability public key: {e}")))?;
        match write_new(&public_path, public.as_bytes(), 0o644) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StartError::Io(format!("{}: {e}", public_path.display()))),
        }
        Ok(Self {
            key,
            token_ttl_secs: config.capabilities.token_ttl_secs,
            public_path,
        })
    }

    /// Where the public key (for `enclet-enclave --capability-root`) is.
    #[must_use]
    pub fn public_path(&self) -> &Path {
        &self.public_path
    }

    /// The key (its `Debug` shows only the public half).
    #[must_use]
    pub fn key(&self) -> &RootKey {
        &self.key
    }
}

fn read_key(path: &Path) -> Result<RootKey, StartError> {
    let invalid = |reason: String| {
        StartError::Config(crate::config::ConfigError::Invalid {
            key: "capabilities.key",
            reason: format!("{}: {reason}", path.display()),
        })
    };
    let bytes = read_bounded(path, 8 * 1024).map_err(|e| invalid(e.to_string()))?;
    let pem =
        zeroize::Zeroizing::new(String::from_utf8(bytes).map_err(|_| invalid("not PEM".into()))?);
    RootKey::from_pem(&pem).map_err(|e| invalid(e.to_string()))
}

fn create_key(path: &Path) -> Result<RootKey, StartError> {
    let key = RootKey::generate();
    let pem = key
        .to_pem()
        .map_err(|e| StartError::Io(format!("capability key: {e}")))?;
    write_new(path, pem.as_bytes(), 0o600)
        .map_err(|e| StartError::Io(format!("{}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), public = %key.public().to_hex(), "made the capability root key");
    Ok(key)
}
