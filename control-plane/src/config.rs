//! The control plane's TOML configuration.
//!
//! Every setting has a default (below and in `control-plane.example.toml`,
//! which is also the file written into a state directory on first start), so
//! an empty file is a valid configuration. Unknown keys are errors, so a typo
//! never silently falls back to a default. Relative paths resolve against the
//! directory of the configuration file; [`Config::load`] returns them
//! absolute.
//!
//! ```toml
//! listen = "127.0.0.1:7443"
//! reference_values = "reference.toml"
//! [tls]
//! client_ca = "parents-ca.pem"
//! [tpm]
//! ek_ca = "tpm-ek-ca.pem"
//! [policy]
//! rego = "policy.rego"
//! data = "data.json"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[cfg(test)]
mod tests;

/// The configuration file a state directory holds.
pub const CONFIG_FILE: &str = "control-plane.toml";
/// The default configuration, as written on first start (every setting with
/// its default, optional ones commented out).
pub const DEFAULT_TOML: &str = include_str!("../control-plane.example.toml");
/// Largest configuration file read, in bytes.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Largest allowed `max_body_bytes`.
pub const MAX_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Why a configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not valid TOML for this schema (the message names the
    /// line, column and key).
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// A setting is out of its bounds.
    #[error("setting {key}: {reason}")]
    Invalid {
        /// The setting, e.g. `tls.key`.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "config_io",
            Self::Parse { .. } => "config_parse",
            Self::Invalid { .. } => "config_invalid",
        }
    }
}

/// The whole configuration. Field docs give each default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTPS API listens on. Default `127.0.0.1:7443`.
    pub listen: SocketAddr,
    /// Reference values for enclave images (TOML file). Default unset: no
    /// image is allowed.
    pub reference_values: Option<PathBuf>,
    /// Session lifetime, seconds. Default 3600.
    pub session_ttl_secs: u64,
    /// Nonce lifetime, seconds. Default 60.
    pub nonce_ttl_secs: u64,
    /// Lifetime of released secrets, seconds. Default 600.
    pub release_ttl_secs: u64,
    /// Largest request body, bytes. Default 262144 (256 KiB).
    pub max_body_bytes: usize,
    /// Longest time one request may take, milliseconds. Default 10000.
    pub request_timeout_ms: u64,
    /// Longest TLS handshake, milliseconds. Default 5000.
    pub tls_handshake_timeout_ms: u64,
    /// Longest wait for a request's headers, milliseconds. Default 5000.
    pub header_read_timeout_ms: u64,
    /// Most connections served at once. Default 256.
    pub max_connections: usize,
    /// Most sessions held in memory. Default 10000.
    pub max_sessions: usize,
    /// DANGER, tests only: verify Nitro documents at this Unix time. Default unset.
    pub insecure_fixed_nitro_time_for_tests: Option<u64>,
    /// DANGER, tests only: pin this root certificate (PEM or DER) for Nitro
    /// documents instead of the AWS Nitro Enclaves Root-G1. Default unset.
    /// Claims then carry the trust basis `caller_pinned_nitro_root`, which
    /// the default policy does not trust.
    pub insecure_nitro_root_for_tests: Option<PathBuf>,
    /// TLS files.
    pub tls: TlsSettings,
    /// TPM trust.
    pub tpm: TpmSettings,
    /// The Rego policy.
    pub policy: PolicySettings,
    /// Capability tokens.
    pub capabilities: CapabilitySettings,
}

/// `[capabilities]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapabilitySettings {
    /// The root key (PKCS#8 PEM, Ed25519). Default unset:
    /// `<state dir>/capability.key`, made on first start.
    pub key: Option<PathBuf>,
    /// Lifetime of a capability token, seconds. Default 300.
    pub token_ttl_secs: u64,
}

impl Default for CapabilitySettings {
    fn default() -> Self {
        Self {
            key: None,
            token_ttl_secs: 300,
        }
    }
}

/// `[tls]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// Server certificate chain (PEM). Default unset: the development CA.
    pub cert: Option<PathBuf>,
    /// Server private key (PEM). Set exactly when `cert` is.
    pub key: Option<PathBuf>,
    /// CA (PEM) client certificates must chain to. Default unset: no mutual TLS.
    pub client_ca: Option<PathBuf>,
}

/// `[tpm]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpmSettings {
    /// CA that EK certificates chain to (PEM or DER). Default unset: TPM
    /// sessions are refused.
    pub ek_ca: Option<PathBuf>,
    /// Intermediate CAs, from the EK certificate's issuer up. Default empty.
    pub ek_intermediates: Vec<PathBuf>,
}

/// `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// The Rego file. Default unset: the built-in deny-everything policy.
    pub rego: Option<PathBuf>,
    /// The policy's `data` (JSON file). Default unset.
    pub data: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            reference_values: None,
            session_ttl_secs: 3600,
            nonce_ttl_secs: 60,
            release_ttl_secs: 600,
            max_body_bytes: 256 * 1024,
            request_timeout_ms: 10_000,
            tls_handshake_timeout_ms: 5_000,
            header_read_timeout_ms: 5_000,
            max_connections: 256,
            max_sessions: 10_000,
            insecure_fixed_nitro_time_for_tests: None,
            insecure_nitro_root_for_tests: None,
            tls: TlsSettings::default(),
            tpm: TpmSettings::default(),
            policy: PolicySettings::default(),
            capabilities: CapabilitySettings::default(),
        }
    }
}

impl Config {
    /// Reads, parses and checks `path`; relative paths in it become absolute
    /// (against `path`'s directory).
    ///
    /// # Errors
    /// [`ConfigError::Io`] unreadable or over 1 MiB; [`ConfigError::Parse`]
    /// not TOML or an unknown key (line and column named);
    /// [`ConfigError::Invalid`] a setting out of bounds.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_bounded(path)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let mut config = Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { reason, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })?;
        config.resolve_paths(base);
        Ok(config)
    }

    /// Loads `path`, first writing [`DEFAULT_TOML`] there (mode 0600) if it
    /// does not exist. Returns the configuration and whether it was written.
    ///
    /// # Errors
    /// As [`Config::load`]; [`ConfigError::Io`] if the file cannot be made.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), ConfigError> {
        let created = match crate::service::files::write_new(path, DEFAULT_TOML.as_bytes(), 0o600) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(io_error(path, &e)),
        };
        Ok((Self::load(path)?, created))
    }

    /// Parses TOML text (relative paths stay relative) and checks bounds.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] (with an empty path) or [`ConfigError::Invalid`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            reason: e.to_string().trim_end().to_owned(),
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        let positive = [
            ("session_ttl_secs", self.session_ttl_secs),
            ("nonce_ttl_secs", self.nonce_ttl_secs),
            ("release_ttl_secs", self.release_ttl_secs),
            ("request_timeout_ms", self.request_timeout_ms),
            ("tls_handshake_timeout_ms", self.tls_handshake_timeout_ms),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            (
                "capabilities.token_ttl_secs",
                self.capabilities.token_ttl_secs,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return invalid(key, "must be greater than 0");
            }
        }
        // Ten years: anything longer is a typo, and keeps `now + ttl` in range.
        let ten_years = 10 * 365 * 24 * 3600;
        for (key, value) in positive.iter().take(3) {
            if *value > ten_years {
                return invalid(key, "must be at most ten years");
            }
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > MAX_BODY_LIMIT {
            return invalid("max_body_bytes", "must be 1..=16777216");
        }
        if self.max_connections == 0 || self.max_connections > 65_536 {
            return invalid("max_connections", "must be 1..=65536");
        }
        if self.max_sessions == 0 || self.max_sessions > 10_000_000 {
            return invalid("max_sessions", "must be 1..=10000000");
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return invalid(
                "tls.key",
                "tls.cert and tls.key are set together or not at all",
            );
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let optional = [
            &mut self.reference_values,
            &mut self.insecure_nitro_root_for_tests,
            &mut self.tls.cert,
            &mut self.tls.key,
            &mut self.tls.client_ca,
            &mut self.tpm.ek_ca,
            &mut self.policy.rego,
            &mut self.policy.data,
            &mut self.capabilities.key,
        ];
        for p in optional.into_iter().flatten() {
            fix(p);
        }
        self.tpm.ek_intermediates.iter_mut().for_each(fix);
    }
}

fn read_bounded(path: &Path) -> Result<String, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::Io {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        });
    }
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
