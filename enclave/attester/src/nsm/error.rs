//! What can go wrong talking to the NSM, in our own types (the driver crate's
//! `ErrorCode` never appears in a public signature).

use core::fmt;

use aws_nitro_enclaves_nsm_api::api::ErrorCode;

/// Why the Nitro Secure Module could not be used or refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NsmError {
    /// The device node does not exist: this is not a Nitro Enclave.
    #[error(
        "{path} does not exist: the `nsm` attester runs only inside an AWS Nitro Enclave \
         (use `tpm:…` elsewhere)"
    )]
    NoDevice {
        /// The device path, `/dev/nsm`.
        path: &'static str,
    },
    /// The device node exists but could not be opened.
    #[error("cannot open {path}: {reason}")]
    Open {
        /// The device path, `/dev/nsm`.
        path: &'static str,
        /// The operating system's reason.
        reason: String,
    },
    /// The NSM answered a request with an error code.
    #[error("the NSM refused {operation}: {code}")]
    Refused {
        /// The request, e.g. `ExtendPCR 16`.
        operation: &'static str,
        /// The NSM's code.
        code: NsmErrorCode,
    },
    /// The NSM answered with a response of another kind or shape than the
    /// request calls for.
    #[error("the NSM answered {operation} with {got}")]
    UnexpectedResponse {
        /// The request.
        operation: &'static str,
        /// What came back, described.
        got: String,
    },
    /// The NSM cannot serve enclet's plugin measurements (wrong PCR bank, the
    /// plugin PCR locked or already extended).
    #[error("the NSM cannot hold plugin measurements: {0}")]
    Unsuitable(String),
    /// A plugin event after every plugin PCR was locked by an attestation:
    /// it can no longer be measured.
    #[error(
        "plugin PCRs {first}..={last} are all locked (each attestation that follows a plugin \
         change locks one, as an NSM document carries only locked PCRs), so no plugin can be \
         loaded or unloaded any more: restart the enclave to change its plugins"
    )]
    PluginPcrsExhausted {
        /// The first plugin PCR.
        first: u16,
        /// The last plugin PCR.
        last: u16,
    },
    /// The plugin PCR's value after an extend is not the one this attester
    /// computed: something else extended it, so no event log would replay.
    #[error(
        "PCR {index} is {actual}, not the {expected} this attester's extends give: \
         something else extended it"
    )]
    PcrDiverged {
        /// The plugin PCR.
        index: u16,
        /// Hex of the value the attester expected.
        expected: String,
        /// Hex of the value the NSM reported.
        actual: String,
    },
}

/// The NSM's error codes (its `ErrorCode`, minus `Success`, which is never
/// an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NsmErrorCode {
    /// Input argument(s) invalid.
    InvalidArgument,
    /// PCR index out of bounds.
    InvalidIndex,
    /// The response does not belong to the request.
    InvalidResponse,
    /// The PCR is locked (read-only).
    ReadOnlyIndex,
    /// The NSM lacks the capability for the request.
    InvalidOperation,
    /// The output buffer was too small.
    BufferTooSmall,
    /// The request is too large.
    InputTooLarge,
    /// The NSM failed internally (also the driver's answer to a failed
    /// `ioctl`).
    InternalError,
    /// `Success` sent as an error: a malformed answer.
    SuccessAsError,
}

impl NsmErrorCode {
    /// Stable `snake_case` name, for logs and error codes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::InvalidIndex => "invalid_index",
            Self::InvalidResponse => "invalid_response",
            Self::ReadOnlyIndex => "read_only_index",
            Self::InvalidOperation => "invalid_operation",
            Self::BufferTooSmall => "buffer_too_small",
            Self::InputTooLarge => "input_too_large",
            Self::InternalError => "internal_error",
            Self::SuccessAsError => "success_as_error",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Self::InvalidArgument => "an argument is invalid",
            Self::InvalidIndex => "the PCR index is out of range",
            Self::InvalidResponse => "the response does not belong to the request",
            Self::ReadOnlyIndex => "the PCR is locked",
            Self::InvalidOperation => "the NSM lacks this capability",
            Self::BufferTooSmall => "the output buffer is too small",
            Self::InputTooLarge => "the request is too large",
            Self::InternalError => "internal error in the NSM or its driver",
            Self::SuccessAsError => "it sent `Success` as an error",
        }
    }
}

impl fmt::Display for NsmErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.meaning())
    }
}

impl From<&ErrorCode> for NsmErrorCode {
    fn from(code: &ErrorCode) -> Self {
        match code {
            ErrorCode::Success => Self::SuccessAsError,
            ErrorCode::InvalidArgument => Self::InvalidArgument,
            ErrorCode::InvalidIndex => Self::InvalidIndex,
            ErrorCode::InvalidResponse => Self::InvalidResponse,
            ErrorCode::ReadOnlyIndex => Self::ReadOnlyIndex,
            ErrorCode::InvalidOperation => Self::InvalidOperation,
            ErrorCode::BufferTooSmall => Self::BufferTooSmall,
            ErrorCode::InputTooLarge => Self::InputTooLarge,
            ErrorCode::InternalError => Self::InternalError,
        }
    }
}
