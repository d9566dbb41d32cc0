//! Integration tests of the control plane service: real TLS on 127.0.0.1,
//! the real binary where a process is needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod support;

mod admin;
mod binary;
mod limits;
mod nonces;
mod release_revoked;
mod release_tpm;
mod revocations;
mod tls;
