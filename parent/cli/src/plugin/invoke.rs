//! `enclet plugin invoke`: the input from `--input`, `--input-file` or
//! stdin (each bounded by the largest request body, so a runaway pipe is
//! refused instead of buffered), the output as raw bytes on stdout, or a JSON
//! envelope with `--json`.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use clap::Args;
use hyper::Method;
use serde::{Deserialize, Serialize};

use super::{Failure, resolve, usage};
use crate::client::{CallError, ParentClient};

/// Examples after `enclet plugin invoke --help`.
pub(super) const EXAMPLES: &str = "\
Without --input or --input-file the input is read from stdin, up to the
largest request body (32 MiB). stdout gets the output bytes exactly, with no
newline added; --json prints an envelope instead.

Examples:
  echo hi | enclet plugin invoke echo
  enclet plugin invoke payout --input-file basket.json
  enclet plugin invoke echo --input hello --json";

/// The largest input `enclet plugin invoke` reads: the largest body a
/// parent accepts.
pub const MAX_INPUT_BYTES: u64 = enclet_protocol::MAX_BODY_BYTES as u64;

/// `enclet plugin invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The plugin: its measurement (96 hex characters) or its name.
    pub plugin: String,
    /// Input as a string (default: read stdin to its end).
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Input read from a file (at most 32 MiB).
    #[arg(long)]
    pub input_file: Option<PathBuf>,
    /// Print a JSON envelope (measurement, output as hex and as UTF-8 if it
    /// is) instead of the raw output bytes.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` answer of `enclet plugin invoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvokeEnvelope {
    /// The plugin's measurement (SHA-384, lowercase hex).
    pub measurement: String,
    /// Output length in bytes.
    pub output_len: usize,
    /// The output, lowercase hex.
    pub output_hex: String,
    /// The output as text, if it is valid UTF-8.
    pub output_utf8: Option<String>,
}

pub(super) async fn invoke(client: &ParentClient, args: &InvokeArgs) -> Result<(), Failure> {
    let input = invoke_input(args)?;
    let measurement = resolve(client, &args.plugin).await?;
    let output = invoke_bytes(client, &measurement, input).await?;
    let bytes = if args.json {
        let envelope = InvokeEnvelope {
            measurement,
            output_len: output.len(),
            output_hex: hex::encode(&output),
            output_utf8: String::from_utf8(output).ok(),
        };
        let mut text = serde_json::to_vec(&envelope).map_err(|e| Failure {
            status: 1,
            message: format!("encoding the envelope: {e}"),
        })?;
        text.push(b'\n');
        text
    } else {
        output
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure {
            status: 1,
            message: format!("writing output: {e}"),
        })
}

/// The input: `--input`, `--input-file` or stdin, each bounded by
/// [`MAX_INPUT_BYTES`] (a bigger one is a usage error, exit 2).
fn invoke_input(args: &InvokeArgs) -> Result<Vec<u8>, Failure> {
    let read = match (&args.input, &args.input_file) {
        (Some(s), _) => return Ok(s.clone().into_bytes()),
        (None, Some(path)) => crate::bounded::read_file(path, MAX_INPUT_BYTES),
        (None, None) => {
            if std::io::stdin().is_terminal() {
                eprintln!("reading the input from stdin (end it with Ctrl-D)");
            }
            crate::bounded::read_stdin(MAX_INPUT_BYTES)
        }
    };
    read.map_err(|e| usage(e.to_string()))
}

/// `POST /v1/plugins/{measurement}/invoke`.
///
/// # Errors
/// The parent's or enclave's reason.
pub async fn invoke_bytes(
    client: &ParentClient,
    measurement: &str,
    input: Vec<u8>,
) -> Result<Vec<u8>, CallError> {
    let path = format!("/v1/plugins/{measurement}/invoke");
    Ok(client.call(Method::POST, &path, input).await?.to_vec())
}
