//! `enclet revoke …`: revoke plugins, publishers and capability tokens at the
//! control plane (admin API), and list what is revoked.
//!
//! ```text
//! enclet revoke plugin MEASUREMENT [--reason TEXT] [--json]       96 hex
//! enclet revoke publisher (FINGERPRINT | --key PUB.pem) [...]     64 hex (SHA-256 of the key)
//! enclet revoke token ID [--reason TEXT] [--json]                 128 hex
//! enclet revoke list [--json]
//! ```
//!
//! The control plane is reached as `enclet secret` reaches it (`--state-dir`,
//! or `--control-plane`, `--control-plane-ca` and `--token-file`). Values
//! and reasons are checked here first, so a typo is a usage error (exit 2)
//! without a network round trip. Revocations are never withdrawn; revoking
//! the same thing again answers the first revocation.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use enclet_control_plane::store::RevocationRecord;
use enclet_control_plane_api::{
    ADMIN_REVOCATIONS, RevocationInfo, RevocationInfoList, RevocationRequest,
};
use enclet_manifest::PublicKey;
use hyper::Method;

use crate::secret::{Failure, Target, connect, parse, usage};

/// Largest public key file read for `--key`.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// `enclet revoke`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 done; 1 the control plane refused or could not be \
                  reached; 2 usage error (a malformed value, an unreadable key file).\n\n\
                  Examples:\n  \
                  enclet revoke --state-dir ./state plugin 4f2a…(96 hex) --reason \"CVE-2026-1\"\n  \
                  enclet revoke --state-dir ./state publisher --key acme.pub.pem\n  \
                  enclet revoke --state-dir ./state list --json"
)]
pub struct RevokeArgs {
    /// Where the control plane is.
    #[command(flatten)]
    pub target: Target,
    /// What to revoke, or `list`.
    #[command(subcommand)]
    pub command: RevokeCommand,
}

/// Why, and how to print the answer.
#[derive(Debug, Clone, Args)]
pub struct RevokeOptions {
    /// Why (at most 256 bytes, no control characters; goes to the audit log).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print the recorded revocation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Revocations.
#[derive(Debug, Subcommand)]
pub enum RevokeCommand {
    /// Revoke a plugin by measurement: the next release denies it
    /// (`revoked_plugin`) and running enclaves unload it.
    #[command(after_help = "Example:\n  \
                            enclet revoke plugin 4f2a…(96 hex) --reason \"leaks its key\"")]
    Plugin {
        /// The plugin's SHA-384 measurement, 96 hex characters.
        measurement: String,
        /// Reason and output.
        #[command(flatten)]
        options: RevokeOptions,
    },
    /// Revoke every plugin a publisher signed, by key fingerprint.
    #[command(after_help = "Examples:\n  \
                            enclet revoke publisher 9c1e…(64 hex)\n  \
                            enclet revoke publisher --key acme.pub.pem --reason \"key stolen\"")]
    Publisher {
        /// SHA-256 of the publisher's public key (DER SPKI), 64 hex characters.
        #[arg(required_unless_present = "key", conflicts_with = "key")]
        fingerprint: Option<String>,
        /// The publisher's public key (PEM): its fingerprint is computed.
        #[arg(long, value_name = "PUB.pem")]
        key: Option<PathBuf>,
        /// Reason and output.
        #[command(flatten)]
        options: RevokeOptions,
    },
    /// Revoke one capability token by its revocation id (`token_id` in a
    /// release and its audit entry).
    #[command(after_help = "Example:\n  enclet revoke token 0b7d…(128 hex) --json")]
    Token {
        /// The token's revocation id, 128 hex characters.
        id: String,
        /// Reason and output.
        #[command(flatten)]
        options: RevokeOptions,
    },
    /// List every revocation, in order.
    #[command(after_help = "Examples:\n  \
                            enclet revoke list\n  \
                            enclet revoke list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `enclet revoke …`; returns the exit status.
#[must_use]
pub fn run(args: RevokeArgs) -> ExitCode {
    let outcome = super::block_on(execute(args)).unwrap_or_else(|e| {
        Err(Failure {
            status: 1,
            message: e,
        })
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("enclet revoke: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

async fn execute(args: RevokeArgs) -> Result<(), Failure> {
    // Check the request first: a usage error should not need the network.
    let request = request(&args.command)?;
    let (client, token) = connect(&args.target)?;
    let bearer = Some(token.expose());
    match (request, args.command) {
        (Some((request, json)), _) => {
            let body = serde_json::to_vec(&request)
                .map_err(|e| usage(format!("encoding the request: {e}")))?;
            let answer = client
                .call(Method::POST, ADMIN_REVOCATIONS, body, bearer)
                .await?;
            let info: RevocationInfo = parse(&answer)?;
            if json {
                crate::stdout::print(&format!("{}\n", pretty(&info)));
            } else {
                crate::stdout::print(&format!(
                    "revoked {} {} (sequence {})\n",
                    info.kind, info.value, info.sequence
                ));
            }
        }
        (None, RevokeCommand::List { json }) => {
            let answer = client
                .call(Method::GET, ADMIN_REVOCATIONS, Vec::new(), bearer)
                .await?;
            let list: RevocationInfoList = parse(&answer)?;
            crate::stdout::print(&if json {
                format!("{}\n", pretty(&list))
            } else {
                table(&list)
            });
        }
        (None, _) => return Err(usage("nothing to revoke".to_owned())),
    }
    Ok(())
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The checked request for a revoke command (`None` for `list`), and
/// whether to print JSON.
fn request(command: &RevokeCommand) -> Result<Option<(RevocationRequest, bool)>, Failure> {
    let (kind, value, options) = match command {
        RevokeCommand::List { .. } => return Ok(None),
        RevokeCommand::Plugin {
            measurement,
            options,
        } => ("plugin", measurement.clone(), options),
        RevokeCommand::Token { id, options } => ("token", id.clone(), options),
        RevokeCommand::Publisher {
            fingerprint,
            key,
            options,
        } => {
            let value = match (fingerprint, key) {
                (Some(f), None) => f.clone(),
                (None, Some(path)) => key_fingerprint(path)?,
                _ => {
                    return Err(usage(
                        "give exactly one of FINGERPRINT or --key PUB.pem".to_owned(),
                    ));
                }
            };
            ("publisher", value, options)
        }
    };
    let checked = RevocationRecord::new(kind, &value, options.reason.clone(), 0)
        .map_err(|e| usage(e.to_string()))?;
    Ok(Some((
        RevocationRequest {
            kind: kind.to_owned(),
            value: checked.value,
            reason: checked.reason,
        },
        options.json,
    )))
}

/// The SHA-256 fingerprint (hex) of the public key in `path`.
fn key_fingerprint(path: &std::path::Path) -> Result<String, Failure> {
    let pem = crate::bounded::read_file(path, MAX_KEY_FILE).map_err(|e| usage(e.to_string()))?;
    let key = PublicKey::from_pem(&pem).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    Ok(hex::encode(key.fingerprint()))
}

fn table(list: &RevocationInfoList) -> String {
    if list.revocations.is_empty() {
        return "nothing revoked\n".to_owned();
    }
    let width = list
        .revocations
        .iter()
        .map(|r| r.value.len())
        .max()
        .unwrap_or(5);
    let mut out = format!(
        "{:>4}  {:<9}  {:<width$}  {:>13}  REASON\n",
        "SEQ", "KIND", "VALUE", "REVOKED_MS"
    );
    for r in &list.revocations {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{:>4}  {:<9}  {:<width$}  {:>13}  {}",
            r.sequence,
            r.kind,
            r.value,
            r.revoked_ms,
            r.reason.as_deref().unwrap_or("-")
        );
    }
    out
}
