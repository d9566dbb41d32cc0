//! The crate's one error type.

/// Why a frame could not be read, written or decoded, or an address parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The announced frame length exceeds the configured maximum.
    #[error("oversized frame: {len} bytes announced, maximum is {max}")]
    FrameTooLarge {
        /// Announced body length.
        len: u64,
        /// Configured maximum.
        max: u64,
    },
    /// The frame is shorter than its fixed header.
    #[error("frame too short: {len} bytes, the header alone is {min}")]
    FrameTooShort {
        /// Body length.
        len: usize,
        /// Header length.
        min: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("truncated frame: {expected} bytes announced, stream ended after {received}")]
    Truncated {
        /// Bytes the length prefix (or header) announced.
        expected: u64,
        /// Bytes received before the end of the stream.
        received: u64,
    },
    /// The frame's body did not arrive within the allowed time.
    #[error("truncated frame: {expected} bytes announced, {received} received before the timeout")]
    BodyTimeout {
        /// Announced body length.
        expected: u64,
        /// Bytes received before the timeout.
        received: u64,
    },
    /// The peer speaks a protocol version this build does not.
    #[error("unsupported protocol version {got} (this build speaks {supported})")]
    UnsupportedVersion {
        /// The version in the frame.
        got: u16,
        /// The version this build speaks.
        supported: u16,
    },
    /// The payload is not valid CBOR for the expected message type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The payload holds bytes after its CBOR item.
    #[error("malformed message: {0} trailing bytes after the CBOR item")]
    TrailingBytes(usize),
    /// A message could not be encoded (it would exceed the frame limit, or serde failed).
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// A transport address could not be parsed.
    #[error("invalid address {input:?}: {reason}")]
    Address {
        /// The address as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The underlying stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl ProtocolError {
    /// A stable `snake_case` code for logs and error responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::FrameTooLarge { .. } => "frame_too_large",
            Self::FrameTooShort { .. } => "frame_too_short",
            Self::Truncated { .. } | Self::BodyTimeout { .. } => "truncated_frame",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Malformed(_) | Self::TrailingBytes(_) => "malformed_frame",
            Self::Encode(_) => "encode_failed",
            Self::Address { .. } => "invalid_address",
            Self::Io(_) => "io",
        }
    }
}
