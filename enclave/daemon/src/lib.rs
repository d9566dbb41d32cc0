//! # enclet-daemon
//!
//! What `enclet-enclave` and `enclet-parent` do the same way as processes, kept
//! in one place so the two cannot drift apart:
//!
//! * [`LogArgs`]: the `--log-format json|text` flag (flatten it into a clap
//!   parser) and [`LogArgs::init`], which sends `tracing` to stderr filtered
//!   by `RUST_LOG` (default `info`), without terminal colour codes.
//! * [`shutdown_signal`]: resolves on the first SIGTERM or SIGINT.
//! * [`remove_stale_socket`]: clears a Unix socket file left by an earlier
//!   run before binding, and refuses to delete anything that is not a socket.
#![forbid(unsafe_code)]

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Why process set-up failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The listening path exists and is not a socket; it is left alone.
    #[error("{0} exists and is not a socket")]
    NotASocket(PathBuf),
    /// A stale socket file could not be removed.
    #[error("removing stale socket {path}: {source}")]
    RemoveSocket {
        /// The socket file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// Log output format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    Text,
}

/// The logging flags both long-running binaries take.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log output format on stderr (filter with `RUST_LOG`, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Installs the process-wide `tracing` subscriber. Call once, first thing
    /// in `main`; a second call leaves the first subscriber in place.
    pub fn init(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        // `try_init` fails only if a subscriber is already set: keep that one.
        let _ = match self.log_format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Text => builder.with_ansi(false).try_init(),
        };
    }
}

/// Installs the SIGTERM and SIGINT handlers now and returns a future that
/// resolves when the process receives either. Call it inside the runtime
/// before announcing that the process is ready: from this call on, SIGTERM
/// means a graceful shutdown, even before the future is first polled (a
/// lazily installed handler left a window in which SIGTERM killed the
/// process outright). If the handlers cannot be installed it logs a warning
/// and the future never resolves (the process is then stopped with SIGKILL).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            tracing::warn!("cannot install signal handlers; stop with SIGKILL");
            return std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
}

/// Removes a socket file left at `path` by a previous run. Nothing there is
/// fine; anything other than a socket is refused and left untouched.
///
/// # Errors
/// [`DaemonError::NotASocket`] or [`DaemonError::RemoveSocket`].
pub fn remove_stale_socket(path: &Path) -> Result<(), DaemonError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| DaemonError::RemoveSocket {
                path: path.to_owned(),
                source,
            })
        }
        Ok(_) => Err(DaemonError::NotASocket(path.to_owned())),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn log_format_defaults_to_text_and_takes_json() {
        assert_eq!(Cli::parse_from(["x"]).log.log_format, LogFormat::Text);
        let json = Cli::parse_from(["x", "--log-format", "json"]);
        assert_eq!(json.log.log_format, LogFormat::Json);
        assert!(Cli::try_parse_from(["x", "--log-format", "yaml"]).is_err());
    }

    #[test]
    fn a_stale_socket_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(listener);
        assert!(path.exists());
        remove_stale_socket(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_missing_path_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        remove_stale_socket(&dir.path().join("none")).unwrap();
    }

    #[test]
    fn a_regular_file_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, b"keep me").unwrap();
        let err = remove_stale_socket(&path).unwrap_err();
        assert!(matches!(err, DaemonError::NotASocket(_)), "{err}");
        assert!(err.to_string().contains("is not a socket"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn shutdown_signal_resolves_on_a_sigterm_sent_before_it_is_polled() {
        // The handler is installed by the call itself: SIGTERM sent before the
        // future is first polled is a wake-up, not the end of the test
        // process (which it was while the handler was installed on first
        // poll).
        let shutdown = shutdown_signal();
        let pid = std::process::id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), shutdown)
            .await
            .expect("shutdown_signal did not resolve after SIGTERM");
    }
}
