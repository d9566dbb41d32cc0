//! A fake control plane: a real rustls HTTPS server on 127.0.0.1 (certificate
//! from an rcgen CA) answering the API's routes with canned JSON and recording
//! what it was sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use enclet_control_plane_api::{
    Activation, AttesterKind, Credential, ErrorBody, EvidenceSubmission, Hex, NonceIssued,
    OpenSession, PluginRelease, Release, SessionOpened,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::relay::status::unix_now;

/// The credential the fake issues, and the secret the stand-in TPM recovers
/// from it (see `enclave.rs`).
pub(super) const ID_OBJECT: &[u8] = b"good";
pub(super) const CREDENTIAL_SECRET: &[u8] = b"secret";

/// A CA certificate (PEM) and its issuer.
pub(super) struct Ca {
    pub(super) pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub(super) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self {
            pem: issuer.pem(),
            issuer,
        }
    }
}

/// What the fake was sent, and how it behaves.
#[derive(Default)]
pub(super) struct Cp {
    /// `METHOD path` of every request, in order.
    pub(super) log: Mutex<Vec<String>>,
    pub(super) opened: Mutex<Vec<OpenSession>>,
    pub(super) activations: Mutex<Vec<(String, Vec<u8>)>>,
    pub(super) evidence: Mutex<Vec<(String, EvidenceSubmission)>>,
    /// Live sessions: id → (attester, activated).
    sessions: Mutex<HashMap<String, (AttesterKind, bool)>>,
    next_session: AtomicU32,
    /// Nonces requested so far (updated before the gate is waited on).
    pub(super) nonces: watch::Sender<u32>,
    /// Evidence submissions so far.
    pub(super) submissions: watch::Sender<u32>,
    /// When set, each nonce answer waits for a permit.
    pub(super) gate: Option<Semaphore>,
    /// Every session is unknown (a control plane that keeps losing them).
    pub(super) always_unknown: AtomicBool,
    /// Refuse this many evidence submissions with `policy_denied`.
    pub(super) deny: AtomicU32,
    /// Lifetime of a release, seconds.
    pub(super) lifetime: u64,
}

impl Cp {
    pub(super) fn new(lifetime: u64, gated: bool) -> Self {
        Self {
            gate: gated.then(|| Semaphore::new(0)),
            lifetime,
            ..Self::default()
        }
    }

    /// Forgets every session (as after a restart).
    pub(super) fn forget_sessions(&self) {
        self.sessions.lock().unwrap().clear();
    }

    pub(super) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn note(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }

    fn known(&self, id: &str) -> Option<(AttesterKind, bool)> {
        if self.always_unknown.load(Ordering::SeqCst) {
            return None;
        }
        self.sessions.lock().unwrap().get(id).copied()
    }
}

/// The bundle the fake "seals": a tag and the expiry, which the mock enclave
/// reads back (the parent must pass it through unchanged).
pub(super) fn bundle(expires_at: u64) -> Vec<u8> {
    let mut b = b"sealed-bundle:".to_vec();
    b.extend_from_slice(&expires_at.to_be_bytes());
    b
}

/// Serves the fake with a certificate for 127.0.0.1 issued by `ca`; returns
/// its URL.
pub(super) async fn serve(cp: Arc<Cp>, ca: &Ca) -> String {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca.issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    )
    .unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", tcp.local_addr().unwrap());
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    let app = Router::new()
        .route("/v1/sessions", post(open))
        .route("/v1/sessions/{id}/activation", post(activate))
        .route("/v1/sessions/{id}/nonces", post(nonce))
        .route("/v1/sessions/{id}/evidence", post(evidence))
        .with_state(cp);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses our certificate ends here.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn refuse(status: StatusCode, code: &str) -> Response {
    let body = ErrorBody {
        code: code.to_owned(),
        message: format!("fake control plane: {code}"),
    };
    (status, Json(body)).into_response()
}

async fn open(State(cp): State<Arc<Cp>>, Json(body): Json<OpenSession>) -> Response {
    cp.note("POST /v1/sessions".to_owned());
    cp.opened.lock().unwrap().push(body.clone());
    let n = cp.next_session.fetch_add(1, Ordering::SeqCst);
    let id = format!("{n:032x}");
    cp.sessions
        .lock()
        .unwrap()
        .insert(id.clone(), (body.attester, false));
    let credential = (body.attester == AttesterKind::Tpm).then(|| Credential {
        id_object: Hex(ID_OBJECT.to_vec()),
        encrypted_secret: Hex(b"seed".to_vec()),
    });
    Json(SessionOpened {
        session: id,
        expires_at: unix_now() + 3_600,
        credential,
    })
    .into_response()
}

async fn activate(
    State(cp): State<Arc<Cp>>,
    Path(id): Path<String>,
    Json(body): Json<Activation>,
) -> Response {
    cp.note(format!("POST /v1/sessions/{id}/activation"));
    cp.activations
        .lock()
        .unwrap()
        .push((id.clone(), body.secret.0.clone()));
    if cp.known(&id).is_none() {
        return refuse(StatusCode::NOT_FOUND, "unknown_session");
    }
    if body.secret.0 != CREDENTIAL_SECRET {
        return refuse(StatusCode::FORBIDDEN, "ak_not_activated");
    }
    if let Some(s) = cp.sessions.lock().unwrap().get_mut(&id) {
        s.1 = true;
    }
    Json(serde_json::json!({"ak_name": "00"})).into_response()
}

async fn nonce(State(cp): State<Arc<Cp>>, Path(id): Path<String>) -> Response {
    cp.note(format!("POST /v1/sessions/{id}/nonces"));
    cp.nonces.send_modify(|n| *n += 1);
    if let Some(gate) = &cp.gate {
        gate.acquire().await.unwrap().forget();
    }
    if cp.known(&id).is_none() {
        return refuse(StatusCode::NOT_FOUND, "unknown_session");
    }
    let count = *cp.nonces.borrow();
    Json(NonceIssued {
        nonce: Hex(vec![u8::try_from(count % 256).unwrap(); 32]),
        expires_at: unix_now() + 60,
    })
    .into_response()
}

async fn evidence(
    State(cp): State<Arc<Cp>>,
    Path(id): Path<String>,
    Json(body): Json<EvidenceSubmission>,
) -> Response {
    cp.note(format!("POST /v1/sessions/{id}/evidence"));
    let plugins = body.plugins.clone();
    cp.evidence.lock().unwrap().push((id.clone(), body));
    cp.submissions.send_modify(|n| *n += 1);
    match cp.known(&id) {
        None => return refuse(StatusCode::NOT_FOUND, "unknown_session"),
        Some((AttesterKind::Tpm, false)) => {
            return refuse(StatusCode::FORBIDDEN, "ak_not_activated");
        }
        Some(_) => {}
    }
    let denied = cp
        .deny
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if denied {
        return refuse(StatusCode::FORBIDDEN, "policy_denied");
    }
    let expires_at = unix_now() + cp.lifetime;
    Json(Release {
        session: id,
        expires_at,
        plugins: plugins
            .into_iter()
            .map(|p| PluginRelease {
                measurement: p.measurement,
                name: Some(p.name),
                rule: "test_grant".to_owned(),
                secrets: vec!["k".to_owned()],
                capabilities: vec!["secret:k".to_owned()],
                token: Some(Hex(vec![0xb1; 8])),
                token_id: Some("ab".repeat(64)),
            })
            .collect(),
        bundle: Hex(bundle(expires_at)),
    })
    .into_response()
}
