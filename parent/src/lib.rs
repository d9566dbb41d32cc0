//! # enclet-parent
//!
//! The untrusted host-side half of enclet: the proxy between operators and the
//! enclave. The `enclet` command line is its own crate (`enclet-cli`).
//!
//! ```text
//!  operator ──HTTP/1.1──▶ enclet-parent ══ frames (Unix socket / vsock) ══▶ enclet-enclave
//!  (enclet CLI,           api::router        client::EnclaveClient
//!   curl)                 (axum)             (one connection, many requests in flight)
//! ```
//!
//! * [`client`]: the enclave client: requests written by the task that makes
//!   them (bounded backlog), a reader task and a map of
//!   pending requests by id, so any number of requests share one connection;
//!   [`client::Reconnecting`] dials again after the enclave restarts.
//! * [`api`]: the operator API (load, invoke, list, health, and the attester's
//!   identity, credential activation and attestation, the release status) as
//!   HTTP/1.1 over a Unix socket or loopback TCP ([`OperatorAddr`]).
//! * [`relay`]: with a control plane configured, attestation rounds that
//!   carry the enclave's evidence to it and its sealed secrets back (opaque
//!   to the parent), triggered by new plugin loads, on demand and by a
//!   refresh timer.
//!
//! The parent is trusted for availability only: it relays bytes and can see
//! plugin inputs and outputs, but it cannot change what the enclave measures
//! and runs.
#![forbid(unsafe_code)]

pub mod addr;
pub mod api;
pub mod client;
mod error;
pub mod relay;

pub use addr::OperatorAddr;
pub use error::Error;
