//! Verification, reference values and policy over real evidence: a swtpm
//! (needs `swtpm` and `swtpm_setup`, see `scripts/setup`) and the AWS
//! documents in `attestation/testdata/nitro`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod decisions;
mod nitro;
mod support;
mod tpm;
