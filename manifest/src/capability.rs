//! The capabilities a plugin may request in its manifest.
//!
//! ```text
//! log            write structured log records (the `log` interface)
//! secret:NAME    read the released secret NAME (the `secrets` interface);
//!                NAME is 1..=64 characters of [A-Za-z0-9._-]
//! ```
//!
//! A manifest only *requests*: the control plane's policy grants at most
//! what was requested, and the enclave enforces the grant.

use core::fmt;
use core::str::FromStr;

use crate::ManifestError;

/// Longest secret name in a capability.
pub const MAX_SECRET_NAME: usize = 64;

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Write log records.
    Log,
    /// Read the secret with this name.
    Secret(String),
}

impl FromStr for Capability {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "log" {
            return Ok(Self::Log);
        }
        match s.strip_prefix("secret:") {
            Some(name) if valid_name(name) => Ok(Self::Secret(name.to_owned())),
            Some(_) => Err(ManifestError::Field {
                field: "capabilities",
                reason: format!(
                    "{:?}: a secret name is 1..={MAX_SECRET_NAME} characters of [A-Za-z0-9._-]",
                    truncated(s)
                ),
            }),
            None => Err(ManifestError::UnknownCapability(truncated(s))),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log => f.write_str("log"),
            Self::Secret(name) => write!(f, "secret:{name}"),
        }
    }
}

/// The name rule of plugins and secrets: 1..=64 characters of `[A-Za-z0-9._-]`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SECRET_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// At most 80 characters of untrusted text, for error messages.
pub(crate) fn truncated(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_capabilities_parse_and_print_back() {
        for s in ["log", "secret:payout-hmac-key", "secret:a.b_c-1"] {
            assert_eq!(s.parse::<Capability>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn close_variants_are_refused_naming_them() {
        for s in ["logs", "Log", "secret", "network", " log"] {
            assert_eq!(
                s.parse::<Capability>(),
                Err(ManifestError::UnknownCapability(s.to_owned())),
                "{s}"
            );
        }
        for s in [
            "secret:",
            "secret:a b",
            "secret:ä",
            &format!("secret:{}", "n".repeat(65)),
        ] {
            let e = s.parse::<Capability>().unwrap_err();
            assert!(
                matches!(
                    e,
                    ManifestError::Field {
                        field: "capabilities",
                        ..
                    }
                ),
                "{s}: {e}"
            );
        }
    }
}
