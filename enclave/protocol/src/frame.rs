//! The frame header: pure functions over bytes.
//!
//! ```text
//! frame = length:u32-be  version:u16-be  request_id:u64-be  payload
//!         └─ prefix ─┘   └──────────── body (length bytes) ────────┘
//! ```

use crate::ProtocolError;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// Bytes of the fixed body header (version + request id).
pub const HEADER_LEN: usize = 2 + 8;

/// Request id reserved for connection-level errors sent before a close.
pub const CONNECTION_ID: u64 = 0;

/// The largest body an operator request carries to the enclave — a plugin
/// component or an invocation input — 32 MiB. The parent accepts bodies up to
/// this size at most, the enclave's default frame limit fits one in a message,
/// and the enclave's default component limit is the same size.
pub const MAX_BODY_BYTES: u32 = 32 * 1024 * 1024;

/// Room a frame keeps beside a [`MAX_BODY_BYTES`] body for everything else in
/// the message: the header, CBOR framing, a plugin name and its limits.
pub const FRAME_OVERHEAD_BYTES: u32 = 64 * 1024;

/// Default bound on a frame body: one [`MAX_BODY_BYTES`] body and its
/// message ([`FRAME_OVERHEAD_BYTES`]).
pub const DEFAULT_MAX_FRAME_BYTES: u32 = MAX_BODY_BYTES + FRAME_OVERHEAD_BYTES;

/// Bounds applied to every frame on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest accepted body (header + payload), in bytes.
    pub max_frame_bytes: u32,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

/// The fixed header at the start of every frame body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version of the sender.
    pub version: u16,
    /// Request id, echoed in the response.
    pub request_id: u64,
}

/// Checks an announced body length against the limits, before any allocation.
///
/// # Errors
/// [`ProtocolError::FrameTooLarge`] or [`ProtocolError::FrameTooShort`].
pub fn check_length(len: u32, limits: FrameLimits) -> Result<usize, ProtocolError> {
    if len > limits.max_frame_bytes {
        return Err(ProtocolError::FrameTooLarge {
            len: len.into(),
            max: limits.max_frame_bytes.into(),
        });
    }
    let len = usize::try_from(len).map_err(|_| ProtocolError::FrameTooLarge {
        len: len.into(),
        max: limits.max_frame_bytes.into(),
    })?;
    if len < HEADER_LEN {
        return Err(ProtocolError::FrameTooShort {
            len,
            min: HEADER_LEN,
        });
    }
    Ok(len)
}

/// Splits a frame body into its header and payload; checks the version.
///
/// # Errors
/// [`ProtocolError::FrameTooShort`] or [`ProtocolError::UnsupportedVersion`].
pub fn split_body(body: &[u8]) -> Result<(Header, &[u8]), ProtocolError> {
    let too_short = || ProtocolError::FrameTooShort {
        len: body.len(),
        min: HEADER_LEN,
    };
    let (version, rest) = body.split_first_chunk::<2>().ok_or_else(too_short)?;
    let (id, payload) = rest.split_first_chunk::<8>().ok_or_else(too_short)?;
    let header = Header {
        version: u16::from_be_bytes(*version),
        request_id: u64::from_be_bytes(*id),
    };
    if header.version != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion {
            got: header.version,
            supported: PROTOCOL_VERSION,
        });
    }
    Ok((header, payload))
}

/// Writes the length prefix and header for a payload of `payload_len` bytes.
///
/// # Errors
/// [`ProtocolError::Encode`] when the frame would exceed the limits.
pub fn prefix_and_header(
    request_id: u64,
    payload_len: usize,
    limits: FrameLimits,
) -> Result<[u8; PREFIX_LEN + HEADER_LEN], ProtocolError> {
    let body_len = payload_len
        .checked_add(HEADER_LEN)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= limits.max_frame_bytes)
        .ok_or_else(|| {
            ProtocolError::Encode(format!(
                "a {payload_len}-byte payload exceeds the {}-byte frame limit",
                limits.max_frame_bytes
            ))
        })?;
    let mut out = [0u8; PREFIX_LEN + HEADER_LEN];
    let (len, rest) = out.split_at_mut(PREFIX_LEN);
    len.copy_from_slice(&body_len.to_be_bytes());
    let (version, id) = rest.split_at_mut(2);
    version.copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    id.copy_from_slice(&request_id.to_be_bytes());
    Ok(out)
}
