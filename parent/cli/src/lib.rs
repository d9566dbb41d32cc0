//! # enclet-cli
//!
//! The `enclet` command line: the operator's and verifier's front door. It is
//! its own crate so that the production proxy (`enclet-parent`) links only
//! what the proxy runs: the demo's TPM simulator harness (`enclet-swtpm`), the
//! offline verifiers' front ends and the operator client live here.
//!
//! Exit status, for every subcommand:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; for `verify`, the evidence verified and met the policy |
//! | 1 | the operation failed; for `verify`, the evidence was rejected (reason on stderr and in `--json`); for `image`, the file is not a valid EIF |
//! | 2 | usage error or unreadable input file |
//!
//! For `plugin …` and `demo`, 1 also covers an unreachable parent or enclave and
//! an error answered by the enclave (its code and message go to stderr).
//!
//! `plugin` subcommands and `attest` talk to a running `enclet-parent` at `--parent`
//! (`unix:PATH` or `tcp:127.0.0.1:PORT`, env `ENCLET_PARENT`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod attest;
pub mod audit;
pub mod bounded;
pub mod client;
pub mod demo;
pub mod image;
pub mod plugin;
pub mod revoke;
pub mod secret;
pub mod verify;

mod stdout;

use enclet_parent::OperatorAddr;

/// Run WebAssembly plugins in attested enclaves, and verify the evidence.
#[derive(Debug, Parser)]
#[command(
    name = "enclet",
    version,
    after_help = "Start with `enclet demo`. Exit status: 0 success (for `verify`: evidence \
                  verified and met the policy), 1 failure (for `verify`: evidence rejected), \
                  2 usage error or unreadable input.\n\n\
                  Examples:\n  \
                  enclet demo\n  \
                  echo hi | enclet --parent unix:/run/enclet/parent.sock plugin invoke echo\n  \
                  enclet verify nitro doc.cose --pcr 0=4b8d4cf2…cfab\n  \
                  enclet image measure enclet.eif"
)]
pub struct Cli {
    /// The parent's operator API: `unix:PATH` or `tcp:127.0.0.1:PORT`.
    #[arg(long, global = true, env = "ENCLET_PARENT")]
    pub parent: Option<OperatorAddr>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The `enclet` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify attestation evidence offline (AWS Nitro documents, TPM quotes).
    #[command(
        subcommand,
        after_help = "Examples:\n  \
                      enclet verify nitro doc.cose --pcr 0=4b8d4cf2…cfab --nonce 00ff…\n  \
                      enclet verify tpm --help"
    )]
    Verify(verify::VerifyCommand),
    /// Manage and run plugins through a running parent.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
                      export ENCLET_PARENT=unix:/run/enclet/parent.sock\n  \
                      enclet plugin load echo.wasm --fuel 1000000\n  \
                      echo hi | enclet plugin invoke echo\n  \
                      enclet plugin list"
    )]
    Plugin(plugin::PluginCommand),
    /// Run the appliance locally end to end: start the enclave and the parent,
    /// load and invoke the example plugins, stop them.
    #[command(after_help = "Examples:\n  \
                            enclet demo\n  \
                            enclet demo --json --state-dir ./demo-state\n  \
                            enclet demo --attester none")]
    Demo(demo::DemoArgs),
    /// Fetch fresh evidence from the running appliance and write it as files
    /// `enclet verify` and `tpm2_checkquote` read.
    Attest(attest::AttestArgs),
    /// Check and read the control plane's audit log (`verify`, `tail`).
    #[command(
        subcommand,
        after_help = "Examples:\n  \
                      enclet audit verify --state-dir ./state\n  \
                      enclet audit tail -n 20 --state-dir ./state"
    )]
    Audit(audit::AuditCommand),
    /// Manage the control plane's secrets (admin API): put, list, rm.
    Secret(secret::SecretArgs),
    /// Revoke plugins, publishers and capability tokens at the control plane
    /// (admin API), and list revocations.
    Revoke(revoke::RevokeArgs),
    /// Measure an enclave image file (EIF): its PCRs, and the control plane's
    /// reference values for it.
    #[command(
        subcommand,
        after_help = "Exit status: 0 ok, 1 invalid image, 2 usage error or unreadable file.\n\n\
                      Examples:\n  \
                      enclet image measure enclet.eif --json\n  \
                      enclet image reference-values enclet.eif --out reference.toml"
    )]
    Image(image::ImageCommand),
}

impl Cli {
    /// Runs the parsed command and returns the process exit status.
    #[must_use]
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Verify(cmd) => cmd.run(),
            Command::Plugin(cmd) => plugin::run(cmd, self.parent),
            Command::Demo(args) => demo::run(&args),
            Command::Attest(args) => attest::run(&args, self.parent),
            Command::Audit(cmd) => cmd.run(),
            Command::Secret(args) => secret::run(args),
            Command::Revoke(args) => revoke::run(args),
            Command::Image(cmd) => cmd.run(),
        }
    }
}

#[cfg(test)]
mod help_tests;

/// Runs a future on a fresh single-threaded runtime (the CLI is otherwise sync).
fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(future))
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
