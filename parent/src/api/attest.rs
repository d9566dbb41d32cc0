//! The attestation endpoints and their JSON shapes.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | `GET` | `/v1/attester/identity` | — | [`IdentityJson`] |
//! | `POST` | `/v1/attester/activate` | [`ActivateJson`] | [`ActivatedJson`] |
//! | `POST` | `/v1/attest` | [`AttestJson`] | [`AttestationJson`] |
//!
//! Every byte field is lowercase hex. The parent only relays: a verifier
//! checks what these return against its own trust anchors (the parent is not
//! trusted). Bodies over [`MAX_JSON_BODY`] are refused with `body_too_large`,
//! unparsable ones with `invalid_request`; the enclave bounds each field.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use enclet_protocol::{AttesterIdentity, Evidence};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use crate::client::Attestation;

/// Largest accepted JSON body of the attestation endpoints.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// Bytes that travel as a lowercase hex string (the same type the control
/// plane's API uses).
pub use enclet_control_plane_api::Hex;

/// A PCR index as a JSON object key (`"16"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PcrIndex(pub u8);

impl<'de> Deserialize<'de> for PcrIndex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Object keys are strings; an internally tagged enum buffers them as such.
        let text = String::deserialize(d)?;
        text.parse()
            .map(PcrIndex)
            .map_err(|_| serde::de::Error::custom(format!("PCR index {text:?} is not 0..=255")))
    }
}

/// `GET /v1/attester/identity`: the attester's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityJson {
    /// The backend (`"tpm"`).
    pub attester: String,
    /// `TPM2B_PUBLIC` of the endorsement key.
    pub ek_public: Hex,
    /// DER certificate of the endorsement key.
    pub ek_certificate: Hex,
    /// `TPM2B_PUBLIC` of the attestation key.
    pub ak_public: Hex,
    /// Name of the attestation key.
    pub ak_name: Hex,
}

/// `POST /v1/attester/activate` body: a credential made for the EK and AK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateJson {
    /// Contents of the `TPM2B_ID_OBJECT`.
    pub id_object: Hex,
    /// Contents of the `TPM2B_ENCRYPTED_SECRET`.
    pub encrypted_secret: Hex,
}

/// `POST /v1/attester/activate` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivatedJson {
    /// The secret the attester recovered.
    pub secret: Hex,
}

/// `POST /v1/attest` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestJson {
    /// The verifier's fresh nonce (8 to 64 bytes).
    pub nonce: Hex,
}

/// `POST /v1/attest` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationJson {
    /// The attester's evidence.
    pub evidence: EvidenceJson,
    /// The canonical plugin event log the evidence binds.
    pub event_log: Hex,
    /// The enclave's public key (raw X25519) the evidence binds.
    pub public_key: Hex,
}

/// Evidence as JSON, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceJson {
    /// An NSM attestation document.
    Nitro {
        /// `COSE_Sign1` bytes.
        document: Hex,
    },
    /// A TPM 2.0 quote.
    Tpm {
        /// `TPMS_ATTEST`.
        attest: Hex,
        /// `TPMT_SIGNATURE`.
        signature: Hex,
        /// `TPM2B_PUBLIC` of the AK.
        ak_public: Hex,
        /// Quoted SHA-256 PCR values by index.
        pcrs: BTreeMap<PcrIndex, Hex>,
    },
}

impl From<AttesterIdentity> for IdentityJson {
    fn from(i: AttesterIdentity) -> Self {
        match i {
            AttesterIdentity::Tpm {
                ek_public,
                ek_certificate,
                ak_public,
                ak_name,
            } => Self {
                attester: "tpm".to_owned(),
                ek_public: Hex(ek_public),
                ek_certificate: Hex(ek_certificate),
                ak_public: Hex(ak_public),
                ak_name: Hex(ak_name),
            },
        }
    }
}

impl From<Attestation> for AttestationJson {
    fn from(a: Attestation) -> Self {
        let evidence = match a.evidence {
            Evidence::Nitro { document } => EvidenceJson::Nitro {
                document: Hex(document),
            },
            Evidence::Tpm(t) => EvidenceJson::Tpm {
                attest: Hex(t.attest),
                signature: Hex(t.signature),
                ak_public: Hex(t.ak_public),
                pcrs: t
                    .pcrs
                    .into_iter()
                    .map(|p| (PcrIndex(p.index), Hex(p.value)))
                    .collect(),
            },
        };
        Self {
            evidence,
            event_log: Hex(a.event_log),
            public_key: Hex(a.public_key),
        }
    }
}

/// `GET /v1/attester/identity`
pub(super) async fn identity(
    State(state): State<Arc<ApiState>>,
) -> Result<Json<IdentityJson>, ApiError> {
    let identity = state.enclave.client().await?.identity().await?;
    Ok(Json(identity.into()))
}

/// `POST /v1/attester/activate`
pub(super) async fn activate(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ActivatedJson>, ApiError> {
    let ActivateJson {
        id_object,
        encrypted_secret,
    } = parse(body)?;
    let secret = state
        .enclave
        .client()
        .await?
        .activate_credential(id_object.0, encrypted_secret.0)
        .await?;
    tracing::info!("credential activation relayed");
    Ok(Json(ActivatedJson {
        secret: Hex(secret),
    }))
}

/// `POST /v1/attest`
pub(super) async fn attest(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<AttestationJson>, ApiError> {
    let AttestJson { nonce } = parse(body)?;
    let attestation = state.enclave.client().await?.attest(nonce.0).await?;
    Ok(Json(attestation.into()))
}

/// Parses a bounded JSON body.
pub(super) fn parse<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = super::routes::body_bytes(body)?;
    if body.len() > MAX_JSON_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "a JSON body is at most {MAX_JSON_BODY} bytes, got {}",
                body.len()
            ),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("invalid JSON body: {e}"),
        )
    })
}

#[cfg(test)]
mod tests;
