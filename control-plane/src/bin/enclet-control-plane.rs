//! `enclet-control-plane`: the relying party's HTTPS service.
//!
//! `serve` runs it on a state directory; `check-config` loads the
//! configuration, policy and reference values without starting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use enclet_control_plane::service::{Service, StartError, StartOptions, SystemClock, check_config};
use enclet_daemon::LogArgs;

/// The enclet control plane: verifies enclave evidence, applies the Rego
/// policy and releases sealed secrets, writing every decision to the audit log.
#[derive(Debug, Parser)]
#[command(
    name = "enclet-control-plane",
    version,
    after_help = "Exit status: 0 clean shutdown (serve) or a valid configuration \
                  (check-config); 1 start-up or runtime failure (state directory, store, \
                  listener); 2 invalid configuration (settings, policy syntax with \
                  file:line:column, reference values, certificate files).\n\n\
                  Signals: SIGTERM/SIGINT shut down gracefully; SIGHUP reloads the policy, \
                  policy data, reference values and TPM CA (a failed reload keeps the old ones)."
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTPS API. The first start writes the default configuration,
    /// a development CA (tls/ca.pem: what clients pin) and the admin token
    /// (admin.token) into the state directory.
    Serve {
        /// The state directory (configuration, store, keys, certificates).
        #[arg(long)]
        state_dir: PathBuf,
        /// The configuration file [default: STATE_DIR/control-plane.toml,
        /// written with defaults if absent].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen on this address instead of the configuration's `listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Load the configuration, policy and reference values, report, exit.
    CheckConfig {
        /// The state directory.
        #[arg(long)]
        state_dir: PathBuf,
        /// The configuration file [default: STATE_DIR/control-plane.toml].
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.log.init();
    match cli.command {
        Command::Serve {
            state_dir,
            config,
            listen,
        } => serve(StartOptions {
            state_dir,
            config,
            listen,
            clock: Arc::new(SystemClock),
        }),
        Command::CheckConfig { state_dir, config } => {
            let path =
                config.unwrap_or_else(|| state_dir.join(enclet_control_plane::config::CONFIG_FILE));
            match check_config(&path) {
                Ok(_) => {
                    println!(
                        "{}: configuration, policy and reference values load",
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e),
            }
        }
    }
}

fn failed(e: &StartError) -> ExitCode {
    eprintln!("enclet-control-plane: {e}");
    ExitCode::from(e.exit_code())
}

fn serve(options: StartOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("enclet-control-plane: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let service = match Service::start(options).await {
            Ok(s) => s,
            Err(e) => return failed(&e),
        };
        if service.tls().dev_ca_created
            && let Some(ca) = &service.tls().dev_ca
        {
            println!("made a development CA: {} (clients pin it)", ca.display());
        }
        let reload = tokio::spawn(service.reloader().on_sighup());
        let shutdown = enclet_daemon::shutdown_signal();
        println!("{}", service.startup_line());
        service.run(shutdown).await;
        reload.abort();
        tracing::info!("shut down");
        ExitCode::SUCCESS
    })
}
