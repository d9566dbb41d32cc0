//! Encoding and decoding: pure functions over bytes, plus async frame I/O
//! over any `AsyncRead` / `AsyncWrite`.

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ProtocolError;
use crate::frame::{self, FrameLimits, Header, PREFIX_LEN};

/// Recursion limit for CBOR decoding; our messages nest at most 4 deep.
const CBOR_RECURSION_LIMIT: usize = 16;

/// Encodes one complete frame (length prefix, header, CBOR payload).
///
/// # Errors
/// [`ProtocolError::Encode`] when serialization fails or the frame would
/// exceed `limits`.
pub fn encode<M: Serialize>(
    request_id: u64,
    message: &M,
    limits: FrameLimits,
) -> Result<Vec<u8>, ProtocolError> {
    let mut payload = Vec::new();
    ciborium::into_writer(message, &mut payload)
        .map_err(|e| ProtocolError::Encode(e.to_string()))?;
    let head = frame::prefix_and_header(request_id, payload.len(), limits)?;
    let mut out = Vec::with_capacity(head.len().saturating_add(payload.len()));
    out.extend_from_slice(&head);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes a frame body (everything after the length prefix).
///
/// # Errors
/// [`ProtocolError::FrameTooShort`], [`ProtocolError::UnsupportedVersion`],
/// [`ProtocolError::Malformed`] or [`ProtocolError::TrailingBytes`].
pub fn decode<M: DeserializeOwned>(body: &[u8]) -> Result<(Header, M), ProtocolError> {
    let (header, mut payload) = frame::split_body(body)?;
    let message =
        ciborium::de::from_reader_with_recursion_limit(&mut payload, CBOR_RECURSION_LIMIT)
            .map_err(|e| ProtocolError::Malformed(describe(&e)))?;
    if !payload.is_empty() {
        return Err(ProtocolError::TrailingBytes(payload.len()));
    }
    Ok((header, message))
}

fn describe<E: core::fmt::Debug>(e: &ciborium::de::Error<E>) -> String {
    match e {
        ciborium::de::Error::Io(_) => "payload ended inside a CBOR item".to_owned(),
        ciborium::de::Error::Syntax(at) => format!("invalid CBOR at byte {at}"),
        ciborium::de::Error::Semantic(at, msg) => match at {
            Some(at) => format!("{msg} (at byte {at})"),
            None => msg.clone(),
        },
        ciborium::de::Error::RecursionLimitExceeded => "CBOR nested too deeply".to_owned(),
    }
}

/// Reads one frame body. Returns `Ok(None)` on a clean end of stream between
/// frames.
///
/// The length is checked before anything is allocated, and the body is read
/// incrementally, so memory grows only with bytes actually received. Once a
/// length prefix has arrived, the rest of the frame must arrive within
/// `body_timeout` (when given).
///
/// # Errors
/// [`ProtocolError::FrameTooLarge`], [`ProtocolError::FrameTooShort`],
/// [`ProtocolError::Truncated`], [`ProtocolError::BodyTimeout`] or
/// [`ProtocolError::Io`].
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: FrameLimits,
    body_timeout: Option<Duration>,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut got = 0usize;
    while let Some(rest) = prefix.get_mut(got..).filter(|r| !r.is_empty()) {
        let n = reader.read(rest).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(ProtocolError::Truncated {
                expected: PREFIX_LEN as u64,
                received: got as u64,
            });
        }
        got = got.saturating_add(n);
    }
    let len = frame::check_length(u32::from_be_bytes(prefix), limits)?;
    let mut body = Vec::new();
    let mut limited = (&mut *reader).take(len as u64);
    let read = limited.read_to_end(&mut body);
    let result = match body_timeout {
        Some(t) => tokio::time::timeout(t, read).await,
        None => Ok(read.await),
    };
    match result {
        Ok(Ok(n)) if n == len => Ok(Some(body)),
        Ok(Ok(n)) => Err(ProtocolError::Truncated {
            expected: len as u64,
            received: n as u64,
        }),
        Ok(Err(e)) => Err(ProtocolError::Io(e)),
        Err(_) => Err(ProtocolError::BodyTimeout {
            expected: len as u64,
            received: body.len() as u64,
        }),
    }
}

/// Writes one already-encoded frame (from [`encode`]); does not flush.
///
/// # Errors
/// [`ProtocolError::Io`].
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frame: &[u8],
) -> Result<(), ProtocolError> {
    writer.write_all(frame).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
