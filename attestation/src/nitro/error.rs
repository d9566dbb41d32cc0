//! Why a Nitro attestation document was rejected.
//!
//! [`NitroError`] names the step that failed; chain and policy failures carry
//! their own sub-enums so that a caller can tell *which* certificate or *which*
//! PCR was at fault. [`NitroError::code`] is the stable, dotted string for
//! scripts (`nitro.parse.field`, `nitro.chain.expired`, …).

use core::fmt;

/// Why a Nitro attestation document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NitroError {
    /// The input is larger than any genuine document can be.
    #[error("document is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The outer `COSE_Sign1` structure is malformed.
    #[error("malformed COSE_Sign1 envelope: {0}")]
    Cose(String),
    /// The payload is not well-formed CBOR (or uses an encoding we refuse).
    #[error("malformed payload CBOR at byte {offset}: {reason}")]
    Cbor {
        /// Offset into the payload where decoding stopped.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// A payload field is missing, duplicated, unknown, of the wrong type or size.
    #[error("payload field `{field}`: {reason}")]
    Field {
        /// The field (map key) at fault.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The COSE algorithm is not ES384, the only one the NSM uses.
    #[error("unsupported COSE signature algorithm {0} (only ES384 is accepted)")]
    Algorithm(String),
    /// The COSE signature does not verify with the leaf certificate's key.
    #[error("COSE ES384 signature does not verify with the leaf certificate key")]
    Signature,
    /// A certificate of the chain failed a check.
    #[error("{cert}: {kind}")]
    Chain {
        /// Which certificate.
        cert: CertRef,
        /// What failed.
        kind: ChainError,
    },
    /// The document's timestamp is later than the verification time.
    #[error(
        "document timestamp {timestamp_secs} is after the verification time {now} (plus {skew_secs} s skew)"
    )]
    FromTheFuture {
        /// Document timestamp, seconds since the epoch.
        timestamp_secs: u64,
        /// Verification time, seconds since the epoch.
        now: u64,
        /// Allowed clock skew in seconds.
        skew_secs: u64,
    },
    /// The verified document does not meet the caller's policy.
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    /// The plugin event log does not replay to the document's plugin PCR
    /// (see [`super::PLUGIN_PCR`]), or the document lacks that PCR.
    #[error("event log: {0}")]
    EventLog(String),
}

impl NitroError {
    /// Stable code, see [`crate::Error::code`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "nitro.parse.too_large",
            Self::Cose(_) => "nitro.parse.cose",
            Self::Cbor { .. } => "nitro.parse.cbor",
            Self::Field { .. } => "nitro.parse.field",
            Self::Algorithm(_) => "nitro.signature.algorithm",
            Self::Signature => "nitro.signature",
            Self::Chain { kind, .. } => kind.code(),
            Self::FromTheFuture { .. } => "nitro.timestamp.future",
            Self::Policy(p) => p.code(),
            Self::EventLog(_) => "nitro.event_log",
        }
    }

    pub(crate) fn field(field: &str, reason: impl Into<String>) -> Self {
        Self::Field {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn chain(cert: CertRef, kind: ChainError) -> Self {
        Self::Chain { cert, kind }
    }
}

/// Names one certificate of a document's chain in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRef {
    /// Where it sits in the document.
    pub position: CertPosition,
    /// Its subject, RFC 4514 style, or empty if it could not be parsed.
    pub subject: String,
}

impl fmt::Display for CertRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subject.is_empty() {
            write!(f, "{}", self.position)
        } else {
            write!(f, "{} ({})", self.position, self.subject)
        }
    }
}

/// Where a certificate sits in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertPosition {
    /// The caller's pinned root, before any document is involved.
    PinnedRoot,
    /// `cabundle[i]`; index 0 is the root.
    CaBundle(usize),
    /// The `certificate` field: the leaf that signs the document.
    Leaf,
}

impl fmt::Display for CertPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PinnedRoot => f.write_str("pinned root certificate"),
            Self::CaBundle(i) => write!(f, "cabundle[{i}]"),
            Self::Leaf => f.write_str("leaf certificate"),
        }
    }
}

/// What was wrong with one certificate of the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// Not a well-formed X.509 certificate.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// `cabundle[0]` is not the pinned root certificate.
    #[error("not the pinned root certificate")]
    UntrustedRoot,
    /// The certificate's `notAfter` is before the verification time.
    #[error("expired: valid until {not_after}, checked at {now}")]
    Expired {
        /// `notAfter`, seconds since the epoch.
        not_after: i64,
        /// The verification time.
        now: u64,
    },
    /// The certificate's `notBefore` is after the verification time.
    #[error("not yet valid: valid from {not_before}, checked at {now}")]
    NotYetValid {
        /// `notBefore`, seconds since the epoch.
        not_before: i64,
        /// The verification time.
        now: u64,
    },
    /// The issuer name does not equal the previous certificate's subject.
    #[error("issuer name does not match the subject of the certificate before it")]
    IssuerMismatch,
    /// The signature does not verify with the issuer's key.
    #[error("signature does not verify with the issuer's key")]
    Signature,
    /// A signature or key algorithm we do not accept.
    #[error("unsupported algorithm: {0}")]
    Algorithm(String),
    /// Basic constraints are missing or wrong for this position.
    #[error("basic constraints: {0}")]
    BasicConstraints(&'static str),
    /// The CA's path length constraint is exceeded.
    #[error("path length constraint {allowed} exceeded by {below} CA certificate(s) below it")]
    PathLen {
        /// The constraint.
        allowed: u32,
        /// Intermediate CA certificates below this one.
        below: usize,
    },
    /// Key usage is missing or does not allow the use made of the key.
    #[error("key usage: {0}")]
    KeyUsage(&'static str),
    /// An unrecognised critical extension.
    #[error("unsupported critical extension {0}")]
    CriticalExtension(String),
}

impl ChainError {
    /// Stable code, see [`crate::Error::code`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "nitro.chain.malformed",
            Self::UntrustedRoot => "nitro.chain.untrusted_root",
            Self::Expired { .. } => "nitro.chain.expired",
            Self::NotYetValid { .. } => "nitro.chain.not_yet_valid",
            Self::IssuerMismatch => "nitro.chain.issuer_mismatch",
            Self::Signature => "nitro.chain.signature",
            Self::Algorithm(_) => "nitro.chain.algorithm",
            Self::BasicConstraints(_) => "nitro.chain.basic_constraints",
            Self::PathLen { .. } => "nitro.chain.path_len",
            Self::KeyUsage(_) => "nitro.chain.key_usage",
            Self::CriticalExtension(_) => "nitro.chain.critical_extension",
        }
    }
}

/// A verified document that does not meet the caller's [`super::NitroPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// One or more PCRs differ from the expected values (all mismatches listed).
    #[error("{}", PcrMismatchList(.0))]
    PcrMismatch(Vec<PcrMismatch>),
    /// The enclave runs in debug mode (PCR0, PCR1 and PCR2 all zero).
    #[error("debug-mode enclave (PCR0/1/2 all zero) and the policy does not allow debug")]
    Debug,
    /// The document is older than the policy's maximum age.
    #[error("document is {age_secs} s old, more than the allowed {max_age_secs} s")]
    TooOld {
        /// Age at the verification time.
        age_secs: u64,
        /// The policy's limit.
        max_age_secs: u64,
    },
    /// The nonce is absent or differs from the expected one.
    #[error("nonce is {} but the policy expects {}", opt_hex(.actual.as_deref()), hex::encode(.expected))]
    Nonce {
        /// Expected value.
        expected: Vec<u8>,
        /// Value in the document.
        actual: Option<Vec<u8>>,
    },
    /// `user_data` is absent or differs from the expected value.
    #[error("user_data is {} but the policy expects {}", opt_hex(.actual.as_deref()), hex::encode(.expected))]
    UserData {
        /// Expected value.
        expected: Vec<u8>,
        /// Value in the document.
        actual: Option<Vec<u8>>,
    },
    /// `public_key` is absent or differs from the expected value.
    #[error("public_key is {} but the policy expects {}", opt_hex(.actual.as_deref()), hex::encode(.expected))]
    PublicKey {
        /// Expected value.
        expected: Vec<u8>,
        /// Value in the document.
        actual: Option<Vec<u8>>,
    },
    /// A policy was built with an empty set of expected PCRs.
    #[error(
        "no expected PCR values given; use NitroPolicy::insecure_any_image() to accept any image"
    )]
    NoExpectedPcrs,
}

impl PolicyError {
    /// Stable code, see [`crate::Error::code`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::PcrMismatch(_) => "nitro.policy.pcr_mismatch",
            Self::Debug => "nitro.policy.debug",
            Self::TooOld { .. } => "nitro.policy.too_old",
            Self::Nonce { .. } => "nitro.policy.nonce",
            Self::UserData { .. } => "nitro.policy.user_data",
            Self::PublicKey { .. } => "nitro.policy.public_key",
            Self::NoExpectedPcrs => "nitro.policy.no_expected_pcrs",
        }
    }
}

/// One PCR whose value differs from the policy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrMismatch {
    /// PCR index, 0–31.
    pub index: u8,
    /// The value the policy expects.
    pub expected: Vec<u8>,
    /// The value in the document, or `None` if the document lacks this PCR.
    pub actual: Option<Vec<u8>>,
}

impl fmt::Display for PcrMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PCR{} is {}, expected {}",
            self.index,
            opt_hex(self.actual.as_deref()),
            hex::encode(&self.expected)
        )
    }
}

struct PcrMismatchList<'a>(&'a [PcrMismatch]);

impl fmt::Display for PcrMismatchList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PCR mismatch: ")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

fn opt_hex(v: Option<&[u8]>) -> String {
    v.map_or_else(|| "absent".to_owned(), hex::encode)
}
