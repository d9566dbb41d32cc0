//! `enclet verify nitro`. (Being built.)

use std::process::ExitCode;

/// Arguments of `enclet verify nitro`.
#[derive(Debug, clap::Args)]
pub struct NitroArgs {}

/// Runs `enclet verify nitro`.
#[must_use]
pub fn run(_args: &NitroArgs) -> ExitCode {
    eprintln!("enclet verify nitro: not built yet");
    ExitCode::from(2)
}
