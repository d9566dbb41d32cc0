//! The requests the attester sends and the checks on each answer.
//!
//! Sizes are checked before a request is built, against the limits the NSM
//! enforces (and the verifier's parser repeats): `nonce` and `user_data` up
//! to 512 bytes, `public_key` up to 1024. Every answer is matched against
//! the one response kind its request calls for.

use aws_nitro_enclaves_nsm_api::api::{Digest, Request, Response};
use enclet_attestation::nitro::{MAX_DOCUMENT_LEN, MAX_NONCE_LEN, MAX_PUBLIC_KEY_LEN};
use serde_bytes::ByteBuf;

use super::error::NsmError;
use crate::{AttestationRequest, AttesterError};

/// Length of a SHA-384 PCR.
pub(super) const PCR_LEN: usize = 48;

/// What `DescribeNSM` says that the attester relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Description {
    pub(super) module_id: String,
    pub(super) max_pcrs: u16,
    pub(super) locked: Vec<u16>,
    pub(super) sha384: bool,
}

/// The state of one PCR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PcrState {
    pub(super) locked: bool,
    pub(super) value: [u8; PCR_LEN],
}

/// A response kind, named for error messages (never the payload).
fn kind(r: &Response) -> String {
    match r {
        Response::DescribePCR { .. } => "DescribePCR".into(),
        Response::ExtendPCR { .. } => "ExtendPCR".into(),
        Response::LockPCR => "LockPCR".into(),
        Response::LockPCRs => "LockPCRs".into(),
        Response::DescribeNSM { .. } => "DescribeNSM".into(),
        Response::Attestation { .. } => "Attestation".into(),
        Response::GetRandom { .. } => "GetRandom".into(),
        Response::Error(_) => "an error".into(),
        _ => "an unknown response".into(),
    }
}

/// The error for an answer that is not `expected`.
fn unexpected(operation: &'static str, r: &Response) -> AttesterError {
    match r {
        Response::Error(code) => NsmError::Refused {
            operation,
            code: code.into(),
        },
        other => NsmError::UnexpectedResponse {
            operation,
            got: kind(other),
        },
    }
    .into()
}

fn pcr_value(operation: &'static str, data: &[u8]) -> Result<[u8; PCR_LEN], AttesterError> {
    <[u8; PCR_LEN]>::try_from(data).map_err(|_| {
        NsmError::UnexpectedResponse {
            operation,
            got: format!("a {}-byte PCR (SHA-384 PCRs are {PCR_LEN})", data.len()),
        }
        .into()
    })
}

pub(super) fn describe_nsm() -> Request {
    Request::DescribeNSM
}

pub(super) fn description(r: Response) -> Result<Description, AttesterError> {
    match r {
        Response::DescribeNSM {
            module_id,
            max_pcrs,
            locked_pcrs,
            digest,
            ..
        } => Ok(Description {
            module_id,
            max_pcrs,
            locked: locked_pcrs.into_iter().collect(),
            sha384: digest == Digest::SHA384,
        }),
        other => Err(unexpected("DescribeNSM", &other)),
    }
}

pub(super) fn describe_pcr(index: u16) -> Request {
    Request::DescribePCR { index }
}

pub(super) fn pcr_state(r: Response) -> Result<PcrState, AttesterError> {
    match r {
        Response::DescribePCR { lock, data } => Ok(PcrState {
            locked: lock,
            value: pcr_value("DescribePCR", &data)?,
        }),
        other => Err(unexpected("DescribePCR", &other)),
    }
}

pub(super) fn lock_pcrs(range: u16) -> Request {
    Request::LockPCRs { range }
}

pub(super) fn locked(r: &Response) -> Result<(), AttesterError> {
    match r {
        Response::LockPCRs => Ok(()),
        other => Err(unexpected("LockPCRs", other)),
    }
}

pub(super) fn lock_pcr(index: u16) -> Request {
    Request::LockPCR { index }
}

pub(super) fn locked_one(r: &Response) -> Result<(), AttesterError> {
    match r {
        Response::LockPCR => Ok(()),
        other => Err(unexpected("LockPCR", other)),
    }
}

pub(super) fn extend_pcr(index: u16, value: &[u8; PCR_LEN]) -> Request {
    Request::ExtendPCR {
        index,
        data: value.to_vec(),
    }
}

/// The PCR's new value.
pub(super) fn extended(r: Response) -> Result<[u8; PCR_LEN], AttesterError> {
    match r {
        Response::ExtendPCR { data } => pcr_value("ExtendPCR", &data),
        other => Err(unexpected("ExtendPCR", &other)),
    }
}

/// `Attestation { user_data: event-log digest, nonce, public_key }`, after
/// checking the sizes.
///
/// # Errors
/// [`AttesterError::Input`] for an empty or oversized nonce or public key.
pub(super) fn attestation(request: &AttestationRequest) -> Result<Request, AttesterError> {
    check_len("nonce", &request.nonce, MAX_NONCE_LEN)?;
    check_len("public key", &request.public_key, MAX_PUBLIC_KEY_LEN)?;
    Ok(Request::Attestation {
        user_data: Some(ByteBuf::from(request.event_log_digest.to_vec())),
        nonce: Some(ByteBuf::from(request.nonce.clone())),
        public_key: Some(ByteBuf::from(request.public_key.clone())),
    })
}

fn check_len(what: &str, value: &[u8], max: usize) -> Result<(), AttesterError> {
    if value.is_empty() {
        return Err(AttesterError::Input(format!(
            "the {what} is empty: an attestation document must bind one"
        )));
    }
    if value.len() > max {
        return Err(AttesterError::Input(format!(
            "the {what} is {} bytes; the NSM takes at most {max}",
            value.len()
        )));
    }
    Ok(())
}

/// The document bytes, bounded as the verifier bounds them.
pub(super) fn document(r: Response) -> Result<Vec<u8>, AttesterError> {
    match r {
        Response::Attestation { document } if document.is_empty() => {
            Err(NsmError::UnexpectedResponse {
                operation: "Attestation",
                got: "an empty document".into(),
            }
            .into())
        }
        Response::Attestation { document } if document.len() > MAX_DOCUMENT_LEN => {
            Err(NsmError::UnexpectedResponse {
                operation: "Attestation",
                got: format!(
                    "a {}-byte document (at most {MAX_DOCUMENT_LEN})",
                    document.len()
                ),
            }
            .into())
        }
        Response::Attestation { document } => Ok(document),
        other => Err(unexpected("Attestation", &other)),
    }
}
