//! # enclet-control-plane-api
//!
//! The request and answer shapes of the control plane's HTTPS API, shared by the
//! service (`enclet-control-plane`), the relay in `enclet-parent` and the `enclet`
//! CLI, so the three cannot drift apart. Serde types only: no I/O, no crypto.
//!
//! Every byte field travels as lowercase hex ([`Hex`]). Request bodies reject
//! unknown fields. Failures are an [`ErrorBody`] with a stable `code` (see
//! `docs/control-plane.md` for the table of codes and statuses).
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | `POST` | [`SESSIONS`] | [`OpenSession`] | [`SessionOpened`] |
//! | `POST` | `/v1/sessions/{session}/activation` | [`Activation`] | [`Activated`] |
//! | `POST` | `/v1/sessions/{session}/nonces` | — | [`NonceIssued`] |
//! | `POST` | `/v1/sessions/{session}/evidence` | [`EvidenceSubmission`] | [`Release`] |
//! | `GET` | [`HEALTH`] | — | [`Health`] |
//! | `PUT` | `/v1/admin/secrets/{name}` | raw value bytes | [`SecretInfo`] |
//! | `GET` | [`ADMIN_SECRETS`] | — | [`SecretList`] |
//! | `DELETE` | `/v1/admin/secrets/{name}` | — | [`SecretInfo`] |
//! | `POST` | [`ADMIN_REVOCATIONS`] | [`RevocationRequest`] | [`RevocationInfo`] (201, or 200 if already revoked) |
//! | `GET` | [`ADMIN_REVOCATIONS`] | — | [`RevocationInfoList`] |
//! | `GET` | [`REVOCATIONS`] | — | [`SignedRevocations`] |
//! | `POST` | [`REVOCATION_REPORTS`] | [`EnforcementReport`] | 204, no body |
//!
//! With the `client` feature, `client::ControlPlaneClient` calls these over
//! HTTPS, trusting only a pinned CA.
#![forbid(unsafe_code)]

#[cfg(feature = "client")]
pub mod client;
mod hex_bytes;

pub use hex_bytes::Hex;
use serde::{Deserialize, Serialize};

/// `POST`: open a session.
pub const SESSIONS: &str = "/v1/sessions";
/// `GET`: liveness.
pub const HEALTH: &str = "/v1/health";
/// `GET`: list secrets; `PUT`/`DELETE` `{ADMIN_SECRETS}/{name}`.
pub const ADMIN_SECRETS: &str = "/v1/admin/secrets";

/// `GET`: every revocation; `POST`: revoke ([`RevocationRequest`]). Admin token.
pub const ADMIN_REVOCATIONS: &str = "/v1/admin/revocations";
/// `GET`: the signed revocation list ([`SignedRevocations`]) for parents.
pub const REVOCATIONS: &str = "/v1/revocations";
/// `POST`: a parent's report of what its enclave enforced ([`EnforcementReport`]).
pub const REVOCATION_REPORTS: &str = "/v1/revocations/reports";

/// `/v1/sessions/{session}/activation`.
#[must_use]
pub fn activation_path(session: &str) -> String {
    format!("{SESSIONS}/{session}/activation")
}

/// `/v1/sessions/{session}/nonces`.
#[must_use]
pub fn nonces_path(session: &str) -> String {
    format!("{SESSIONS}/{session}/nonces")
}

/// `/v1/sessions/{session}/evidence`.
#[must_use]
pub fn evidence_path(session: &str) -> String {
    format!("{SESSIONS}/{session}/evidence")
}

/// `/v1/admin/secrets/{name}`.
#[must_use]
pub fn secret_path(name: &str) -> String {
    format!("{ADMIN_SECRETS}/{name}")
}

/// A failure: stable `snake_case` code and a human-readable message (never a
/// secret value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `nonce_replayed`.
    pub code: String,
    /// Why.
    pub message: String,
}

/// Which attester the enclave uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttesterKind {
    /// TPM 2.0 quotes; the session must activate the AK first.
    Tpm,
    /// AWS Nitro NSM documents; no identity is needed.
    Nitro,
}

/// `POST /v1/sessions` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// The enclave's attester.
    pub attester: AttesterKind,
    /// TPM: the keys to trust (required for `tpm`, absent for `nitro`).
    #[serde(default)]
    pub tpm: Option<TpmIdentity>,
}

/// A TPM's endorsement key (with certificate) and attestation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpmIdentity {
    /// `TPM2B_PUBLIC` of the endorsement key.
    pub ek_public: Hex,
    /// DER X.509 certificate of the endorsement key.
    pub ek_certificate: Hex,
    /// `TPM2B_PUBLIC` of the attestation key.
    pub ak_public: Hex,
}

/// `POST /v1/sessions` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOpened {
    /// Session id, 32 hex characters.
    pub session: String,
    /// When the session ends (Unix seconds).
    pub expires_at: u64,
    /// TPM: the credential the enclave must activate (`ActivateCredential`).
    pub credential: Option<Credential>,
}

/// A `TPM2_MakeCredential` result for the EK and the AK's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Contents of the `TPM2B_ID_OBJECT`.
    pub id_object: Hex,
    /// Contents of the `TPM2B_ENCRYPTED_SECRET`.
    pub encrypted_secret: Hex,
}

/// `POST /v1/sessions/{session}/activation` body: what the TPM recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The credential's secret as `ActivateCredential` returned it.
    pub secret: Hex,
}

/// `POST /v1/sessions/{session}/activation` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activated {
    /// The activated AK's name.
    pub ak_name: Hex,
}

/// `POST /v1/sessions/{session}/nonces` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceIssued {
    /// A fresh 32-byte nonce, accepted once, in this session, before `expires_at`.
    pub nonce: Hex,
    /// Unix seconds.
    pub expires_at: u64,
}

/// `POST /v1/sessions/{session}/evidence` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSubmission {
    /// The nonce the evidence binds.
    pub nonce: Hex,
    /// The evidence.
    pub evidence: Evidence,
    /// The canonical plugin event log the evidence binds.
    pub event_log: Hex,
    /// The enclave's X25519 public key the evidence binds.
    pub public_key: Hex,
    /// Names the parent gave the plugins (untrusted; for policy and audit only).
    #[serde(default)]
    pub plugins: Vec<PluginName>,
}

/// A plugin's measurement and the name the operator loaded it under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginName {
    /// SHA-384 of the component, 96 hex characters.
    pub measurement: String,
    /// The operator's name for it.
    pub name: String,
}

/// Evidence, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Evidence {
    /// A TPM 2.0 quote.
    Tpm {
        /// `TPMS_ATTEST`.
        attest: Hex,
        /// `TPMT_SIGNATURE`.
        signature: Hex,
        /// `TPM2B_PUBLIC` of the AK.
        ak_public: Hex,
        /// Quoted SHA-256 PCR values, ascending by index.
        pcrs: Vec<PcrValue>,
    },
    /// An NSM attestation document (`COSE_Sign1`).
    Nitro {
        /// The document.
        document: Hex,
    },
}

/// One quoted PCR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcrValue {
    /// Index.
    pub index: u8,
    /// Value.
    pub value: Hex,
}

/// `POST /v1/sessions/{session}/evidence` answer: what was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The session.
    pub session: String,
    /// When the released secrets or, if earlier, the capability tokens
    /// expire (Unix seconds); re-attest before.
    pub expires_at: u64,
    /// The policy's decision per attested plugin, in load order.
    pub plugins: Vec<PluginRelease>,
    /// The sealed bundle (CBOR, `enclet-sealed`) for the enclave.
    pub bundle: Hex,
}

/// What one plugin was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRelease {
    /// Measurement, 96 hex characters.
    pub measurement: String,
    /// The name the parent reported, if any.
    pub name: Option<String>,
    /// The policy rule that decided.
    pub rule: String,
    /// Names of the secrets sealed for it (never values).
    pub secrets: Vec<String>,
    /// The capabilities its token grants (`log`, `secret:NAME`); empty when denied.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Its capability token (a Biscuit bound to this plugin, the attested
    /// enclave key and the token expiry); absent when denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Hex>,
    /// The token's revocation id (hex), what `enclet revoke token` takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// `GET /v1/health` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"`.
    pub status: String,
    /// The service version.
    pub version: String,
}

/// A stored secret's metadata (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Name.
    pub name: String,
    /// Version, from 1, bumped by each `put`.
    pub version: u64,
    /// Value size in bytes.
    pub size_bytes: u64,
    /// Last change, Unix milliseconds.
    pub updated_ms: u64,
}

/// `GET /v1/admin/secrets` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretList {
    /// By name.
    pub secrets: Vec<SecretInfo>,
}

/// `POST /v1/admin/revocations` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// `plugin`, `publisher` or `token`.
    pub kind: String,
    /// Measurement (96 hex), publisher key SHA-256 (64 hex) or token id (128 hex).
    pub value: String,
    /// Why (free text, at most 256 bytes, recorded in the audit log).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One revocation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationInfo {
    /// Position: the list's `sequence` once this revocation is in it (from 1).
    pub sequence: u64,
    /// `plugin`, `publisher` or `token`.
    pub kind: String,
    /// The revoked value, lower-case hex.
    pub value: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// When, Unix milliseconds.
    pub revoked_ms: u64,
}

/// `GET /v1/admin/revocations` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationInfoList {
    /// In revocation order.
    pub revocations: Vec<RevocationInfo>,
}

/// `GET /v1/revocations` answer: the list signed with the capability root
/// (`enclet_capability::Revocations`), for the enclave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRevocations {
    /// Revocations ever made (the signed list's `sequence`).
    pub sequence: u64,
    /// The signed list.
    pub list: Hex,
}

/// `POST /v1/revocations/reports` body: what an enclave enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementReport {
    /// The list's sequence the enclave applied.
    pub sequence: u64,
    /// Plugins it unloaded (measurements, hex).
    pub unloaded: Vec<String>,
    /// Capability tokens it dropped (revocation ids, hex).
    pub tokens_dropped: Vec<String>,
}

#[cfg(test)]
mod tests;
