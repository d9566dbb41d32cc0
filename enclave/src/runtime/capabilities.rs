//! The capability gate: every capability-gated host call (`secrets.get`,
//! `log`, and every gated import to come) asks [`Gate::check`] first.
//!
//! ```text
//!  Release { bundle, tokens } ─▶ parse_tokens: each verified under the capability
//!      root, minted for the plugin it is listed for ─▶ installed with the secrets
//!  invoke(plugin) ─▶ Gate (this plugin's token, the enclave key, the clock)
//!  gated call ─▶ Gate::check("secret:k") ─▶ token.authorize(plugin, key, cap, now)
//!                 Ok | Denied (no token, not granted, other plugin or key) | Expired
//! ```
//!
//! * With [`CapabilityGate::InsecureUngated`] (development) every check
//!   passes; the binary warns at start-up.
//! * Tokens are replaced with every release, like the secrets: a plugin the
//!   last release had no token for is denied every gated call.
//! * A check's outcome is remembered for the rest of the invocation (at
//!   most [`MAX_REMEMBERED`] capabilities), so a plugin that logs a hundred
//!   records pays for one Datalog evaluation, not a hundred. An invocation
//!   is bounded by its deadline (at most a minute), so a token that expires
//!   during a call ends that call's grant at the call's end at the latest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use enclet_attestation::Measurement;
use enclet_capability::{CallContext, CapabilityError, CapabilityToken};
use enclet_protocol::PluginToken;

use super::config::CapabilityGate;
use super::secrets::ReleaseError;
use crate::clock::Clock;

/// Most distinct capabilities one invocation's outcomes are remembered for.
pub(crate) const MAX_REMEMBERED: usize = 64;

/// The tokens of one release, by plugin.
pub(crate) type Tokens = BTreeMap<Measurement, Arc<CapabilityToken>>;

/// Verifies a release's tokens under the gate's root.
///
/// # Errors
/// [`ReleaseError::InvalidToken`] naming the plugin when a token does not
/// verify, was minted for another plugin, or a plugin has two.
pub(crate) fn parse_tokens(
    gate: &CapabilityGate,
    tokens: Vec<PluginToken>,
) -> Result<Tokens, ReleaseError> {
    let CapabilityGate::Tokens(root) = gate else {
        if !tokens.is_empty() {
            tracing::debug!(
                tokens = tokens.len(),
                "capability tokens ignored: not checked here"
            );
        }
        return Ok(Tokens::new());
    };
    let mut out = Tokens::new();
    for PluginToken { plugin, token } in tokens {
        let invalid = |reason: String| ReleaseError::InvalidToken {
            measurement: plugin.to_hex(),
            reason,
        };
        let parsed = CapabilityToken::parse(&token, root).map_err(|e| invalid(e.to_string()))?;
        if parsed.plugin() != plugin.to_hex() {
            return Err(invalid(format!(
                "minted for plugin {}",
                parsed.plugin().chars().take(96).collect::<String>()
            )));
        }
        if out.insert(plugin, Arc::new(parsed)).is_some() {
            return Err(invalid("two tokens for one plugin".to_owned()));
        }
    }
    Ok(out)
}

/// One invocation's gate.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Development: nothing is checked.
    Ungated,
    /// Everything is denied (the trial instantiation at load).
    DenyAll,
    /// Checked against this plugin's token.
    Tokens(Box<TokenGate>),
}

/// What a token check needs, and the outcomes so far.
#[derive(Debug)]
pub(crate) struct TokenGate {
    pub(crate) token: Option<Arc<CapabilityToken>>,
    pub(crate) plugin: String,
    pub(crate) enclave_key: Arc<[u8]>,
    pub(crate) clock: Arc<dyn Clock>,
    remembered: Mutex<Vec<(String, Result<(), CapabilityError>)>>,
}

impl Gate {
    /// The gate of one invocation of `plugin`.
    pub(crate) fn new(
        config: &CapabilityGate,
        token: Option<Arc<CapabilityToken>>,
        plugin: &Measurement,
        enclave_key: Arc<[u8]>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        match config {
            CapabilityGate::InsecureUngated => Self::Ungated,
            CapabilityGate::Tokens(_) => Self::Tokens(Box::new(TokenGate {
                token,
                plugin: plugin.to_hex(),
                enclave_key,
                clock,
                remembered: Mutex::default(),
            })),
        }
    }

    /// Allows a call that needs `capability`, or says why not.
    ///
    /// # Errors
    /// [`CapabilityError::Denied`] or [`CapabilityError::Expired`].
    pub(crate) fn check(&self, capability: &str) -> Result<(), CapabilityError> {
        let gate = match self {
            Self::Ungated => return Ok(()),
            Self::DenyAll => {
                return Err(CapabilityError::Denied {
                    capability: capability.to_owned(),
                });
            }
            Self::Tokens(gate) => gate,
        };
        let mut remembered = gate
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, outcome)) = remembered.iter().find(|(c, _)| c == capability) {
            return outcome.clone();
        }
        let outcome = match &gate.token {
            None => Err(CapabilityError::Denied {
                capability: capability.to_owned(),
            }),
            Some(token) => token.authorize(&CallContext {
                plugin: &gate.plugin,
                enclave_key: &gate.enclave_key,
                capability,
                now: gate.clock.now(),
            }),
        };
        if remembered.len() < MAX_REMEMBERED {
            remembered.push((capability.to_owned(), outcome.clone()));
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
