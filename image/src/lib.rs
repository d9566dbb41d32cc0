//! # enclet-image
//!
//! Enclave image tooling. It will hold pure functions that compute the PCR0–2
//! measurements of an enclave image file (EIF) from its bytes, the generation of
//! reference values the control plane checks evidence against, and the scripts
//! (Dockerfile, EIF build) around them; its I/O will stay in its CLI. Nothing is
//! implemented yet; see the project's issues.
#![forbid(unsafe_code)]
