//! # enclet-parent
//!
//! The untrusted host-side half of enclet, and the `enclet` command line.
//! (Being built: issue #2.)
#![forbid(unsafe_code)]

pub mod cli;
