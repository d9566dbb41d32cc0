//! [`Decision`]: the policy's answer, read fail-closed.
//!
//! The policy's `data.enclet.decision` is read strictly: exactly the keys
//! `enclave` and `plugins`; a verdict is `{allow: bool, rule: string}` and a
//! plugin's also may have `secrets` (an array or set of strings, absent = none).
//! Anything else — an undefined decision, a missing plugin entry, a wrong
//! type, an unknown key, an over-long list — replaces the verdict concerned
//! with a denial under the rule [`NO_DECISION`] (nothing said) or
//! [`INVALID_DECISION`] (said wrongly), and is recorded in
//! [`Decision::problems`]. A denied plugin is never granted secrets.

use enclet_attestation::Measurement;
use regorus::Value;

use super::input::PolicyInput;
use crate::verify::{POLICY_DENIED, Refusal};

/// Rule of a denial made because the policy gave no decision (undefined, an
/// evaluation error, or no entry for an attested plugin).
pub const NO_DECISION: &str = "no_decision";
/// Rule of a denial made because the policy's decision had the wrong shape.
pub const INVALID_DECISION: &str = "invalid_decision";

/// Longest rule name: 1 to 64 of `A-Z a-z 0-9 _ . : -`.
pub const MAX_RULE_LEN: usize = 64;
/// Most secrets granted to one plugin.
pub const MAX_SECRETS: usize = 64;
/// Longest secret name, in bytes (no control characters).
pub const MAX_SECRET_NAME_LEN: usize = 256;

/// The policy's decision over one enclave and its attested plugins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// May this enclave receive anything at all.
    pub enclave: RuleVerdict,
    /// One per attested plugin, in attested order.
    pub plugins: Vec<PluginDecision>,
    /// Why parts of the policy's answer were replaced by denials (empty when
    /// the answer was well-formed and complete). For logs and audit.
    pub problems: Vec<String>,
}

/// A verdict and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleVerdict {
    /// Allowed.
    pub allow: bool,
    /// The policy's rule name (or [`NO_DECISION`] / [`INVALID_DECISION`]).
    pub rule: String,
}

/// The decision for one attested plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginDecision {
    /// The plugin's attested measurement.
    pub measurement: Measurement,
    /// The parent's name for it (untrusted label).
    pub name: Option<String>,
    /// Allowed to run and receive its secrets.
    pub allow: bool,
    /// The rule that decided.
    pub rule: String,
    /// Names of the secrets granted (empty when denied).
    pub secrets: Vec<String>,
    /// Capabilities other than secrets granted (e.g. `log`; empty when denied).
    pub capabilities: Vec<String>,
}

impl Decision {
    /// The first denial as a `policy_denied` refusal, naming the rule and the
    /// plugin: the enclave first, then plugins in attested order. `None` when
    /// everything is allowed.
    #[must_use]
    pub fn refusal(&self) -> Option<Refusal> {
        let why = |rule: &str| match (rule, self.problems.first()) {
            (NO_DECISION | INVALID_DECISION, Some(p)) => format!("rule `{rule}` ({p})"),
            _ => format!("rule `{rule}`"),
        };
        if !self.enclave.allow {
            return Some(Refusal::new(
                POLICY_DENIED,
                format!("the policy denied the enclave: {}", why(&self.enclave.rule)),
            ));
        }
        let p = self.plugins.iter().find(|p| !p.allow)?;
        let name = p
            .name
            .as_ref()
            .map_or_else(String::new, |n| format!(" ({n:?})"));
        Some(Refusal::new(
            POLICY_DENIED,
            format!(
                "the policy denied plugin {}{name}: {}",
                p.measurement,
                why(&p.rule)
            ),
        ))
    }

    /// Everything denied under `rule`, with the reason.
    pub(crate) fn deny_all(input: &PolicyInput, rule: &str, problem: String) -> Self {
        Self {
            enclave: deny(rule),
            plugins: input
                .plugins()
                .iter()
                .map(|(m, name)| plugin(*m, name.as_ref(), deny(rule), Grants::default()))
                .collect(),
            problems: vec![problem],
        }
    }

    /// Reads the value of `data.enclet.decision` for `input`.
    pub(crate) fn read(value: &Value, input: &PolicyInput) -> Self {
        let obj = match value {
            Value::Undefined => {
                return Self::deny_all(input, NO_DECISION, "the decision is undefined".into());
            }
            Value::Object(obj) => obj,
            _ => {
                return Self::deny_all(
                    input,
                    INVALID_DECISION,
                    "the decision is not an object".into(),
                );
            }
        };
        if let Some(k) = unknown_key(obj.keys(), &["enclave", "plugins"]) {
            return Self::deny_all(input, INVALID_DECISION, format!("unknown key {k}"));
        }
        let mut problems = Vec::new();
        let enclave = match obj.get(&Value::from("enclave")) {
            None => {
                problems.push("no enclave verdict".into());
                deny(NO_DECISION)
            }
            Some(v) => read_verdict(v, false).map_or_else(
                |p| {
                    problems.push(format!("enclave: {p}"));
                    deny(INVALID_DECISION)
                },
                |(verdict, _)| verdict,
            ),
        };
        let entries = obj.get(&Value::from("plugins"));
        let plugins = input
            .plugins()
            .iter()
            .map(|(m, name)| read_plugin(*m, name.as_ref(), entries, &mut problems))
            .collect();
        Self {
            enclave,
            plugins,
            problems,
        }
    }
}

fn read_plugin(
    m: Measurement,
    name: Option<&String>,
    entries: Option<&Value>,
    problems: &mut Vec<String>,
) -> PluginDecision {
    let entry = match entries {
        None | Some(Value::Object(_)) => {
            entries.and_then(|e| e.as_object().ok()?.get(&Value::from(m.to_hex())))
        }
        Some(_) => {
            problems.push("plugins is not an object".into());
            return plugin(m, name, deny(INVALID_DECISION), Grants::default());
        }
    };
    let Some(entry) = entry else {
        problems.push(format!("no decision for plugin {m}"));
        return plugin(m, name, deny(NO_DECISION), Grants::default());
    };
    match read_verdict(entry, true) {
        Ok((verdict, grants)) if verdict.allow => plugin(m, name, verdict, grants),
        Ok((verdict, _)) => plugin(m, name, verdict, Grants::default()),
        Err(p) => {
            problems.push(format!("plugin {m}: {p}"));
            plugin(m, name, deny(INVALID_DECISION), Grants::default())
        }
    }
}

/// What an allowed plugin's verdict grants.
#[derive(Default)]
struct Grants {
    secrets: Vec<String>,
    capabilities: Vec<String>,
}

fn plugin(m: Measurement, name: Option<&String>, v: RuleVerdict, grants: Grants) -> PluginDecision {
    PluginDecision {
        measurement: m,
        name: name.cloned(),
        allow: v.allow,
        rule: v.rule,
        secrets: grants.secrets,
        capabilities: grants.capabilities,
    }
}

fn deny(rule: &str) -> RuleVerdict {
    RuleVerdict {
        allow: false,
        rule: rule.to_owned(),
    }
}

/// `{allow: bool, rule: string}` (+ optional `secrets` and `capabilities`
/// for plugins).
fn read_verdict(v: &Value, plugin: bool) -> Result<(RuleVerdict, Grants), String> {
    let Value::Object(obj) = v else {
        return Err("the verdict is not an object".into());
    };
    let allowed: &[&str] = if plugin {
        &["allow", "rule", "secrets", "capabilities"]
    } else {
        &["allow", "rule"]
    };
    if let Some(k) = unknown_key(obj.keys(), allowed) {
        return Err(format!("unknown key {k}"));
    }
    let Some(Value::Bool(allow)) = obj.get(&Value::from("allow")) else {
        return Err("`allow` is not a boolean".into());
    };
    let rule = match obj.get(&Value::from("rule")) {
        Some(Value::String(s)) if valid_rule(s) => s.to_string(),
        _ => {
            return Err(format!(
                "`rule` is not a rule name (1 to {MAX_RULE_LEN} of A-Z a-z 0-9 _ . : -)"
            ));
        }
    };
    let secrets = match obj.get(&Value::from("secrets")) {
        None => Vec::new(),
        Some(Value::Array(a)) => read_secrets(a.iter())?,
        Some(Value::Set(s)) => read_secrets(s.iter())?,
        Some(_) => return Err("`secrets` is not an array of strings".into()),
    };
    let capabilities = match obj.get(&Value::from("capabilities")) {
        None => Vec::new(),
        Some(Value::Array(a)) => read_capabilities(a.iter())?,
        Some(Value::Set(s)) => read_capabilities(s.iter())?,
        Some(_) => return Err("`capabilities` is not an array of strings".into()),
    };
    Ok((
        RuleVerdict {
            allow: *allow,
            rule,
        },
        Grants {
            secrets,
            capabilities,
        },
    ))
}

/// Capabilities a policy grants besides secrets (which `secrets` grants).
pub const POLICY_CAPABILITIES: &[&str] = &["log"];

fn read_capabilities<'a>(
    items: impl ExactSizeIterator<Item = &'a Value>,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Value::String(s) = item else {
            return Err("`capabilities` is not an array of strings".into());
        };
        let Some(known) = POLICY_CAPABILITIES.iter().find(|k| **k == s.as_ref()) else {
            let shown: String = s.chars().take(64).collect();
            return Err(format!(
                "unknown capability {shown:?} (known: {}; secrets are granted with `secrets`)",
                POLICY_CAPABILITIES.join(", ")
            ));
        };
        if !out.iter().any(|o| o == known) {
            out.push((*known).to_owned());
        }
    }
    Ok(out)
}

fn read_secrets<'a>(
    items: impl ExactSizeIterator<Item = &'a Value>,
) -> Result<Vec<String>, String> {
    if items.len() > MAX_SECRETS {
        return Err(format!("more than {MAX_SECRETS} secrets"));
    }
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Value::String(s) = item else {
            return Err("`secrets` is not an array of strings".into());
        };
        if s.is_empty() || s.len() > MAX_SECRET_NAME_LEN || s.chars().any(char::is_control) {
            return Err(format!(
                "a secret name is empty, longer than {MAX_SECRET_NAME_LEN} bytes or has control characters"
            ));
        }
        if !out.iter().any(|o| o.as_str() == s.as_ref()) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

fn valid_rule(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_RULE_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// The first key that is not a string among `allowed`, rendered for a message.
fn unknown_key<'a>(mut keys: impl Iterator<Item = &'a Value>, allowed: &[&str]) -> Option<String> {
    keys.find(|k| !matches!(k, Value::String(s) if allowed.contains(&s.as_ref())))
        .map(|k| match k {
            Value::String(s) => format!("{:?}", truncate(s)),
            _ => "(not a string)".into(),
        })
}

fn truncate(s: &str) -> &str {
    s.char_indices()
        .nth(MAX_RULE_LEN)
        .map_or(s, |(i, _)| s.get(..i).unwrap_or(s))
}
