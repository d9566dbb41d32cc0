//! # enclet-protocol
//!
//! The wire protocol between the untrusted parent and the enclave: framing,
//! the versioned message enums, the codec, and the transports that carry it.
//!
//! ```text
//!  parent (client)                                   enclave (server)
//!  ───────────────                                   ────────────────
//!  Request{id=1} ──┐                               ┌─► decode ─► task ─┐
//!  Request{id=2} ──┼─► frame ══ Unix socket/vsock ══┤                   │
//!  Response{id}  ◄─┴── route by id ◄══════ frame ◄──┴── writer ◄───────┘
//! ```
//!
//! ## Frames
//!
//! Every message travels in one frame:
//!
//! ```text
//! frame   = length:u32-be  body                  ; length = |body|
//! body    = version:u16-be  request_id:u64-be  payload
//! payload = exactly one CBOR data item (RFC 8949), a `Request` or a `Response`
//! ```
//!
//! * The length is checked against [`FrameLimits::max_frame_bytes`] *before*
//!   anything is allocated for the body, and the body is read incrementally, so
//!   a peer that announces a large frame and sends nothing costs nothing.
//! * One bound applies to every frame; it must fit the largest `Load` (a
//!   plugin component) and the largest invocation output. Both derive from
//!   one constant: [`MAX_BODY_BYTES`] (32 MiB) is the largest component or
//!   input the parent relays (its `--max-body-bytes` cannot exceed it), and
//!   the default frame bound [`DEFAULT_MAX_FRAME_BYTES`] is that plus
//!   [`FRAME_OVERHEAD_BYTES`] for the rest of the message. The enclave takes
//!   `--max-frame-bytes` to change its bound. Per-message limits (component
//!   size, input and output size) are enforced by the enclave runtime after
//!   decoding.
//! * The version is in every frame, so a peer speaking another version is
//!   detected on its first frame ([`ProtocolError::UnsupportedVersion`]).
//! * Request ids are chosen by the client and echoed in the response, so any
//!   number of requests can be in flight on one connection and answered out of
//!   order. Id [`CONNECTION_ID`] (0) is reserved for connection-level errors
//!   the server sends just before it closes a connection.
//! * CBOR is decoded with a small recursion limit and must consume the whole
//!   payload: trailing bytes are an error.
//!
//! Any framing or decoding error is fatal for that connection only: the
//! server logs the reason, answers on id 0 when it can, and closes it.
//!
//! ## Transports
//!
//! [`Transport`] abstracts the byte stream: [`UnixTransport`] (local runs and
//! every test) and [`VsockTransport`] (production, inside a Nitro Enclave).
//! [`Endpoint`] parses the operator-facing addresses `unix:PATH`,
//! `vsock:CID:PORT` and `vsock:PORT`.
// `unsafe` code lives in one place: registering owned descriptors with the
// reactor (socket/registered.rs).
#![deny(unsafe_code)]

mod bytes;
pub mod codec;
mod error;
pub mod frame;
pub mod message;
pub mod socket;
pub mod transport;

pub use codec::{decode, encode, read_frame, write_frame};
pub use error::ProtocolError;
pub use frame::{
    CONNECTION_ID, DEFAULT_MAX_FRAME_BYTES, FRAME_OVERHEAD_BYTES, FrameLimits, HEADER_LEN, Header,
    MAX_BODY_BYTES, PROTOCOL_VERSION,
};
pub use message::{
    AttesterIdentity, Enforced, ErrorBody, Evidence, Health, Limits, LimitsRequest, LoadResult,
    PcrValue, PluginInfo, PluginToken, Released, ReleasedPlugin, Request, Response, SignedManifest,
    TpmEvidence,
};
pub use socket::{FrameReader, FrameWriter, RawSocket};
pub use transport::{Endpoint, Transport, UnixTransport, VsockTransport};
