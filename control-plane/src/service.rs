//! Start-up and shutdown: the state directory, configuration, TLS, admin
//! token, store, verifier and policy, the listener, reloads.
//!
//! ```text
//!  state dir (0700) ─ control-plane.toml (written with defaults if absent)
//!                   ─ tls/ (development CA, unless tls.cert/key are set)
//!                   ─ admin.token (0600)   ─ store.sqlite, secrets.key (the store)
//!                   ─ capability.key (0600), capability.pub (see `capability.rs`)
//!  Service::start ──▶ Service { listener bound } ──run(shutdown)──▶ serves until shutdown
//!  Reloader::reload (SIGHUP in the binary): config file → Engine; failure keeps the old one
//! ```
//!
//! Reload re-reads the configuration file for the policy, policy data,
//! reference values and TPM CA files and replaces them as one unit; the
//! listener, TLS, limits and TTLs are read at start only.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::{self, AdminToken};
use crate::config::{CONFIG_FILE, Config, ConfigError};
use crate::store::{SqliteStore, Store, StoreError};
use crate::tls::{ServerTls, TlsError, server_tls};

pub mod clock;
mod engine;
pub(crate) mod files;
mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{DENY_ALL_REGO, Engine, EngineError};
pub(crate) use state::blocking;
pub use state::{Limits, ServiceState};

/// How often expired sessions are evicted and old nonces purged.
const SWEEP_EVERY: Duration = Duration::from_mins(1);
/// Sessions and nonces are purged from the store this long after expiry
/// (until then a late nonce is still answered `nonce_expired`).
const PURGE_AFTER_MS: u64 = 3_600_000;

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration file.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// Certificates and keys.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// Policy, reference values, TPM CA.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The state directory, admin token or listener.
    #[error("{0}")]
    Io(String),
}

impl StartError {
    /// Stable `snake_case` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(e) => e.code(),
            Self::Tls(e) => e.code(),
            Self::Engine(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Io(_) => "io",
        }
    }

    /// The process exit status: 2 for an invalid configuration (settings,
    /// policy, reference values, certificate files), 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Tls(_) | Self::Engine(_) => 2,
            Self::Store(_) | Self::Io(_) => 1,
        }
    }
}

impl From<crate::Error> for StartError {
    fn from(e: crate::Error) -> Self {
        Self::Io(e.to_string())
    }
}

/// What [`Service::start`] needs.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The state directory (made 0700 if absent).
    pub state_dir: PathBuf,
    /// The configuration file; default `<state_dir>/control-plane.toml`,
    /// written with defaults if absent.
    pub config: Option<PathBuf>,
    /// Overrides the configuration's `listen`.
    pub listen: Option<SocketAddr>,
    /// The clock (the binary: [`SystemClock`]).
    pub clock: Arc<dyn Clock>,
}

impl StartOptions {
    /// Options for `state_dir` with the defaults.
    #[must_use]
    pub fn new(state_dir: &Path) -> Self {
        Self {
            state_dir: state_dir.to_path_buf(),
            config: None,
            listen: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The configuration file these options name.
    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| self.state_dir.join(CONFIG_FILE))
    }
}

/// A started service: listener bound, not yet serving.
#[derive(Debug)]
pub struct Service {
    state: Arc<ServiceState>,
    tls: ServerTls,
    config: Config,
    config_path: PathBuf,
    token_path: PathBuf,
    listener: TcpListener,
}

impl Service {
    /// Prepares the state directory and everything the service needs, and
    /// binds the listener.
    ///
    /// # Errors
    /// [`StartError`]; see [`StartError::exit_code`].
    pub async fn start(options: StartOptions) -> Result<Self, StartError> {
        let dir = &options.state_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StartError::Io(format!("state directory {}: {e}", dir.display())))?;
        let config_path = options.config_path();
        let (mut config, created) = if options.config.is_some() {
            (Config::load(&config_path)?, false)
        } else {
            Config::load_or_create(&config_path)?
        };
        if created {
            tracing::info!(path = %config_path.display(), "wrote the default configuration");
        }
        if let Some(listen) = options.listen {
            config.listen = listen;
        }
        let engine = Engine::load(&config)?;
        let tls = server_tls(&config, dir)?;
        let (admin, token_path, _) = AdminToken::load_or_create(dir)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir)?);
        let issuer = crate::capability::Issuer::load_or_create(dir, &config)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Io(format!("listening on {}: {e}", config.listen)))?;
        let state = ServiceState::new(
            store,
            engine,
            options.clock,
            Limits::from_config(&config),
            admin,
            config.max_sessions,
            issuer,
        );
        Ok(Self {
            state: Arc::new(state),
            tls,
            config,
            config_path,
            token_path,
            listener,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// The socket cannot say (should not happen once bound).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (store, sessions, engine).
    #[must_use]
    pub fn state(&self) -> &Arc<ServiceState> {
        &self.state
    }

    /// The TLS set-up (development CA path, mutual TLS).
    #[must_use]
    pub fn tls(&self) -> &ServerTls {
        &self.tls
    }

    /// The admin token file.
    #[must_use]
    pub fn token_path(&self) -> &Path {
        &self.token_path
    }

    /// A handle that reloads the policy and reference values.
    #[must_use]
    pub fn reloader(&self) -> Reloader {
        Reloader {
            state: Arc::clone(&self.state),
            config_path: self.config_path.clone(),
        }
    }

    /// The one start-up line: where to connect and what to pin (never the
    /// token itself).
    #[must_use]
    pub fn startup_line(&self) -> String {
        let addr = self
            .local_addr()
            .map_or_else(|_| self.config.listen.to_string(), |a| a.to_string());
        let ca = self.tls.dev_ca.as_ref().map_or_else(
            || "configured certificate".to_owned(),
            |p| p.display().to_string(),
        );
        format!(
            "enclet-control-plane listening on https://{addr} (CA: {ca}; admin token: {}{})",
            self.token_path.display(),
            if self.tls.mutual { "; mutual TLS" } else { "" }
        )
    }

    /// Serves until `shutdown` resolves, then drains connections.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let sweeper = tokio::spawn(sweep(Arc::clone(&self.state)));
        let router = api::router(Arc::clone(&self.state));
        let options = api::serve::ServeOptions::from_config(&self.config);
        api::serve::serve(
            self.listener,
            Arc::clone(&self.tls.config),
            router,
            options,
            shutdown,
        )
        .await;
        sweeper.abort();
    }
}

/// Reloads the verifier and policy from the configuration file.
#[derive(Debug, Clone)]
pub struct Reloader {
    state: Arc<ServiceState>,
    config_path: PathBuf,
}

impl Reloader {
    /// Re-reads the configuration and puts a new verifier and policy in
    /// force. On failure the old ones stay in force.
    ///
    /// # Errors
    /// [`StartError::Config`] or [`StartError::Engine`].
    pub fn reload(&self) -> Result<(), StartError> {
        let config = Config::load(&self.config_path)?;
        let engine = Engine::load(&config)?;
        self.state.replace_engine(engine);
        Ok(())
    }

    /// Installs the SIGHUP handler now (so a SIGHUP right after start-up
    /// reloads instead of killing the process) and returns the future that
    /// reloads on every SIGHUP; failures are logged and leave the old policy
    /// in force. Call inside the runtime.
    pub fn on_sighup(self) -> impl Future<Output = ()> + Send {
        use tokio::signal::unix::{SignalKind, signal};
        let hup = signal(SignalKind::hangup());
        async move {
            let Ok(mut hup) = hup else {
                tracing::warn!("cannot install the SIGHUP handler; reload by restarting");
                return;
            };
            while hup.recv().await.is_some() {
                let this = self.clone();
                match tokio::task::spawn_blocking(move || this.reload()).await {
                    Ok(Ok(())) => tracing::info!("reloaded the policy and reference values"),
                    Ok(Err(e)) => tracing::error!(
                        error = %e,
                        code = e.code(),
                        "reload failed; the previous policy stays in force"
                    ),
                    Err(e) => tracing::error!(error = %e, "reload task failed"),
                }
            }
        }
    }
}

/// Checks a configuration without starting: the file, the policy, the
/// reference values and the TPM CA files, and configured certificate files.
///
/// # Errors
/// [`StartError`] naming what is wrong (exit status 2).
pub fn check_config(config_path: &Path) -> Result<Config, StartError> {
    let config = Config::load(config_path)?;
    Engine::load(&config)?;
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        crate::tls::read_certs(cert)?;
        crate::tls::read_key(key)?;
    }
    if let Some(ca) = &config.tls.client_ca {
        crate::tls::read_certs(ca)?;
    }
    Ok(config)
}

async fn sweep(state: Arc<ServiceState>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let now = state.clock.now_ms();
        let evicted = state.sessions.evict_expired(now);
        let store = Arc::clone(&state.store);
        let purged = tokio::task::spawn_blocking(move || {
            store.purge_expired(now.saturating_sub(PURGE_AFTER_MS))
        })
        .await;
        match purged {
            Ok(Ok(n)) => tracing::debug!(evicted, purged = n, "swept expired sessions"),
            Ok(Err(e)) => tracing::warn!(error = %e, "purging expired sessions failed"),
            Err(e) => tracing::warn!(error = %e, "purge task failed"),
        }
    }
}
