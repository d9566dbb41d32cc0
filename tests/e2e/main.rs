//! End-to-end tests: the real `enclet-enclave`, `enclet-parent` and `enclet`
//! processes on Unix sockets in a fresh temporary directory per test.
//!
//! Prerequisites (the README's test command runs them):
//! `cargo build --workspace --bins` and `scripts/build-plugins`; the
//! attestation tests need `swtpm` and `swtpm_setup` (`scripts/setup`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]
#![allow(missing_docs, unreachable_pub, reason = "test code")]

mod api;
mod attest;
mod attest_files;
mod body_limit;
mod cli_ergonomics;
mod concurrency;
mod demo;
mod frames;
mod harness;
mod hostile_log;
mod hostile_suite;
mod limits;
mod load_limits;
mod plugins;
mod release;
mod saturation;
mod signed;
mod unload;
