//! The versioned message enums carried in frame payloads.
//!
//! The parent sends [`Request`]s; the enclave answers each with one
//! [`Response`] carrying the same request id. Byte fields are CBOR byte
//! strings; measurements are 48-byte byte strings (SHA-384).

use enclet_attestation::Measurement;
use serde::{Deserialize, Serialize};

/// Parent → enclave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Compile and register a plugin component. Idempotent by measurement.
    Load {
        /// Operator-chosen name (for listings and logs).
        name: String,
        /// The component bytes.
        #[serde(with = "serde_bytes")]
        component: Vec<u8>,
        /// The limits asked for. `None`, and every limit left out of a
        /// [`LimitsRequest`], take the enclave's configured defaults.
        limits: Option<LimitsRequest>,
        /// The publisher's manifest and its signature. An enclave configured
        /// with publisher keys refuses a load without them; left off the wire
        /// when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed: Option<SignedManifest>,
    },
    /// Run a loaded plugin's `handle(input)`.
    Invoke {
        /// The plugin's measurement.
        #[serde(with = "crate::bytes::measurement")]
        plugin: Measurement,
        /// The input bytes.
        #[serde(with = "serde_bytes")]
        input: Vec<u8>,
    },
    /// List loaded plugins, in load order.
    ListPlugins,
    /// Unload a plugin: new calls are refused at once, calls already running
    /// finish, the unload is extended into the plugin PCR and appended to the
    /// event log, then [`Response::Unloaded`] answers.
    Unload {
        /// The plugin's measurement.
        #[serde(with = "crate::bytes::measurement")]
        plugin: Measurement,
    },
    /// Change a loaded plugin's limits: each limit given replaces the
    /// plugin's current one, the others stay. Calls already running keep
    /// their limits.
    SetLimits {
        /// The plugin's measurement.
        #[serde(with = "crate::bytes::measurement")]
        plugin: Measurement,
        /// The limits to change.
        limits: LimitsRequest,
    },
    /// Produce evidence over the plugin event log, bound to a verifier nonce.
    Attest {
        /// The verifier's nonce.
        #[serde(with = "serde_bytes")]
        nonce: Vec<u8>,
    },
    /// Liveness and summary.
    Health,
    /// The keys a verifier must trust before it trusts evidence (TPM: EK,
    /// its certificate, and the AK).
    Identity,
    /// Release the secret of a credential the verifier made for the enclave's
    /// endorsement and attestation keys (TPM `ActivateCredential`).
    ActivateCredential {
        /// Contents of the `TPM2B_ID_OBJECT` (without its size).
        #[serde(with = "serde_bytes")]
        id_object: Vec<u8>,
        /// Contents of the `TPM2B_ENCRYPTED_SECRET` (without its size).
        #[serde(with = "serde_bytes")]
        encrypted_secret: Vec<u8>,
    },
    /// Install the secrets the control plane sealed to the enclave key (an
    /// `enclet-sealed` bundle, opaque to the parent). The enclave opens all
    /// of it or none; on success it replaces the secrets of the previous
    /// release.
    Release {
        /// The sealed bundle (CBOR).
        #[serde(with = "serde_bytes")]
        bundle: Vec<u8>,
        /// Each plugin's capability token from the same release (checked
        /// by the enclave against its capability root; opaque here).
        #[serde(default)]
        tokens: Vec<PluginToken>,
    },
    /// Apply the control plane's signed revocation list: unload revoked
    /// plugins (and those of revoked publishers), drop revoked capability
    /// tokens, refuse them from now on.
    Revoke {
        /// The signed list (opaque to the parent).
        #[serde(with = "serde_bytes")]
        list: Vec<u8>,
    },
}

/// What the enclave did with a revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforced {
    /// The list's sequence, now in force.
    pub sequence: u64,
    /// Plugins unloaded because of it (their calls in flight finished first).
    pub unloaded: Vec<PluginInfo>,
    /// Revocation ids of installed capability tokens it revoked.
    pub tokens_dropped: Vec<String>,
}

/// One plugin's capability token, as the control plane minted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginToken {
    /// The plugin it was minted for.
    #[serde(with = "crate::bytes::measurement")]
    pub plugin: Measurement,
    /// The serialized Biscuit.
    #[serde(with = "serde_bytes")]
    pub token: Vec<u8>,
}

/// A publisher's manifest (TOML) and its cosign-format signature, checked
/// by the enclave before it compiles anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    /// The exact manifest bytes.
    #[serde(with = "serde_bytes")]
    pub manifest: Vec<u8>,
    /// base64 of the DER ECDSA P-256 signature over them.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// Enclave → parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Answer to [`Request::Load`].
    Loaded(LoadResult),
    /// Answer to [`Request::Invoke`]: the plugin's output.
    Output(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Answer to [`Request::ListPlugins`].
    Plugins(Vec<PluginInfo>),
    /// Answer to [`Request::Unload`]: the plugin that was unloaded.
    Unloaded(PluginInfo),
    /// Answer to [`Request::SetLimits`]: the plugin under its new limits.
    LimitsSet(PluginInfo),
    /// Answer to [`Request::Revoke`]: what this list changed.
    Enforced(Enforced),
    /// Answer to [`Request::Attest`].
    Attestation {
        /// Backend evidence.
        evidence: Evidence,
        /// The canonical plugin event log the evidence binds.
        #[serde(with = "serde_bytes")]
        event_log: Vec<u8>,
        /// The enclave's ephemeral public key (raw X25519) the evidence binds.
        #[serde(with = "serde_bytes")]
        public_key: Vec<u8>,
    },
    /// Answer to [`Request::Identity`].
    Identity(AttesterIdentity),
    /// Answer to [`Request::ActivateCredential`]: the recovered secret.
    CredentialActivated {
        /// The secret the credential carried.
        #[serde(with = "serde_bytes")]
        secret: Vec<u8>,
    },
    /// Answer to [`Request::Release`]: which loaded plugins now hold which
    /// secrets (names only).
    Released(Released),
    /// Answer to [`Request::Health`].
    Health(Health),
    /// The request failed (or, on id 0, the connection is being closed).
    Error(ErrorBody),
}

/// Resource limits of one plugin, all resolved (mirrors the enclave runtime's
/// limits); what the enclave reports a plugin runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Fuel per invocation.
    pub fuel: u64,
    /// Wall-clock deadline per invocation, in milliseconds.
    pub deadline_ms: u64,
    /// Largest linear memory, in bytes.
    pub max_memory_bytes: u64,
    /// Largest table, in elements.
    pub max_table_elements: u64,
    /// Largest accepted input, in bytes.
    pub max_input_bytes: u64,
    /// Largest accepted output, in bytes.
    pub max_output_bytes: u64,
}

/// Limits asked for at load; each one left out takes the enclave's default.
///
/// The enclave resolves a request against its own configured defaults, so the
/// parent never needs to know them and a parent and an enclave of different
/// builds agree on what a request means. On the wire only the limits given are
/// present: a CBOR map with zero to six of the [`Limits`] keys, each an
/// unsigned integer. Decoding is strict: `null` for a limit, an unknown key or
/// a repeated key is malformed, so a limit the enclave does not know is never
/// silently dropped. A map with all six keys is exactly an encoded [`Limits`],
/// so loads with full limits from earlier parents decode unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// Fuel per invocation.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub fuel: Option<u64>,
    /// Wall-clock deadline per invocation, in milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub deadline_ms: Option<u64>,
    /// Largest linear memory, in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_memory_bytes: Option<u64>,
    /// Largest table, in elements.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_table_elements: Option<u64>,
    /// Largest accepted input, in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_input_bytes: Option<u64>,
    /// Largest accepted output, in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_output_bytes: Option<u64>,
}

impl LimitsRequest {
    /// Whether no limit is given (the enclave's defaults apply to all).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl From<Limits> for LimitsRequest {
    /// A request for exactly these limits.
    fn from(l: Limits) -> Self {
        Self {
            fuel: Some(l.fuel),
            deadline_ms: Some(l.deadline_ms),
            max_memory_bytes: Some(l.max_memory_bytes),
            max_table_elements: Some(l.max_table_elements),
            max_input_bytes: Some(l.max_input_bytes),
            max_output_bytes: Some(l.max_output_bytes),
        }
    }
}

/// A limit that is on the wire must be a number: an absent one is left out of
/// the map (serde's `default`), never encoded as `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    u64::deserialize(d).map(Some)
}

/// A loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Operator-chosen name.
    pub name: String,
    /// SHA-384 of the component bytes.
    #[serde(with = "crate::bytes::measurement")]
    pub measurement: Measurement,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// The limits it runs under.
    pub limits: Limits,
}

/// Result of a load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadResult {
    /// The plugin.
    pub info: PluginInfo,
    /// False when the same bytes were already loaded.
    pub newly_loaded: bool,
}

/// Evidence from the enclave's attester, as raw wire structures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// An NSM attestation document (`COSE_Sign1`).
    Nitro {
        /// The document bytes.
        #[serde(with = "serde_bytes")]
        document: Vec<u8>,
    },
    /// A TPM 2.0 quote.
    Tpm(TpmEvidence),
}

/// Who is attesting: the keys a verifier establishes trust in before it
/// accepts any evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttesterIdentity {
    /// A TPM's endorsement key (with its certificate) and attestation key.
    Tpm {
        /// `TPM2B_PUBLIC` of the endorsement key.
        #[serde(with = "serde_bytes")]
        ek_public: Vec<u8>,
        /// DER X.509 certificate of the endorsement key.
        #[serde(with = "serde_bytes")]
        ek_certificate: Vec<u8>,
        /// `TPM2B_PUBLIC` of the attestation key.
        #[serde(with = "serde_bytes")]
        ak_public: Vec<u8>,
        /// TPM name of the attestation key (`nameAlg || H(TPMT_PUBLIC)`).
        #[serde(with = "serde_bytes")]
        ak_name: Vec<u8>,
    },
}

/// A TPM quote with what a verifier needs to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpmEvidence {
    /// `TPMS_ATTEST` bytes.
    #[serde(with = "serde_bytes")]
    pub attest: Vec<u8>,
    /// `TPMT_SIGNATURE` over `attest`.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
    /// `TPM2B_PUBLIC` of the attestation key.
    #[serde(with = "serde_bytes")]
    pub ak_public: Vec<u8>,
    /// Quoted PCR values (SHA-256 bank), ascending by index.
    pub pcrs: Vec<PcrValue>,
}

/// One quoted PCR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcrValue {
    /// PCR index.
    pub index: u8,
    /// Digest value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// What a release installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// When the secrets expire (Unix seconds); the enclave stops serving them then.
    pub expires_at: u64,
    /// Per plugin that received secrets, the names (never values).
    pub plugins: Vec<ReleasedPlugin>,
}

/// The secrets one plugin holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedPlugin {
    /// The plugin's measurement.
    #[serde(with = "crate::bytes::measurement")]
    pub measurement: Measurement,
    /// Secret names, sorted.
    pub secrets: Vec<String>,
}

/// Enclave health summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Protocol version the enclave speaks.
    pub protocol_version: u16,
    /// Number of loaded plugins.
    pub plugins: u64,
    /// Attester backend name, if one is configured.
    pub attester: Option<String>,
    /// Invocations running right now (holding an instance slot).
    pub invocations_running: u64,
    /// Milliseconds since the enclave server started.
    pub uptime_ms: u64,
}

/// A failure with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable `snake_case` code, e.g. `out_of_fuel`, `unknown_plugin`, `malformed_frame`.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    #[must_use]
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}
