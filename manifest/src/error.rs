//! The crate's one error type.

/// Why a manifest, key or signature was refused. Messages name the field or
/// input at fault and never include key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The manifest is larger than [`crate::manifest::MAX_MANIFEST_BYTES`].
    #[error("manifest is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Not UTF-8 TOML, or a field unknown, missing or of the wrong type.
    #[error("manifest: {0}")]
    Syntax(String),
    /// A field has a value outside its rule.
    #[error("manifest field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A capability this host does not know.
    #[error("manifest field `capabilities`: unknown capability {0:?} (known: log, secret:NAME)")]
    UnknownCapability(String),
    /// The manifest targets a host API version this enclave does not serve.
    #[error(
        "the plugin targets host API {wanted}; this enclave supports {supported} \
         (same major version, minor not newer)"
    )]
    UnsupportedHostApi {
        /// What the manifest asks for.
        wanted: String,
        /// What this build implements.
        supported: &'static str,
    },
    /// The component's SHA-384 is not the one the manifest pins.
    #[error("the component's SHA-384 is {actual}, the manifest pins {pinned}")]
    ComponentMismatch {
        /// The manifest's value.
        pinned: String,
        /// The bytes' value.
        actual: String,
    },
    /// A key file is not what was expected.
    #[error("key: {0}")]
    Key(String),
    /// A signature file is malformed (not base64 of a DER ECDSA signature).
    #[error("signature: {0}")]
    MalformedSignature(String),
    /// The signature does not verify with this key over these bytes.
    #[error("signature does not verify with this key over these bytes")]
    BadSignature,
}
