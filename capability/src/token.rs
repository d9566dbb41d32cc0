//! Minting a capability token (control plane) and checking one on a gated
//! host call (enclave).
//!
//! The authority block the control plane signs:
//!
//! ```text
//! enclet_plugin("<measurement hex>");  expires_at(<unix seconds>);
//! right("log");  right("secret:payout-api-key");   // what policy granted
//! check if plugin("<measurement hex>");           // only this plugin …
//! check if enclave_key(hex:<attested X25519 key>); // … in this enclave …
//! check if time($t), $t < <expiry as a date>;      // … until the expiry
//! ```
//!
//! The enclave's authorizer adds the facts of the call, `plugin(..)` (the
//! invoking plugin), `enclave_key(..)` (its own attested key), `time(..)`
//! (its clock) and `operation(..)` (the capability asked for), and one
//! policy, `allow if operation($op), right($op)`. Authorizer rules only
//! trust the authority block, so a `right` fact an attenuation block adds
//! grants nothing, while a `check` it adds still narrows the token.
//!
//! The expiry is also read out of the authority block at parse time, so an
//! expired token is told apart from a denied call ([`CapabilityError::Expired`]
//! vs [`CapabilityError::Denied`]). Datalog runs under explicit limits
//! ([`RUN_LIMITS`]): our programs are a dozen facts, and the library's
//! default 1 ms time limit would turn a busy machine into spurious denials.

use std::collections::HashMap;
use std::time::Duration;

use biscuit_auth::builder::{self, Term};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, BiscuitBuilder};

use crate::{CapabilityError, RootKey, RootPublicKey};

/// Largest serialized token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Most capabilities one token grants.
pub const MAX_CAPABILITIES: usize = 64;
/// Longest capability name, in bytes.
pub const MAX_CAPABILITY_BYTES: usize = 80;

/// Limits on every Datalog evaluation of a token.
pub const RUN_LIMITS: AuthorizerLimits = AuthorizerLimits {
    max_facts: 1_000,
    max_iterations: 100,
    max_time: Duration::from_secs(1),
};

/// What the control plane grants one plugin in one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant<'a> {
    /// The plugin's measurement, lower-case hex.
    pub plugin: &'a str,
    /// The enclave's attested public key (raw bytes).
    pub enclave_key: &'a [u8],
    /// Granted capabilities (`log`, `secret:NAME`).
    pub capabilities: &'a [String],
    /// Expiry, Unix seconds.
    pub expires_at: u64,
}

/// A token as minted: its bytes and its revocation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The serialized Biscuit.
    pub bytes: Vec<u8>,
    /// Hex revocation id of the authority block: the id `revoke token` takes.
    pub id: String,
}

/// Signs a token for `grant` with `root`.
///
/// # Errors
/// [`CapabilityError::InvalidCapability`] for a name outside
/// `[a-z0-9:._-]`, over [`MAX_CAPABILITY_BYTES`], or more than
/// [`MAX_CAPABILITIES`]; [`CapabilityError::InvalidToken`] for a plugin that
/// is not hex; [`CapabilityError::Internal`] if the library fails.
pub fn mint(root: &RootKey, grant: &TokenGrant<'_>) -> Result<MintedToken, CapabilityError> {
    if grant.capabilities.len() > MAX_CAPABILITIES {
        return Err(CapabilityError::InvalidCapability(format!(
            "{} capabilities (at most {MAX_CAPABILITIES})",
            grant.capabilities.len()
        )));
    }
    if grant.plugin.is_empty() || !grant.plugin.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CapabilityError::InvalidToken(
            "the plugin measurement is not hex".to_owned(),
        ));
    }
    let internal = |e: biscuit_auth::error::Token| CapabilityError::Internal(e.to_string());
    let mut authority = BiscuitBuilder::new()
        .fact(builder::fact(
            "enclet_plugin",
            &[builder::string(grant.plugin)],
        ))
        .map_err(internal)?
        .fact(builder::fact(
            "expires_at",
            &[Term::Integer(seconds(grant.expires_at))],
        ))
        .map_err(internal)?;
    for capability in grant.capabilities {
        check_capability(capability)?;
        authority = authority
            .fact(builder::fact("right", &[builder::string(capability)]))
            .map_err(internal)?;
    }
    let params = HashMap::from([
        ("plugin".to_owned(), builder::string(grant.plugin)),
        ("key".to_owned(), builder::bytes(grant.enclave_key)),
        ("expiry".to_owned(), Term::Date(grant.expires_at)),
    ]);
    let token = authority
        .code_with_params(
            "check if plugin({plugin});\n\
             check if enclave_key({key});\n\
             check if time($t), $t < {expiry};",
            params,
            HashMap::new(),
        )
        .map_err(internal)?
        .build(root.keypair())
        .map_err(internal)?;
    let bytes = token.to_vec().map_err(internal)?;
    Ok(MintedToken {
        bytes,
        id: authority_id(&token),
    })
}

/// The call a token is asked to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext<'a> {
    /// The invoking plugin's measurement, lower-case hex.
    pub plugin: &'a str,
    /// This enclave's attested public key.
    pub enclave_key: &'a [u8],
    /// The capability the call needs.
    pub capability: &'a str,
    /// The enclave's clock, Unix seconds.
    pub now: u64,
}

/// A token whose signature chain verified under the root key.
#[derive(Clone)]
pub struct CapabilityToken {
    biscuit: Biscuit,
    plugin: String,
    expires_at: u64,
    ids: Vec<String>,
}

impl core::fmt::Debug for CapabilityToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CapabilityToken")
            .field("id", &self.id())
            .field("plugin", &self.plugin)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl CapabilityToken {
    /// Verifies `bytes` under `root` and reads the plugin and expiry it was
    /// minted for.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidToken`]: oversized, not a Biscuit, a
    /// signature that does not verify under `root` (another key, a block
    /// changed or removed), or no single `enclet_plugin` / `expires_at` fact.
    pub fn parse(bytes: &[u8], root: &RootPublicKey) -> Result<Self, CapabilityError> {
        if bytes.len() > MAX_TOKEN_BYTES {
            return Err(CapabilityError::InvalidToken(format!(
                "larger than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let invalid = |e: biscuit_auth::error::Token| CapabilityError::InvalidToken(e.to_string());
        let biscuit = Biscuit::from(bytes, root.key()).map_err(invalid)?;
        let mut authorizer = AuthorizerBuilder::new()
            .set_limits(RUN_LIMITS)
            .build(&biscuit)
            .map_err(invalid)?;
        let plugins: Vec<(String,)> = authorizer
            .query("data($p) <- enclet_plugin($p)")
            .map_err(invalid)?;
        let expiries: Vec<(i64,)> = authorizer
            .query("data($t) <- expires_at($t)")
            .map_err(invalid)?;
        let ([(plugin,)], [(expires_at,)]) = (plugins.as_slice(), expiries.as_slice()) else {
            return Err(CapabilityError::InvalidToken(
                "not an enclet token: needs exactly one enclet_plugin and one expires_at fact"
                    .to_owned(),
            ));
        };
        let expires_at = u64::try_from(*expires_at)
            .map_err(|_| CapabilityError::InvalidToken("expires_at is negative".to_owned()))?;
        let ids = biscuit
            .revocation_identifiers()
            .iter()
            .map(hex::encode)
            .collect();
        Ok(Self {
            plugin: plugin.clone(),
            expires_at,
            ids,
            biscuit,
        })
    }

    /// The plugin the token was minted for (measurement hex).
    #[must_use]
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Expiry, Unix seconds.
    #[must_use]
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Revocation id of the authority block (what the control plane recorded).
    #[must_use]
    pub fn id(&self) -> &str {
        self.ids.first().map_or("", String::as_str)
    }

    /// Revocation ids of every block: revoking any of them revokes the token.
    #[must_use]
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The token with an attenuation block appended (Datalog source): what
    /// a holder can do offline. It can only narrow what the token allows.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidToken`] if the block does not parse.
    pub fn attenuate(&self, block: &str) -> Result<Vec<u8>, CapabilityError> {
        let invalid = |e: biscuit_auth::error::Token| CapabilityError::InvalidToken(e.to_string());
        let block = builder::BlockBuilder::new().code(block).map_err(invalid)?;
        self.biscuit
            .append(block)
            .and_then(|b| b.to_vec())
            .map_err(invalid)
    }

    /// Allows the call, or says why not.
    ///
    /// # Errors
    /// [`CapabilityError::Expired`] at or after the expiry;
    /// [`CapabilityError::Denied`] when the token was minted for another
    /// plugin or enclave key, does not grant the capability, or a block's
    /// check fails.
    pub fn authorize(&self, call: &CallContext<'_>) -> Result<(), CapabilityError> {
        if call.now >= self.expires_at {
            return Err(CapabilityError::Expired {
                capability: call.capability.to_owned(),
                expires_at: self.expires_at,
                now: call.now,
            });
        }
        let denied = || CapabilityError::Denied {
            capability: call.capability.to_owned(),
        };
        let params = HashMap::from([
            ("plugin".to_owned(), builder::string(call.plugin)),
            ("key".to_owned(), builder::bytes(call.enclave_key)),
            ("now".to_owned(), Term::Date(call.now)),
            ("op".to_owned(), builder::string(call.capability)),
        ]);
        let mut authorizer = AuthorizerBuilder::new()
            .set_limits(RUN_LIMITS)
            .code_with_params(
                "plugin({plugin}); enclave_key({key}); time({now}); operation({op});\n\
                 allow if operation($op), right($op);",
                params,
                HashMap::new(),
            )
            .and_then(|a| a.build(&self.biscuit))
            .map_err(|_| denied())?;
        authorizer.authorize().map(|_| ()).map_err(|_| denied())
    }
}

fn authority_id(token: &Biscuit) -> String {
    token
        .revocation_identifiers()
        .first()
        .map(hex::encode)
        .unwrap_or_default()
}

fn seconds(unix: u64) -> i64 {
    i64::try_from(unix).unwrap_or(i64::MAX)
}

fn check_capability(capability: &str) -> Result<(), CapabilityError> {
    let ok = !capability.is_empty()
        && capability.len() <= MAX_CAPABILITY_BYTES
        && capability.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_uppercase()
                || b.is_ascii_digit()
                || b":._-".contains(&b)
        });
    if ok {
        Ok(())
    } else {
        Err(CapabilityError::InvalidCapability(
            capability.chars().take(MAX_CAPABILITY_BYTES).collect(),
        ))
    }
}

#[cfg(test)]
mod tests;
