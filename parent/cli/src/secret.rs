//! `enclet secret …`: manage the control plane's secrets through its admin API.
//!
//! ```text
//! enclet secret put NAME (--from-file FILE | --stdin)   store a new version
//! enclet secret list [--json]                            names, versions, sizes
//! enclet secret rm NAME                                  remove
//! ```
//!
//! Where the control plane is: `--control-plane URL` (env
//! `ENCLET_CONTROL_PLANE`), `--control-plane-ca FILE` (the CA its certificate
//! must chain to; nothing else is trusted) and `--token-file FILE` (the admin
//! bearer token). `--state-dir DIR` defaults all three from a control plane's
//! state directory on this machine: the listen address in its
//! `control-plane.toml`, `tls/ca.pem` and `admin.token`.
//!
//! Values are read from a file or from stdin to EOF, at most 64 KiB, held in
//! memory that is zeroed afterwards, and never printed: the answers show
//! names, versions and sizes only.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use enclet_control_plane::api::AdminToken;
use enclet_control_plane::config::{CONFIG_FILE, Config};
use enclet_control_plane::store::MAX_SECRET_VALUE;
use enclet_control_plane_api::client::{ClientError, ControlPlaneClient};
use enclet_control_plane_api::{ADMIN_SECRETS, SecretInfo, SecretList, secret_path};
use hyper::Method;
use zeroize::Zeroizing;

/// `enclet secret`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 done; 1 the control plane refused or could not be \
                        reached; 2 usage error, unreadable or oversized value.\n\n\
                        Examples:\n  \
                        enclet secret --state-dir ./state put db-password --from-file pw.txt\n  \
                        enclet secret --state-dir ./state list --json\n  \
                        enclet secret --state-dir ./state rm db-password"
)]
pub struct SecretArgs {
    /// Where the control plane is.
    #[command(flatten)]
    pub target: Target,
    /// What to do.
    #[command(subcommand)]
    pub command: SecretCommand,
}

/// How to reach the control plane's admin API.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The control plane: `https://HOST:PORT` [default: from --state-dir].
    #[arg(long, global = true, env = "ENCLET_CONTROL_PLANE", value_name = "URL")]
    pub control_plane: Option<String>,
    /// The CA (PEM) the control plane's certificate must chain to
    /// [default: tls/ca.pem in the --state-dir].
    #[arg(long, global = true, value_name = "FILE")]
    pub control_plane_ca: Option<PathBuf>,
    /// The admin bearer token file [default: admin.token in the --state-dir].
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// A control plane state directory on this machine: defaults the three
    /// settings above.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Secret operations.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a new version of secret NAME (prints its version, never the value).
    #[command(after_help = "Examples:\n  \
                            enclet secret put db-password --from-file pw.txt\n  \
                            printf %s \"$PW\" | enclet secret put db-password --stdin")]
    Put {
        /// 1 to 128 characters of `A-Z a-z 0-9 . _ -`.
        name: String,
        /// Read the value from this file.
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "stdin",
            required_unless_present = "stdin"
        )]
        from_file: Option<PathBuf>,
        /// Read the value from standard input, to end of file.
        #[arg(long)]
        stdin: bool,
    },
    /// List secrets: name, version, size, last change (never values).
    #[command(after_help = "Examples:\n  \
                            enclet secret list\n  \
                            enclet secret list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove secret NAME.
    #[command(after_help = "Example:\n  enclet secret rm db-password")]
    Rm {
        /// The secret's name.
        name: String,
    },
}

/// A failure and its exit status.
pub(crate) struct Failure {
    pub(crate) status: u8,
    pub(crate) message: String,
}

pub(crate) fn usage(message: String) -> Failure {
    Failure { status: 2, message }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let status = if matches!(e, ClientError::Config(_)) {
            2
        } else {
            1
        };
        Failure {
            status,
            message: e.to_string(),
        }
    }
}

/// Runs `enclet secret …`; returns the exit status.
#[must_use]
pub fn run(args: SecretArgs) -> ExitCode {
    let outcome = super::block_on(execute(args)).unwrap_or_else(|e| {
        Err(Failure {
            status: 1,
            message: e,
        })
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("enclet secret: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

async fn execute(args: SecretArgs) -> Result<(), Failure> {
    // Read the value first: a usage error should not need the network.
    let value = match &args.command {
        SecretCommand::Put {
            from_file, stdin, ..
        } => Some(read_value(from_file.as_deref(), *stdin)?),
        _ => None,
    };
    let (client, token) = connect(&args.target)?;
    let bearer = Some(token.expose());
    match args.command {
        SecretCommand::Put { name, .. } => {
            let value = value.map(|v| v.to_vec()).unwrap_or_default();
            let answer = client
                .call(Method::PUT, &secret_path(&name), value, bearer)
                .await?;
            let info: SecretInfo = parse(&answer)?;
            println!(
                "stored secret {} version {} ({} bytes)",
                info.name, info.version, info.size_bytes
            );
        }
        SecretCommand::List { json } => {
            let answer = client
                .call(Method::GET, ADMIN_SECRETS, Vec::new(), bearer)
                .await?;
            let list: SecretList = parse(&answer)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else {
                print_table(&list);
            }
        }
        SecretCommand::Rm { name } => {
            let answer = client
                .call(Method::DELETE, &secret_path(&name), Vec::new(), bearer)
                .await?;
            let info: SecretInfo = parse(&answer)?;
            println!(
                "removed secret {} (was version {})",
                info.name, info.version
            );
        }
    }
    Ok(())
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| Failure {
        status: 1,
        message: format!("unexpected answer from the control plane: {e}"),
    })
}

fn print_table(list: &SecretList) {
    if list.secrets.is_empty() {
        println!("no secrets");
        return;
    }
    let width = list
        .secrets
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<width$}  {:>7}  {:>6}  UPDATED_MS",
        "NAME", "VERSION", "BYTES"
    );
    for s in &list.secrets {
        println!(
            "{:<width$}  {:>7}  {:>6}  {}",
            s.name, s.version, s.size_bytes, s.updated_ms
        );
    }
}

/// The value to store, from a file or stdin, at most [`MAX_SECRET_VALUE`].
fn read_value(file: Option<&Path>, stdin: bool) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let limit = u64::try_from(MAX_SECRET_VALUE).unwrap_or(u64::MAX);
    let mut value = Zeroizing::new(Vec::new());
    let (what, read) = match (file, stdin) {
        (Some(path), false) => (
            path.display().to_string(),
            std::fs::File::open(path)
                .and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut value)),
        ),
        (None, true) => (
            "standard input".to_owned(),
            std::io::stdin()
                .lock()
                .take(limit.saturating_add(1))
                .read_to_end(&mut value),
        ),
        _ => {
            return Err(usage(
                "give exactly one of --from-file FILE or --stdin".to_owned(),
            ));
        }
    };
    read.map_err(|e| usage(format!("reading {what}: {e}")))?;
    if value.len() > MAX_SECRET_VALUE {
        return Err(usage(format!(
            "{what}: the value is larger than {MAX_SECRET_VALUE} bytes"
        )));
    }
    if value.is_empty() {
        return Err(usage(format!("{what}: the value is empty")));
    }
    Ok(value)
}

/// The client and token the flags (or the state directory) name.
pub(crate) fn connect(target: &Target) -> Result<(ControlPlaneClient, AdminToken), Failure> {
    let from_dir = |name: &str| target.state_dir.as_ref().map(|d| d.join(name));
    let url = match (&target.control_plane, &target.state_dir) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => url_from_state_dir(dir)?,
        (None, None) => {
            return Err(usage(
                "where is the control plane? give --control-plane URL (or ENCLET_CONTROL_PLANE) \
                 or --state-dir DIR"
                    .to_owned(),
            ));
        }
    };
    let ca = target
        .control_plane_ca
        .clone()
        .or_else(|| from_dir("tls/ca.pem"))
        .ok_or_else(|| usage("give --control-plane-ca FILE or --state-dir DIR".to_owned()))?;
    let token = target
        .token_file
        .clone()
        .or_else(|| from_dir(enclet_control_plane::api::auth::TOKEN_FILE))
        .ok_or_else(|| usage("give --token-file FILE or --state-dir DIR".to_owned()))?;
    let ca_pem = std::fs::read(&ca).map_err(|e| usage(format!("{}: {e}", ca.display())))?;
    let token = AdminToken::read(&token).map_err(|e| usage(e.to_string()))?;
    Ok((ControlPlaneClient::new(&url, &ca_pem, None)?, token))
}

/// `https://ADDR` from the state directory's configuration; an unspecified
/// listen address (`0.0.0.0`, `::`) is reached on loopback.
fn url_from_state_dir(dir: &Path) -> Result<String, Failure> {
    let config = Config::load(&dir.join(CONFIG_FILE)).map_err(|e| usage(e.to_string()))?;
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(format!("https://{addr}"))
}
