//! `enclet verify …`: offline verification of attestation evidence.

use std::process::ExitCode;

use clap::Subcommand;

pub mod nitro;
pub mod tpm;

/// Evidence formats `enclet verify` understands.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Verify an AWS Nitro Enclaves attestation document (`COSE_Sign1`).
    Nitro(nitro::NitroArgs),
    /// Verify a TPM 2.0 quote.
    Tpm(tpm::TpmArgs),
}

impl VerifyCommand {
    /// Runs the verification and returns the exit status (0 valid, 1 invalid, 2 usage).
    #[must_use]
    pub fn run(self) -> ExitCode {
        match self {
            Self::Nitro(args) => nitro::run(&args),
            Self::Tpm(args) => tpm::run(&args),
        }
    }
}
