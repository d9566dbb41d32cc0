//! # enclet-control-plane
//!
//! The service that decides whether an enclave may have a plugin's secrets and
//! capabilities. It will hold: the verifier front end (over `enclet-attestation`),
//! nonce issuance and single-use tracking, reference values and per-plugin policy,
//! HPKE sealing of secrets to the enclave key, short-lived capability tokens bound
//! to the enclave key and plugin measurement, and an append-only audit log served
//! over rustls. Nothing is implemented yet; see the project's issues.
#![forbid(unsafe_code)]
