//! Shared helpers: an in-process service on 127.0.0.1 with a manual clock,
//! clients that pin its CA, test certificate authorities.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use enclet_control_plane::audit::{AuditEntry, AuditKind};
use enclet_control_plane::service::{ManualClock, Service, ServiceState, StartOptions};
use enclet_control_plane_api::client::{ClientError, ClientIdentity, ControlPlaneClient};
use hyper::Method;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use tokio::sync::oneshot;

/// A fixed start time (2026-11-30).
pub(crate) const T0_MS: u64 = 1_796_000_000_000;

/// A service running in this process.
pub(crate) struct Running {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) state: Arc<ServiceState>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) ca_pem: Vec<u8>,
    pub(crate) token: String,
    pub(crate) reloader: enclet_control_plane::service::Reloader,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts a service in a fresh state directory whose configuration is
    /// `config` (TOML; `listen` is set to an ephemeral port).
    pub(crate) async fn start(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, config).await
    }

    pub(crate) async fn start_in(dir: tempfile::TempDir, config: &str) -> Self {
        Self::start_at(dir, config, T0_MS).await
    }

    /// As [`Running::start_in`], with the clock at the real time (for
    /// certificates made now, such as a fresh swtpm's EK certificate).
    pub(crate) async fn start_in_real_time(dir: tempfile::TempDir, config: &str) -> Self {
        use enclet_control_plane::service::{Clock as _, SystemClock};
        Self::start_at(dir, config, SystemClock.now_ms()).await
    }

    async fn start_at(dir: tempfile::TempDir, config: &str, now_ms: u64) -> Self {
        let config_path = dir.path().join("control-plane.toml");
        std::fs::write(&config_path, format!("listen = \"127.0.0.1:0\"\n{config}")).unwrap();
        let clock = Arc::new(ManualClock::new(now_ms));
        let mut options = StartOptions::new(dir.path());
        options.clock = clock.clone();
        let service = Service::start(options).await.unwrap();
        let addr = service.local_addr().unwrap();
        let state = Arc::clone(service.state());
        let reloader = service.reloader();
        let ca_pem = std::fs::read(dir.path().join("tls/ca.pem")).unwrap();
        let token = std::fs::read_to_string(dir.path().join("admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(service.run(async move {
            let _ = stopped.await;
        }));
        Self {
            url: format!("https://127.0.0.1:{}", addr.port()),
            addr,
            dir,
            state,
            clock,
            ca_pem,
            token,
            reloader,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client pinning the service's CA.
    pub(crate) fn client(&self) -> ControlPlaneClient {
        ControlPlaneClient::new(&self.url, &self.ca_pem, None).unwrap()
    }

    /// A client pinning the service's CA and presenting `identity`.
    pub(crate) fn client_with(&self, identity: &ClientIdentity) -> ControlPlaneClient {
        ControlPlaneClient::new(&self.url, &self.ca_pem, Some(identity)).unwrap()
    }

    /// The last `n` audit entries.
    pub(crate) fn audit(&self, n: usize) -> Vec<AuditEntry> {
        self.state.store().audit_tail(n).unwrap()
    }

    /// Audit entries of `kind`, among the last 200.
    pub(crate) fn audit_of(&self, kind: AuditKind) -> Vec<AuditEntry> {
        self.audit(200)
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Stops serving and waits for the drain.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// `ClientError::Api` code, or a panic naming what came back instead.
pub(crate) fn api_code(result: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Calls `path` with a JSON body given as raw text.
pub(crate) async fn post_raw(
    client: &ControlPlaneClient,
    path: &str,
    body: &[u8],
) -> Result<bytes::Bytes, ClientError> {
    client.call(Method::POST, path, body.to_vec(), None).await
}

/// A CA able to issue client certificates.
pub(crate) struct TestCa {
    pub(crate) pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self {
            pem: issuer.pem(),
            issuer,
        }
    }

    /// A client certificate for `cn` (PEM chain and key).
    pub(crate) fn client_identity(&self, cn: &str) -> (ClientIdentity, Vec<u8>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let der = cert.der().to_vec();
        (
            ClientIdentity {
                cert_pem: cert.pem().into_bytes(),
                key_pem: key.serialize_pem().into_bytes(),
            },
            der,
        )
    }

    pub(crate) fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}
