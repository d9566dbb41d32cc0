//! The `enclet` command line. See `enclet --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    enclet_cli::Cli::parse().run()
}
