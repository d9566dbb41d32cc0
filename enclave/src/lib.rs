//! The enclet enclave. (Being built: issue #2.)
#![deny(unsafe_code)]
pub mod runtime;
