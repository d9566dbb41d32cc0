//! The `enclet` command line: the operator's and verifier's front door.
//!
//! Exit status, for every subcommand:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; for `verify`, the evidence verified and met the policy |
//! | 1 | the operation failed; for `verify`, the evidence was rejected (reason on stderr and in `--json`) |
//! | 2 | usage error or unreadable input file |

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod verify;

/// enclet: run WebAssembly plugins in attested enclaves, and verify the evidence.
#[derive(Debug, Parser)]
#[command(name = "enclet", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The `enclet` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify attestation evidence offline (AWS Nitro documents, TPM quotes).
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
}

impl Cli {
    /// Runs the parsed command and returns the process exit status.
    #[must_use]
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Verify(cmd) => cmd.run(),
        }
    }
}
