//! Signed revocation lists: what the control plane has revoked, carried by
//! the (untrusted) parent to running enclaves.
//!
//! A list is a Biscuit signed with the capability root key whose authority
//! block holds one `enclet_revocations(sequence, issued_at)` fact and one
//! `revoked(kind, value)` fact per revocation:
//!
//! | kind        | value                                                       |
//! |-------------|-------------------------------------------------------------|
//! | `plugin`    | a plugin measurement (96 hex characters)                    |
//! | `publisher` | a publisher key's SHA-256 fingerprint (64 hex characters)   |
//! | `token`     | a capability token's revocation id (128 hex characters)     |
//!
//! * **Domain separation**: a capability token has no `enclet_revocations`
//!   fact and a list no `enclet_plugin` fact, so neither passes for the other
//!   although one key signs both.
//! * **Never shrinks**: revocations are never withdrawn; `sequence` counts
//!   them, so an enclave refuses a list older than one it applied (a parent
//!   replaying an old list cannot un-revoke anything).
//! * Facts of appended blocks are not read: a holder cannot add or remove
//!   revocations. Bounded: [`MAX_LIST_BYTES`], [`MAX_REVOCATIONS`].

use std::collections::BTreeSet;
use std::time::Duration;

use biscuit_auth::builder::{self, Term};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, Biscuit, BiscuitBuilder};

use crate::{CapabilityError, RootKey, RootPublicKey};

/// Largest serialized list accepted, in bytes.
pub const MAX_LIST_BYTES: usize = 1024 * 1024;
/// Most revocations one list holds.
pub const MAX_REVOCATIONS: usize = 4096;

const LIST_LIMITS: AuthorizerLimits = AuthorizerLimits {
    max_facts: 10_000,
    max_iterations: 100,
    max_time: Duration::from_secs(2),
};

/// What can be revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RevocationKind {
    /// A plugin, by measurement.
    Plugin,
    /// Every plugin a publisher signed, by key fingerprint.
    Publisher,
    /// One capability token, by revocation id.
    Token,
}

impl RevocationKind {
    /// The kind's name in lists, the API and the CLI.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plugin => "plugin",
            Self::Publisher => "publisher",
            Self::Token => "token",
        }
    }

    /// Parses a kind name.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidRevocation`] naming the kind.
    pub fn parse(name: &str) -> Result<Self, CapabilityError> {
        match name {
            "plugin" => Ok(Self::Plugin),
            "publisher" => Ok(Self::Publisher),
            "token" => Ok(Self::Token),
            other => Err(CapabilityError::InvalidRevocation(format!(
                "unknown kind {:?} (plugin, publisher or token)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }

    /// Hex characters a value of this kind has.
    #[must_use]
    pub fn value_len(self) -> usize {
        match self {
            Self::Plugin => 96,
            Self::Publisher => 64,
            Self::Token => 128,
        }
    }

    /// Checks and normalizes (lower-cases) a value of this kind.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidRevocation`] naming the kind and the rule.
    pub fn value(self, value: &str) -> Result<String, CapabilityError> {
        if value.len() == self.value_len() && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(value.to_ascii_lowercase())
        } else {
            Err(CapabilityError::InvalidRevocation(format!(
                "a {} is {} hex characters",
                match self {
                    Self::Plugin => "plugin measurement",
                    Self::Publisher => "publisher key fingerprint (SHA-256)",
                    Self::Token => "token id",
                },
                self.value_len()
            )))
        }
    }
}

/// Everything revoked so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// How many revocations were ever made (never decreases).
    pub sequence: u64,
    /// When the list was signed, Unix seconds.
    pub issued_at: u64,
    /// Revoked `(kind, value)` pairs, values lower-case hex.
    pub revoked: BTreeSet<(RevocationKind, String)>,
}

impl Revocations {
    /// Is `value` of `kind` revoked.
    #[must_use]
    pub fn contains(&self, kind: RevocationKind, value: &str) -> bool {
        self.revoked.contains(&(kind, value.to_ascii_lowercase()))
    }

    /// Values of one kind.
    pub fn of(&self, kind: RevocationKind) -> impl Iterator<Item = &str> {
        self.revoked
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, v)| v.as_str())
    }

    /// Signs the list with `root`.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidRevocation`] for more than
    /// [`MAX_REVOCATIONS`] or a malformed value; [`CapabilityError::Internal`]
    /// if the library fails.
    pub fn sign(&self, root: &RootKey) -> Result<Vec<u8>, CapabilityError> {
        if self.revoked.len() > MAX_REVOCATIONS {
            return Err(CapabilityError::InvalidRevocation(format!(
                "more than {MAX_REVOCATIONS} revocations"
            )));
        }
        let internal = |e: biscuit_auth::error::Token| CapabilityError::Internal(e.to_string());
        let header = builder::fact(
            "enclet_revocations",
            &[
                Term::Integer(int(self.sequence)),
                Term::Integer(int(self.issued_at)),
            ],
        );
        let mut list = BiscuitBuilder::new().fact(header).map_err(internal)?;
        for (kind, value) in &self.revoked {
            kind.value(value)?;
            list = list
                .fact(builder::fact(
                    "revoked",
                    &[builder::string(kind.as_str()), builder::string(value)],
                ))
                .map_err(internal)?;
        }
        list.build(root.keypair())
            .and_then(|b| b.to_vec())
            .map_err(internal)
    }

    /// Verifies a signed list under `root` and reads it.
    ///
    /// # Errors
    /// [`CapabilityError::InvalidRevocation`]: oversized, not signed by
    /// `root`, not a revocation list, or a malformed entry.
    pub fn parse(bytes: &[u8], root: &RootPublicKey) -> Result<Self, CapabilityError> {
        let invalid = |reason: String| CapabilityError::InvalidRevocation(reason);
        if bytes.len() > MAX_LIST_BYTES {
            return Err(invalid(format!("larger than {MAX_LIST_BYTES} bytes")));
        }
        let token = |e: biscuit_auth::error::Token| invalid(e.to_string());
        let biscuit = Biscuit::from(bytes, root.key()).map_err(token)?;
        let mut authorizer = AuthorizerBuilder::new()
            .set_limits(LIST_LIMITS)
            .build(&biscuit)
            .map_err(token)?;
        let headers: Vec<(i64, i64)> = authorizer
            .query("data($s, $t) <- enclet_revocations($s, $t)")
            .map_err(token)?;
        let [(sequence, issued_at)] = headers.as_slice() else {
            return Err(invalid(
                "not a revocation list: needs exactly one enclet_revocations fact".to_owned(),
            ));
        };
        let entries: Vec<(String, String)> = authorizer
            .query("data($k, $v) <- revoked($k, $v)")
            .map_err(token)?;
        if entries.len() > MAX_REVOCATIONS {
            return Err(invalid(format!("more than {MAX_REVOCATIONS} revocations")));
        }
        let mut revoked = BTreeSet::new();
        for (kind, value) in entries {
            let kind = RevocationKind::parse(&kind)?;
            revoked.insert((kind, kind.value(&value)?));
        }
        let non_negative = |n: i64, what: &str| {
            u64::try_from(n).map_err(|_| invalid(format!("{what} is negative")))
        };
        Ok(Self {
            sequence: non_negative(*sequence, "sequence")?,
            issued_at: non_negative(*issued_at, "issued_at")?,
            revoked,
        })
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
