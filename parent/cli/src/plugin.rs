//! `enclet plugin …`: load, invoke, list and unload plugins, and change their
//! limits, through a running parent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use enclet_attestation::Measurement;
use enclet_protocol::Limits;
use hyper::Method;
use serde::{Deserialize, Serialize};

use super::client::{CallError, ParentClient};
use enclet_parent::OperatorAddr;

/// Plugin operations.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a plugin component (`.wasm`); prints its measurement.
    #[command(after_help = LOAD_EXAMPLES, after_long_help = LOAD_HELP)]
    Load(LoadArgs),
    /// Invoke a plugin by measurement or name: input from --input,
    /// --input-file or stdin; writes the raw output bytes to stdout.
    #[command(after_help = invoke::EXAMPLES)]
    Invoke(InvokeArgs),
    /// Unload a plugin by measurement or name, once its running calls finish.
    #[command(after_help = lifecycle::UNLOAD_EXAMPLES)]
    Unload(UnloadArgs),
    /// Change a loaded plugin's limits (only those given).
    #[command(after_help = lifecycle::LIMITS_EXAMPLES)]
    Limits(LimitsArgs),
    /// Make a publisher key pair (PEM, ECDSA P-256) for signing manifests.
    #[command(after_help = publish::KEYGEN_HELP)]
    Keygen(KeygenArgs),
    /// Sign a file (a plugin manifest) in cosign's blob format.
    #[command(after_help = publish::SIGN_HELP)]
    Sign(SignArgs),
    /// Check a cosign-format signature over a file.
    #[command(after_help = publish::VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Parse and check a plugin manifest (component, signature, host API).
    #[command(after_help = publish::INSPECT_HELP)]
    Inspect(InspectArgs),
    /// List loaded plugins.
    #[command(after_help = "Examples:\n  enclet plugin list\n  enclet plugin list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check that the parent and the enclave answer.
    #[command(
        after_help = "Example:\n  enclet --parent unix:/run/enclet/parent.sock plugin health"
    )]
    Health,
}

/// `enclet plugin load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The component file.
    pub file: PathBuf,
    /// Name to register (default: the file name without extension).
    #[arg(long)]
    pub name: Option<String>,
    /// Print the parent's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// The publisher's manifest for this component (an enclave with
    /// publisher keys requires it, with --signature).
    #[arg(long, value_name = "MANIFEST.toml", requires = "signature")]
    pub manifest: Option<PathBuf>,
    /// The manifest's signature (cosign format, see `enclet plugin sign`).
    #[arg(long, value_name = "SIG", requires = "manifest")]
    pub signature: Option<PathBuf>,
    /// Per-plugin limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Examples after `enclet plugin load -h`.
const LOAD_EXAMPLES: &str = "\
Examples:
  enclet plugin load echo.wasm
  enclet plugin load payout.wasm --name payout --fuel 1000000 --deadline-ms 500 --json
  enclet plugin load payout.wasm --manifest payout.toml --signature payout.toml.sig";

/// Explains how limits combine, then the examples, after `enclet plugin load --help`.
const LOAD_HELP: &str = "\
Limits apply to each invocation separately. Only the limits given are sent;
each one not given takes the default of the enclave that loads the plugin (the
defaults shown are those an enclave of this release ships with). A value above the enclave's hard maximum or below its
minimum (1 for --fuel and --deadline-ms, 65536 for --max-memory-bytes) is
refused with invalid_limits (exit status 1). Loading is idempotent by content: if the same
bytes are already loaded, they keep the name and limits of their first load
and the limits given here are ignored (the answer shows the limits in effect).
`enclet plugin list --json` shows every plugin's limits.

Examples:
  enclet plugin load echo.wasm
  enclet plugin load payout.wasm --name payout --fuel 1000000 --deadline-ms 500 --json";

/// Per-plugin limits of `enclet plugin load` and `enclet plugin limits`: for a
/// load, `None` takes the enclave's default; for a change, `None` keeps the
/// plugin's current limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Limits (per invocation)")]
pub struct LimitArgs {
    /// Fuel, about one unit per wasm instruction [default: 500000000; max: 100000000000]
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Wall-clock deadline in milliseconds [default: 1000; max: 60000]
    #[arg(long, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// All linear memories together, in bytes [default: 67108864 (64 MiB); max: 268435456 (256 MiB)]
    #[arg(long, value_name = "BYTES")]
    pub max_memory_bytes: Option<u64>,
    /// All tables together, in elements [default: 10000; max: 100000]
    #[arg(long, value_name = "N")]
    pub max_table_elements: Option<u64>,
    /// Largest input, in bytes [default: 1048576 (1 MiB); max: 16777216 (16 MiB)]
    #[arg(long, value_name = "BYTES")]
    pub max_input_bytes: Option<u64>,
    /// Largest output, in bytes [default: 1048576 (1 MiB); max: 16777216 (16 MiB)]
    #[arg(long, value_name = "BYTES")]
    pub max_output_bytes: Option<u64>,
}

impl LimitArgs {
    /// The given limits as `(query parameter, value)`, in the API's order.
    fn params(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("fuel", self.fuel),
            ("deadline_ms", self.deadline_ms),
            ("max_memory_bytes", self.max_memory_bytes),
            ("max_table_elements", self.max_table_elements),
            ("max_input_bytes", self.max_input_bytes),
            ("max_output_bytes", self.max_output_bytes),
        ]
        .into_iter()
        .filter_map(|(param, value)| value.map(|v| (param, v)))
    }

    /// Whether `effective` differs from a limit given here.
    fn differs_from(&self, effective: &Limits) -> bool {
        let e = effective;
        [
            (self.fuel, e.fuel),
            (self.deadline_ms, e.deadline_ms),
            (self.max_memory_bytes, e.max_memory_bytes),
            (self.max_table_elements, e.max_table_elements),
            (self.max_input_bytes, e.max_input_bytes),
            (self.max_output_bytes, e.max_output_bytes),
        ]
        .into_iter()
        .any(|(given, actual)| given.is_some_and(|g| g != actual))
    }
}

/// A loaded plugin as the operator API reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginEntry {
    /// Name.
    pub name: String,
    /// SHA-384, lowercase hex.
    pub measurement: String,
    /// Component size in bytes.
    pub size_bytes: u64,
}

/// The load answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadAnswer {
    /// Name.
    pub name: String,
    /// SHA-384, lowercase hex.
    pub measurement: String,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// False if the same bytes were already loaded.
    pub newly_loaded: bool,
    /// The limits in effect (the first load's, for bytes already loaded).
    pub limits: Limits,
}

#[derive(Debug, Deserialize)]
struct PluginList {
    plugins: Vec<PluginEntry>,
}

/// A CLI failure: message for stderr and exit status.
#[derive(Debug)]
struct Failure {
    status: u8,
    message: String,
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Self {
            status: 1,
            message: e.to_string(),
        }
    }
}

fn usage(message: String) -> Failure {
    Failure { status: 2, message }
}

/// Runs a plugin subcommand against the parent at `parent` (the publisher
/// commands need none).
#[must_use]
pub fn run(command: PluginCommand, parent: Option<OperatorAddr>) -> ExitCode {
    let offline = match &command {
        PluginCommand::Keygen(args) => Some(publish::keygen(args)),
        PluginCommand::Sign(args) => Some(publish::sign(args)),
        PluginCommand::Verify(args) => Some(publish::verify(args)),
        PluginCommand::Inspect(args) => Some(publish::inspect(args)),
        _ => None,
    };
    let result = match (offline, parent) {
        (Some(result), _) => result,
        (None, None) => Err(usage(
            "no parent address: pass --parent unix:PATH or set ENCLET_PARENT".to_owned(),
        )),
        (None, Some(addr)) => super::block_on(execute(command, ParentClient::new(addr)))
            .unwrap_or_else(|e| {
                Err(Failure {
                    status: 1,
                    message: e,
                })
            }),
    };
    report(result)
}

fn report(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

async fn execute(command: PluginCommand, client: ParentClient) -> Result<(), Failure> {
    match command {
        PluginCommand::Load(args) => load(&client, &args).await,
        PluginCommand::Invoke(args) => invoke::invoke(&client, &args).await,
        PluginCommand::Unload(args) => lifecycle::unload(&client, &args).await,
        PluginCommand::Limits(args) => lifecycle::limits(&client, &args).await,
        PluginCommand::List { json } => list(&client, json).await,
        // Answered offline in `run`.
        PluginCommand::Keygen(_)
        | PluginCommand::Sign(_)
        | PluginCommand::Verify(_)
        | PluginCommand::Inspect(_) => Ok(()),
        PluginCommand::Health => {
            let body = client.call(Method::GET, "/v1/health", Vec::new()).await?;
            println!("{}", String::from_utf8_lossy(&body));
            Ok(())
        }
    }
}

async fn load(client: &ParentClient, args: &LoadArgs) -> Result<(), Failure> {
    let bytes = read_file(&args.file)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => default_name(&args.file)?,
    };
    let headers = publish::signed_headers(args.manifest.as_deref(), args.signature.as_deref())?;
    let answer: LoadAnswer = client
        .call_with_headers(
            Method::POST,
            &load_path(&name, &args.limits),
            &headers,
            bytes,
        )
        .await
        .and_then(|b| {
            serde_json::from_slice(&b)
                .map_err(|e| CallError::Transport(format!("unexpected load answer: {e}")))
        })?;
    if !answer.newly_loaded && args.limits.differs_from(&answer.limits) {
        eprintln!(
            "note: these bytes were already loaded and keep their first limits: {}",
            serde_json::to_string(&answer.limits).unwrap_or_default()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string(&answer).unwrap_or_default());
    } else {
        let state = if answer.newly_loaded {
            "loaded"
        } else {
            "already loaded"
        };
        println!(
            "{state} {} {} ({} bytes)",
            answer.name, answer.measurement, answer.size_bytes
        );
    }
    Ok(())
}

/// `POST /v1/plugins?name=NAME`: loads under the enclave's default limits.
///
/// # Errors
/// The parent's or enclave's reason.
pub async fn load_bytes(
    client: &ParentClient,
    name: &str,
    bytes: Vec<u8>,
) -> Result<LoadAnswer, CallError> {
    load_bytes_with_limits(client, name, bytes, &LimitArgs::default()).await
}

/// `POST /v1/plugins?name=NAME&fuel=N&…`: loads with the limits given in
/// `limits` and the enclave's defaults for the rest.
///
/// # Errors
/// The parent's or enclave's reason (`invalid_limits` for a limit the
/// enclave refuses).
pub async fn load_bytes_with_limits(
    client: &ParentClient,
    name: &str,
    bytes: Vec<u8>,
    limits: &LimitArgs,
) -> Result<LoadAnswer, CallError> {
    client
        .call_json(Method::POST, &load_path(name, limits), bytes)
        .await
}

fn load_path(name: &str, limits: &LimitArgs) -> String {
    use std::fmt::Write as _;
    let mut path = format!("/v1/plugins?name={}", query_escape(name));
    for (param, value) in limits.params() {
        let _ = write!(path, "&{param}={value}");
    }
    path
}

/// A measurement as given, or the measurement of the plugin with that name.
async fn resolve(client: &ParentClient, plugin: &str) -> Result<String, Failure> {
    if plugin.parse::<Measurement>().is_ok() {
        return Ok(plugin.to_ascii_lowercase());
    }
    let list: PluginList = client
        .call_json(Method::GET, "/v1/plugins", Vec::new())
        .await?;
    let mut matches = list.plugins.into_iter().filter(|p| p.name == plugin);
    match (matches.next(), matches.next()) {
        (Some(p), None) => Ok(p.measurement),
        (Some(_), Some(_)) => Err(Failure {
            status: 1,
            message: format!("several plugins are named {plugin:?}: use a measurement"),
        }),
        (None, _) => Err(Failure {
            status: 1,
            message: format!("unknown_plugin: no plugin named {plugin:?} is loaded"),
        }),
    }
}

async fn list(client: &ParentClient, json: bool) -> Result<(), Failure> {
    let body = client.call(Method::GET, "/v1/plugins", Vec::new()).await?;
    if json {
        println!("{}", String::from_utf8_lossy(&body));
        return Ok(());
    }
    let list: PluginList = serde_json::from_slice(&body).map_err(|e| Failure {
        status: 1,
        message: format!("unexpected answer: {e}"),
    })?;
    for p in list.plugins {
        println!(
            "{:<16} {} {:>10} bytes",
            p.name, p.measurement, p.size_bytes
        );
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
}

fn default_name(path: &Path) -> Result<String, Failure> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            usage(format!(
                "cannot derive a name from {}: pass --name",
                path.display()
            ))
        })
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn query_escape(s: &str) -> String {
    use std::fmt::Write as _;
    s.bytes()
        .fold(String::with_capacity(s.len()), |mut out, b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
            out
        })
}

mod invoke;
mod lifecycle;
mod publish;

pub use invoke::{InvokeArgs, InvokeEnvelope, MAX_INPUT_BYTES, invoke_bytes};
pub use lifecycle::{LimitsArgs, PluginAnswer, UnloadArgs};
pub use publish::{InspectArgs, KeygenArgs, SignArgs, VerifyArgs};

#[cfg(test)]
mod tests;
