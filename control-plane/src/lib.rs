//! # enclet-control-plane
//!
//! The relying party: the only holder of secrets. It verifies an enclave's
//! evidence with `enclet-attestation`, evaluates the operator's Rego policy over
//! the verified claims, seals each granted secret to the enclave's attested key
//! (HPKE, `enclet-sealed`) and writes every decision to a hash-chained audit log
//! before it answers. See `docs/control-plane.md` for the flow, the HTTPS API and
//! the formats.
//!
//! ## Modules
//!
//! * [`config`] — the TOML configuration, every setting with its default.
//! * [`tls`] — rustls server configuration; the development CA made on first start.
//! * [`store`] — the [`store::Store`] trait (sessions, nonces, secrets, audit
//!   entries) and its embedded `SQLite` implementation with group commit.
//! * [`audit`] — audit entries, the hash chain and its verification.
//! * [`reference`](mod@reference) — reference values for enclave images.
//! * [`verify`] — evidence to `Verified<Claims>` through the library's verifiers.
//! * [`policy`] — the Rego policy and its decisions.
//! * [`session`] — sessions, TPM activation state, nonces.
//! * [`release`] — the pipeline: nonce → verify → reference → policy → seal → audit.
//! * [`api`] — the HTTPS routes and their error codes.
//! * [`service`] — start-up: state directory, listener, shutdown.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod capability;
pub mod config;
mod error;
pub mod policy;
pub mod reference;
pub mod release;
pub mod service;
pub mod session;
pub mod store;
pub mod tls;
pub mod verify;

pub use error::Error;
