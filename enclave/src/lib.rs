//! # enclet-enclave
//!
//! The trusted half of enclet: the wasmtime plugin [`runtime`] and the
//! [`server`] loop that serves the parent over the wire protocol
//! (`enclet-protocol`).
//!
//! ```text
//!            ┌──────────────────────── enclet-enclave ─────────────────────────┐
//!  parent ══▶│ listener ─▶ connection ─▶ lanes (threads taking turns to read)  │
//!  (Unix or  │  (Transport)   (one task)  ├▶ Invoke: Runtime, on the lane      │
//!   vsock)   │                            └▶ other: async task ─▶ EventLog,   │
//!        ◀══ │  FrameWriter ◀── answers, written by whoever finished (Attester)│
//!            └────────────────────────────────────────────────────────────────┘
//! ```
//!
//! * [`runtime`]: one engine, a pooling allocator, a fresh store per
//!   invocation, fuel + epoch deadline + memory/table/output limits.
//! * [`server`]: per connection, lane threads that take turns reading and run
//!   invocations where they read them (bounded per connection), responses
//!   multiplexed by request id; a bad frame closes only its own connection;
//!   graceful shutdown lets in-flight requests finish.
//! * [`key`]: the enclave's ephemeral X25519 key pair, bound into evidence;
//!   the control plane seals released secrets to it (`enclet-sealed`).
//! * Secret release: `Request::Release { bundle }` is opened with that key,
//!   all or nothing, and replaces the runtime's secret table if it has not
//!   expired and names only loaded plugins (`bundle_malformed`,
//!   `bundle_too_large`, `bundle_tampered`, `bundle_expired`,
//!   `unknown_plugin` otherwise, and the previous secrets stay). Each plugin
//!   reads only what was sealed for its own measurement, through the
//!   `enclet:plugin/secrets` import; names go to the log, values never.
//! * [`clock`]: the time that expiry is judged by, injectable for tests.
//! * [`Error`]: the crate's one error type.
//!
//! The `enclet-enclave` binary wires these to a `--listen unix:PATH|vsock:PORT`
//! address.
#![deny(unsafe_code)]

pub mod clock;
pub mod error;
pub mod key;
mod park;
pub mod runtime;
pub mod server;

pub use error::Error;
