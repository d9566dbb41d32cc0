//! `enclet verify tpm`. (Being built.)

use std::process::ExitCode;

/// Arguments of `enclet verify tpm`.
#[derive(Debug, clap::Args)]
pub struct TpmArgs {}

/// Runs `enclet verify tpm`.
#[must_use]
pub fn run(_args: &TpmArgs) -> ExitCode {
    eprintln!("enclet verify tpm: not built yet");
    ExitCode::from(2)
}
