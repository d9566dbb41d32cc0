//! The operator's Rego policy over verified claims (regorus).
//!
//! ```text
//!  VerifiedEnclave + parent's names ─PolicyInput::new─▶ input
//!  policy.rego + data.json ─Policy::from_files─▶ Policy (compiled once, checked once)
//!  Policy::evaluate(input) ─▶ data.enclet.decision ─read fail-closed─▶ Decision ─refusal()─▶ policy_denied?
//! ```
//!
//! * **Input** ([`PolicyInput`]): the JSON of the verified claims, `debug`,
//!   and `plugins_named` (the parent's untrusted names). **Data**: the
//!   operator's JSON data file, as `data`.
//! * **Decision**: the policy defines `data.enclet.decision` =
//!   `{enclave: {allow, rule}, plugins: {<measurement hex>: {allow, rule, secrets}}}`.
//! * **Fail closed** ([`Decision`]): an undefined decision, a missing plugin
//!   entry, a wrong type or an evaluation error is a denial under the rule
//!   `no_decision` / `invalid_decision`, never an allow.
//! * **Checked at load**: a policy that does not parse is a
//!   [`PolicyError::Parse`] with file, line and column; then the policy is
//!   evaluated once on a synthetic input (trusted TPM claims, one plugin) and
//!   must yield a well-formed decision with an entry for that plugin, else
//!   the load fails ([`PolicyError::Evaluate`] / [`PolicyError::Shape`]).
//! * **Concurrent**: the policy is compiled once into a regorus
//!   `CompiledPolicy`; [`Policy::evaluate`] takes `&self` and makes a
//!   light per-call engine from it, so any number of threads evaluate at once.
//!
//! The shipped policies live in `control-plane/policy/` (see its README);
//! [`DEFAULT_REGO`] is `default.rego`.

mod decision;
mod error;
mod input;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use regorus::{CompiledPolicy, Engine, Value};

pub use decision::{
    Decision, INVALID_DECISION, MAX_RULE_LEN, MAX_SECRET_NAME_LEN, MAX_SECRETS, NO_DECISION,
    POLICY_CAPABILITIES, PluginDecision, RuleVerdict,
};
pub use error::PolicyError;
pub use input::PolicyInput;

/// The rule every policy must define.
pub const DECISION_RULE: &str = "data.enclet.decision";

/// `control-plane/policy/default.rego`: trusted basis, every check made, no
/// debug; a plugin is allowed iff `data.plugins` lists its measurement.
pub const DEFAULT_REGO: &str = include_str!("../policy/default.rego");

/// Largest policy or data file read, in bytes.
pub const MAX_POLICY_FILE_BYTES: u64 = 1024 * 1024;

/// A loaded, checked policy. `Send + Sync`.
#[derive(Clone)]
pub struct Policy {
    name: String,
    compiled: CompiledPolicy,
}

impl core::fmt::Debug for Policy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Loads a policy file and an optional JSON data file.
    ///
    /// # Errors
    /// [`PolicyError::Io`] for an unreadable or oversized file,
    /// [`PolicyError::Data`] for data that is not a JSON object, otherwise as
    /// [`Self::from_source`] (syntax errors name `rego`'s path).
    pub fn from_files(rego: &Path, data: Option<&Path>) -> Result<Self, PolicyError> {
        let source = read(rego)?;
        let data = match data {
            None => None,
            Some(path) => Some(
                serde_json::from_str(&read(path)?)
                    .map_err(|e| PolicyError::Data(format!("{}: {e}", path.display())))?,
            ),
        };
        Self::from_source(&rego.display().to_string(), &source, data)
    }

    /// Loads a policy from source; `name` stands for its file in errors.
    ///
    /// # Errors
    /// [`PolicyError::Parse`] (file, line, column) when the Rego does not
    /// parse, [`PolicyError::Data`] when `data` is not an object,
    /// [`PolicyError::Shape`] when `data.enclet.decision` is not defined or
    /// is malformed on the load-time check input, [`PolicyError::Evaluate`]
    /// when that evaluation fails.
    pub fn from_source(
        name: &str,
        rego: &str,
        data: Option<serde_json::Value>,
    ) -> Result<Self, PolicyError> {
        let mut engine = Engine::new();
        engine
            .add_policy(name.to_owned(), rego.to_owned())
            .map_err(|e| PolicyError::from_regorus(&e.to_string()))?;
        if let Some(data) = data {
            if !data.is_object() {
                return Err(PolicyError::Data(
                    "the data document is not a JSON object".into(),
                ));
            }
            engine
                .add_data(Value::from(data))
                .map_err(|e| PolicyError::Data(e.to_string()))?;
        }
        let entry: Arc<str> = Arc::from(DECISION_RULE);
        let compiled = engine.compile_with_entrypoint(&entry).map_err(|e| {
            let text = e.to_string();
            if text.contains("not a valid rule path") {
                PolicyError::Shape(format!("the policy does not define {DECISION_RULE}"))
            } else {
                PolicyError::from_regorus(&text)
            }
        })?;
        let policy = Self {
            name: name.to_owned(),
            compiled,
        };
        // The load-time check: evaluates, and yields a complete decision.
        let input = PolicyInput::synthetic();
        let value = policy.eval(&input).map_err(PolicyError::Evaluate)?;
        let decision = Decision::read(&value, &input);
        if !decision.problems.is_empty() {
            return Err(PolicyError::Shape(decision.problems.join("; ")));
        }
        tracing::debug!(policy = %policy.name, "policy loaded and checked");
        Ok(policy)
    }

    /// The default policy ([`DEFAULT_REGO`]) with this data document.
    ///
    /// # Errors
    /// As [`Self::from_source`] (only [`PolicyError::Data`] in practice).
    pub fn default_with_data(data: Option<serde_json::Value>) -> Result<Self, PolicyError> {
        Self::from_source("default.rego", DEFAULT_REGO, data)
    }

    /// The name the policy was loaded under (its path for files).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Evaluates the policy for one enclave. Fail-closed: an evaluation
    /// error or an undefined or malformed decision comes back as a
    /// [`Decision`] that denies (see [`Decision::problems`]).
    ///
    /// # Errors
    /// None today; the `Result` leaves room for engine failures that are not
    /// the policy's answer. Callers treat an error as a denial.
    pub fn evaluate(&self, input: &PolicyInput) -> Result<Decision, PolicyError> {
        match self.eval(input) {
            Ok(value) => {
                let decision = Decision::read(&value, input);
                if !decision.problems.is_empty() {
                    tracing::warn!(policy = %self.name, problems = ?decision.problems, "policy decision replaced by denials");
                }
                Ok(decision)
            }
            Err(e) => {
                tracing::warn!(policy = %self.name, error = %e, "policy evaluation failed: denied");
                Ok(Decision::deny_all(
                    input,
                    NO_DECISION,
                    format!("evaluation failed: {e}"),
                ))
            }
        }
    }

    fn eval(&self, input: &PolicyInput) -> Result<Value, String> {
        self.compiled
            .eval_with_input(Value::from(input.as_json().clone()))
            .map_err(|e| e.to_string())
    }
}

fn read(path: &Path) -> Result<String, PolicyError> {
    let io = |message: String| PolicyError::Io {
        path: path.display().to_string(),
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| io(e.to_string()))?
        .len();
    if len > MAX_POLICY_FILE_BYTES {
        return Err(io(format!(
            "{len} bytes, more than {MAX_POLICY_FILE_BYTES}"
        )));
    }
    std::fs::read_to_string(path).map_err(|e| io(e.to_string()))
}
