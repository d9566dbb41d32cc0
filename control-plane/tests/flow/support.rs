//! A real control plane process, and a TPM "enclave" (swtpm + the enclave's
//! attester + an HPKE key) driven by the test as its parent would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::EventLog;
use enclet_attestation::event_log::PluginEvent;
use enclet_attester::{AttestationRequest, Attester, AttesterIdentity, Evidence, TpmIdentity};
use enclet_control_plane_api::client::{ClientError, ControlPlaneClient};
use enclet_control_plane_api::{
    Activated, Activation, AttesterKind, EvidenceSubmission, Hex, NonceIssued, OpenSession,
    PcrValue, PluginName, Release, SessionOpened, TpmIdentity as TpmIdentityJson,
};
use enclet_sealed::RecipientKey;
use enclet_swtpm::Swtpm;
use hyper::Method;

/// Generous bound against hangs; never a performance assertion.
const STARTUP: Duration = Duration::from_mins(1);

/// The secret the policy grants to the payout plugin in these tests.
pub const SECRET_NAME: &str = "payout-hmac-key";
/// Its value: distinctive, to be searched for in places it must not be.
pub const SECRET_VALUE: &[u8] = b"cp-flow-secret-7c1d9a2e-never-in-the-clear";

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the control plane is configured with.
pub struct Setup {
    /// Image measurements the reference values allow.
    pub images: Vec<Measurement>,
    /// Plugins the policy data knows, with the secrets each is granted.
    pub grants: Vec<(Measurement, Vec<&'static str>)>,
    /// Rego source (default: the shipped default policy).
    pub rego: Option<String>,
    /// Extra top-level settings (TOML lines).
    pub extra: String,
}

/// A running `enclet-control-plane`.
pub struct ControlPlane {
    pub dir: PathBuf,
    child: Option<Child>,
    pub client: ControlPlaneClient,
    pub token: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_enclet-control-plane"))
}

impl ControlPlane {
    /// Writes the configuration for `setup` into `dir` (the state directory)
    /// and starts the service.
    pub fn start(dir: &Path, swtpm: &Swtpm, setup: &Setup) -> Self {
        write_config(dir, swtpm, setup);
        Self::start_existing(dir)
    }

    /// Starts the service on an existing state directory.
    pub fn start_existing(dir: &Path) -> Self {
        let child = spawn(dir);
        let text = std::fs::read_to_string(dir.join("control-plane.toml")).unwrap();
        let listen = text
            .lines()
            .find_map(|l| l.strip_prefix("listen = "))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let url = format!("https://{listen}");
        let start = Instant::now();
        // Both files appear during start-up, the token after the CA.
        let (ca, token) = loop {
            let ca = std::fs::read(dir.join("tls/ca.pem")).unwrap_or_default();
            let token = std::fs::read_to_string(dir.join("admin.token")).unwrap_or_default();
            if !ca.is_empty() && !token.trim().is_empty() {
                break (ca, token.trim().to_owned());
            }
            assert!(
                start.elapsed() < STARTUP,
                "no CA or token after {STARTUP:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let client = ControlPlaneClient::new(&url, &ca, None).unwrap();
        let mut cp = Self {
            dir: dir.to_path_buf(),
            child: Some(child),
            client,
            token,
        };
        cp.wait_healthy();
        cp
    }

    fn wait_healthy(&mut self) {
        let start = Instant::now();
        let rt = runtime();
        loop {
            let health: Result<enclet_control_plane_api::Health, _> =
                rt.block_on(self.client.call_json::<(), _>(
                    Method::GET,
                    enclet_control_plane_api::HEALTH,
                    None,
                    None,
                ));
            if health.is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("control plane exited early: {status}; {}", self.log());
            }
            assert!(start.elapsed() < STARTUP, "not healthy: {health:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("control-plane.log")).unwrap_or_default()
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stores a secret through the admin API.
    pub async fn put_secret(&self, name: &str, value: &[u8]) {
        self.client
            .call(
                Method::PUT,
                &enclet_control_plane_api::secret_path(name),
                value.to_vec(),
                Some(&self.token),
            )
            .await
            .unwrap();
    }

    /// The audit log, read-only beside the running service (as `enclet
    /// audit tail` reads it).
    pub fn audit_json(&self) -> Vec<serde_json::Value> {
        enclet_control_plane::store::AuditLogReader::open(&self.dir)
            .unwrap()
            .tail(10_000)
            .unwrap()
            .into_iter()
            .map(|e| serde_json::to_value(&e).unwrap())
            .collect()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn spawn(dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("control-plane.log"))
        .unwrap();
    Command::new(binary())
        .args(["serve", "--state-dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The shipped default policy.
pub fn default_rego() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policy/default.rego"))
        .unwrap()
}

/// Writes the state directory's configuration, policy, data and reference
/// values for `setup`, listening on a free loopback port.
pub fn write_config(dir: &Path, swtpm: &Swtpm, setup: &Setup) {
    let port = free_port();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ek-ca.der"), swtpm.ca_cert_der().unwrap()).unwrap();
    std::fs::write(dir.join("ek-issuer.der"), swtpm.issuer_cert_der().unwrap()).unwrap();
    let images: Vec<String> = setup
        .images
        .iter()
        .map(|m| format!("\"{}\"", m.to_hex()))
        .collect();
    std::fs::write(
        dir.join("reference.toml"),
        format!("[tpm]\nimages = [{}]\n", images.join(", ")),
    )
    .unwrap();
    let plugins: serde_json::Map<String, serde_json::Value> = setup
        .grants
        .iter()
        .map(|(m, s)| (m.to_hex(), serde_json::json!({ "secrets": s })))
        .collect();
    std::fs::write(
        dir.join("data.json"),
        serde_json::json!({ "plugins": plugins }).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("policy.rego"),
        setup.rego.clone().unwrap_or_else(default_rego),
    )
    .unwrap();
    std::fs::write(
        dir.join("control-plane.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nreference_values = \"reference.toml\"\n{}\n\
             [tpm]\nek_ca = \"ek-ca.der\"\nek_intermediates = [\"ek-issuer.der\"]\n\n\
             [policy]\nrego = \"policy.rego\"\ndata = \"data.json\"\n",
            setup.extra
        ),
    )
    .unwrap();
}

/// The enclave side: a TPM attester over a private swtpm that measured an
/// image and some plugins, and the enclave's HPKE key.
pub struct TpmEnclave {
    // Field order: the attester closes its TPM context before swtpm stops.
    pub attester: Box<dyn Attester>,
    pub identity: TpmIdentity,
    pub key: RecipientKey,
    pub log: EventLog,
    pub swtpm: Swtpm,
}

impl TpmEnclave {
    pub fn new(image: &Measurement, plugins: &[Measurement]) -> Self {
        let swtpm = Swtpm::start().unwrap();
        let config = enclet_attester::parse_attester_config(&format!(
            "tpm:host=127.0.0.1,port={}",
            swtpm.port()
        ))
        .unwrap();
        let attester = enclet_attester::open(&config).unwrap();
        attester.measure_image(image).unwrap();
        let mut log = EventLog::new();
        for p in plugins {
            attester
                .record_plugin_event(&PluginEvent::Load(*p))
                .unwrap();
            log.push_load(*p).unwrap();
        }
        let AttesterIdentity::Tpm(identity) = attester.identity().unwrap() else {
            panic!("a TPM attester has a TPM identity");
        };
        Self {
            attester,
            identity,
            key: RecipientKey::generate().unwrap(),
            log,
            swtpm,
        }
    }

    /// Opens a session and activates the AK: what the parent does first.
    pub async fn session(&self, cp: &ControlPlane) -> String {
        let opened = self.open(cp).await.unwrap();
        let credential = opened
            .credential
            .expect("a TPM session carries a credential");
        let secret = self
            .attester
            .activate_credential(&credential.id_object.0, &credential.encrypted_secret.0)
            .unwrap();
        let _: Activated = cp
            .client
            .call_json(
                Method::POST,
                &enclet_control_plane_api::activation_path(&opened.session),
                Some(&Activation {
                    secret: Hex(secret),
                }),
                None,
            )
            .await
            .unwrap();
        opened.session
    }

    pub async fn open(&self, cp: &ControlPlane) -> Result<SessionOpened, ClientError> {
        cp.client
            .call_json(
                Method::POST,
                enclet_control_plane_api::SESSIONS,
                Some(&OpenSession {
                    attester: AttesterKind::Tpm,
                    tpm: Some(TpmIdentityJson {
                        ek_public: Hex(self.identity.ek_public.clone()),
                        ek_certificate: Hex(self.identity.ek_certificate.clone()),
                        ak_public: Hex(self.identity.ak_public.clone()),
                    }),
                }),
                None,
            )
            .await
    }

    /// A fresh nonce in `session`.
    pub async fn nonce(&self, cp: &ControlPlane, session: &str) -> Vec<u8> {
        let issued: NonceIssued = cp
            .client
            .call_json::<(), _>(
                Method::POST,
                &enclet_control_plane_api::nonces_path(session),
                None,
                None,
            )
            .await
            .unwrap();
        issued.nonce.0
    }

    /// Evidence over `nonce`, this enclave's key and `log`.
    pub fn evidence(&self, nonce: &[u8], log: &EventLog) -> EvidenceSubmission {
        let request = AttestationRequest {
            nonce: nonce.to_vec(),
            public_key: self.key.public_key().to_vec(),
            event_log_digest: log.digest(),
        };
        let Evidence::Tpm(ev) = self.attester.attest(&request).unwrap() else {
            panic!("TPM evidence expected");
        };
        EvidenceSubmission {
            nonce: Hex(nonce.to_vec()),
            evidence: enclet_control_plane_api::Evidence::Tpm {
                attest: Hex(ev.attest),
                signature: Hex(ev.signature),
                ak_public: Hex(ev.ak_public),
                pcrs: ev
                    .pcrs
                    .into_iter()
                    .map(|(index, value)| PcrValue {
                        index,
                        value: Hex(value),
                    })
                    .collect(),
            },
            event_log: Hex(log.to_bytes()),
            public_key: Hex(self.key.public_key().to_vec()),
            plugins: log
                .live()
                .iter()
                .enumerate()
                .map(|(i, m)| PluginName {
                    measurement: m.to_hex(),
                    name: format!("plugin-{i}"),
                })
                .collect(),
        }
    }

    pub async fn submit(
        cp: &ControlPlane,
        session: &str,
        body: &EvidenceSubmission,
    ) -> Result<Release, ClientError> {
        cp.client
            .call_json(
                Method::POST,
                &enclet_control_plane_api::evidence_path(session),
                Some(body),
                None,
            )
            .await
    }
}

/// The code of a refused call.
pub fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
    match r {
        Err(ClientError::Api { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
