//! Test-only: nothing here but the generator in `tests/generate.rs`.
//!
//! `enclet-image` computes PCRs itself; to check it against the reference
//! implementation without building that implementation's dependencies (the
//! AWS SDK for KMS, openssl) in every test run, this crate writes small EIFs
//! with `aws-nitro-enclaves-image-format` once, together with the PCRs that
//! library computes for them (both at build time and by reading the file
//! back, as `nitro-cli describe-eif` does), into `image/testdata/eif/`.
//! `enclet-image`'s tests then measure those files and compare.
//!
//! Regenerate (only when adding fixtures; the signed image differs on every
//! run because ECDSA signatures are randomised, and its certificate is new):
//!
//! ```sh
//! cargo test --manifest-path image/eif-fixtures/Cargo.toml -- --ignored
//! ```
