//! TEMP stand-in (dropped once the real module is merged): the policy.

use std::path::Path;

use enclet_attestation::Measurement;

use crate::verify::{Refusal, VerifiedEnclave};

/// Stand-in.
#[derive(Debug)]
pub struct Policy {
    _name: String,
}

/// Stand-in.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Parse.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// File.
        file: String,
        /// Line.
        line: u32,
        /// Column.
        column: u32,
        /// Message.
        message: String,
    },
    /// Evaluate.
    #[error("evaluate: {0}")]
    Evaluate(String),
}

impl PolicyError {
    /// Code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse { .. } => "policy_parse",
            Self::Evaluate(_) => "policy_evaluate",
        }
    }
}

impl Policy {
    /// Stand-in.
    ///
    /// # Errors
    /// Unreadable file or "syntax error" text.
    pub fn from_files(rego: &Path, _data: Option<&Path>) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(rego)
            .map_err(|e| PolicyError::Evaluate(format!("{}: {e}", rego.display())))?;
        Self::from_source(&rego.display().to_string(), &text, None)
    }

    /// Stand-in.
    ///
    /// # Errors
    /// Text holding "{{{".
    pub fn from_source(
        name: &str,
        rego: &str,
        _data: Option<serde_json::Value>,
    ) -> Result<Self, PolicyError> {
        if let Some((i, l)) = rego.lines().enumerate().find(|(_, l)| l.contains("{{{")) {
            return Err(PolicyError::Parse {
                file: name.to_owned(),
                line: u32::try_from(i + 1).unwrap_or(0),
                column: u32::try_from(l.find("{{{").unwrap_or(0) + 1).unwrap_or(0),
                message: "syntax error".to_owned(),
            });
        }
        Ok(Self {
            _name: name.to_owned(),
        })
    }

    /// Stand-in.
    ///
    /// # Errors
    /// Never.
    pub fn evaluate(&self, input: &PolicyInput) -> Result<Decision, PolicyError> {
        let _ = &input.0;
        Ok(Decision {
            enclave: RuleVerdict {
                allow: false,
                rule: "stand_in".to_owned(),
            },
            plugins: Vec::new(),
        })
    }
}

/// Stand-in.
#[derive(Debug, Clone)]
pub struct PolicyInput(serde_json::Value);

impl PolicyInput {
    /// Stand-in.
    #[must_use]
    pub fn new(_enclave: &VerifiedEnclave, _names: &[(Measurement, String)]) -> Self {
        Self(serde_json::Value::Null)
    }
}

/// Stand-in.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Enclave.
    pub enclave: RuleVerdict,
    /// Plugins.
    pub plugins: Vec<PluginDecision>,
}

/// Stand-in.
#[derive(Debug, Clone)]
pub struct RuleVerdict {
    /// Allow.
    pub allow: bool,
    /// Rule.
    pub rule: String,
}

/// Stand-in.
#[derive(Debug, Clone)]
pub struct PluginDecision {
    /// Measurement.
    pub measurement: Measurement,
    /// Name.
    pub name: Option<String>,
    /// Allow.
    pub allow: bool,
    /// Rule.
    pub rule: String,
    /// Secrets.
    pub secrets: Vec<String>,
}

impl Decision {
    /// Stand-in.
    #[must_use]
    pub fn refusal(&self) -> Option<Refusal> {
        (!self.enclave.allow).then(|| Refusal {
            code: "policy_denied",
            message: format!("rule {}", self.enclave.rule),
        })
    }
}
