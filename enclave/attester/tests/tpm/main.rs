//! Integration tests of the TPM attester against a real, private swtpm per
//! test. Every quote is verified by the pure verifier in `enclet_attestation`,
//! never by the TPM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod credential;
mod forged;
mod lifecycle;
mod quote;
mod support;
