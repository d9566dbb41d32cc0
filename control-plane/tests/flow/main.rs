//! The control plane end to end over real TLS on 127.0.0.1: the
//! `enclet-control-plane` binary, a private swtpm with the enclave's TPM
//! attester (or the enclave's NSM attester over a synthetic NSM), and this
//! test acting as the enclave and its parent.
//!
//! Every refusal in the release flow is checked for its specific code, for
//! its audit entry, and for the service going on to serve a good request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]
#![allow(missing_docs, unreachable_pub, reason = "test code")]

mod crash;
mod nitro;
mod refusals;
mod release;
mod support;
