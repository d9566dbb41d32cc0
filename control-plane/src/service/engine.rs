//! [`Engine`]: the verifier and the policy in force, loaded from the
//! configuration as a unit, so a reload replaces both or neither.

use std::path::{Path, PathBuf};

use enclet_attestation::UnixTime;
use enclet_attestation::nitro::NitroRoot;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::config::Config;
use crate::policy::{Policy, PolicyError};
use crate::reference::{ReferenceError, ReferenceValues};
use crate::verify::{TpmTrust, Verifier};

/// The policy used when none is configured: it denies the enclave and every
/// attested plugin (an entry per plugin, so the decision is well-formed), so
/// nothing is released until the operator configures a policy.
pub const DENY_ALL_REGO: &str = r#"package enclet

decision := {
    "enclave": {"allow": false, "rule": "no_policy_configured"},
    "plugins": {m: {"allow": false, "rule": "no_policy_configured", "secrets": []} |
        m := input.plugins.measurements[_]},
}
"#;
/// Largest certificate file read for the TPM trust anchors, in bytes.
const MAX_CA_BYTES: u64 = 1024 * 1024;

/// Why the verifier or the policy could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The policy does not load (a syntax error names the file, line and column).
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    /// The reference values do not load.
    #[error("reference values: {0}")]
    Reference(#[from] ReferenceError),
    /// A TPM CA file is unusable.
    #[error("TPM CA {path}: {reason}")]
    TpmCa {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The `insecure_nitro_root_for_tests` file is unusable.
    #[error("Nitro root {path}: {reason}")]
    NitroRoot {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl EngineError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Policy(e) => e.code(),
            Self::Reference(_) => "reference_values",
            Self::TpmCa { .. } => "tpm_ca",
            Self::NitroRoot { .. } => "nitro_root",
        }
    }
}

/// The verifier and the policy.
#[derive(Debug)]
pub struct Engine {
    pub(crate) verifier: Verifier,
    pub(crate) policy: Policy,
}

impl Engine {
    /// Loads the reference values, TPM trust anchors and policy that
    /// `config` names (absolute paths).
    ///
    /// # Errors
    /// [`EngineError`] naming the file at fault.
    pub fn load(config: &Config) -> Result<Self, EngineError> {
        let reference = match &config.reference_values {
            Some(path) => ReferenceValues::load(path)?,
            None => ReferenceValues::from_toml("")?,
        };
        let tpm = match &config.tpm.ek_ca {
            None => None,
            Some(root) => Some(TpmTrust {
                root: read_der(root).map_err(tpm_ca(root))?,
                intermediates: config
                    .tpm
                    .ek_intermediates
                    .iter()
                    .map(|p| read_der(p).map_err(tpm_ca(p)))
                    .collect::<Result<_, _>>()?,
            }),
        };
        let nitro_root = match &config.insecure_nitro_root_for_tests {
            None => NitroRoot::aws_g1(),
            Some(path) => {
                let bad = |reason: String| EngineError::NitroRoot {
                    path: path.clone(),
                    reason,
                };
                let root = NitroRoot::from_der(&read_der(path).map_err(bad)?)
                    .map_err(|e| bad(e.to_string()))?;
                tracing::warn!(
                    path = %path.display(),
                    "DANGER: Nitro documents are verified against a test root \
                     (insecure_nitro_root_for_tests), not the AWS root; never use this in production"
                );
                root
            }
        };
        let mut verifier = Verifier::new(reference, tpm, nitro_root);
        if let Some(secs) = config.insecure_fixed_nitro_time_for_tests {
            tracing::warn!(
                time = secs,
                "DANGER: Nitro documents are verified at a fixed time \
                 (insecure_fixed_nitro_time_for_tests); never use this in production"
            );
            verifier = verifier.insecure_fixed_nitro_time_for_tests(UnixTime::from_secs(secs));
        }
        let policy = if let Some(rego) = &config.policy.rego {
            Policy::from_files(rego, config.policy.data.as_deref())?
        } else {
            tracing::warn!("no policy configured: every enclave is denied");
            Policy::from_source("builtin:deny-all", DENY_ALL_REGO, None)?
        };
        Ok(Self { verifier, policy })
    }
}

fn tpm_ca(path: &Path) -> impl Fn(String) -> EngineError + '_ {
    move |reason| EngineError::TpmCa {
        path: path.to_path_buf(),
        reason,
    }
}

/// A certificate file as DER: PEM (first certificate) or raw DER.
fn read_der(path: &Path) -> Result<Vec<u8>, String> {
    let bytes =
        crate::service::files::read_bounded(path, MAX_CA_BYTES).map_err(|e| e.to_string())?;
    if bytes.starts_with(b"-----BEGIN") {
        return CertificateDer::from_pem_slice(&bytes)
            .map(|c| c.as_ref().to_vec())
            .map_err(|e| format!("no PEM certificate: {e}"));
    }
    if bytes.first() != Some(&0x30) {
        return Err("neither PEM nor a DER certificate".to_owned());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::{DENY_ALL_REGO, Engine};
    use crate::config::Config;
    use crate::policy::Policy;

    #[test]
    fn the_built_in_policy_loads_and_the_default_config_makes_an_engine() {
        assert!(Policy::from_source("builtin:deny-all", DENY_ALL_REGO, None).is_ok());
        assert!(Engine::load(&Config::default()).is_ok());
        let mut config = Config::default();
        config.tpm.ek_ca = Some("/nonexistent/ca.pem".into());
        assert_eq!(Engine::load(&config).unwrap_err().code(), "tpm_ca");
        let config = Config {
            insecure_nitro_root_for_tests: Some("/nonexistent/root.pem".into()),
            ..Config::default()
        };
        assert_eq!(Engine::load(&config).unwrap_err().code(), "nitro_root");
    }
}
