//! The enclaves the relay rounds run against: the real enclave server
//! (`enclet-enclave`, in process) with a stand-in TPM attester, and a
//! scripted Nitro enclave that installs releases (the real enclave's
//! `Release` handler is not on this branch).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_attester::{
    AttestationRequest, Attester, AttesterError, AttesterIdentity, Evidence, TpmEvidence,
    TpmIdentity,
};
use enclet_enclave::runtime::{Runtime, RuntimeConfig};
use enclet_enclave::server::{Server, ServerConfig};
use enclet_protocol::{
    FrameLimits, Health, Limits, PluginInfo, Released, ReleasedPlugin, Request, Response,
    Transport, UnixTransport, codec, read_frame,
};
use tokio::io::AsyncWriteExt;

use super::fake_cp::{CREDENTIAL_SECRET, ID_OBJECT};

/// A TPM stand-in: fixed identity, releases the credential secret for the
/// fake control plane's credential only, fixed quote.
struct StandInTpm;

impl Attester for StandInTpm {
    fn name(&self) -> &'static str {
        "tpm"
    }
    fn measure_image(&self, _: &Measurement) -> Result<(), AttesterError> {
        Ok(())
    }
    fn record_plugin_event(&self, _: &PluginEvent) -> Result<(), AttesterError> {
        Ok(())
    }
    fn attest(&self, _: &AttestationRequest) -> Result<Evidence, AttesterError> {
        Ok(Evidence::Tpm(TpmEvidence {
            attest: b"quote".to_vec(),
            signature: b"sig".to_vec(),
            ak_public: b"ak".to_vec(),
            pcrs: vec![(16, vec![1; 32]), (23, vec![2; 32])],
        }))
    }
    fn identity(&self) -> Result<AttesterIdentity, AttesterError> {
        Ok(AttesterIdentity::Tpm(TpmIdentity {
            ek_public: b"ek".to_vec(),
            ek_certificate: b"cert".to_vec(),
            ak_public: b"ak".to_vec(),
            ak_name: b"name".to_vec(),
        }))
    }
    fn activate_credential(&self, id: &[u8], _: &[u8]) -> Result<Vec<u8>, AttesterError> {
        if id == ID_OBJECT {
            Ok(CREDENTIAL_SECRET.to_vec())
        } else {
            Err(AttesterError::CredentialRejected("integrity check".into()))
        }
    }
}

/// Starts the real enclave server with the stand-in TPM on `dir/e.sock`.
pub(super) fn real_tpm_enclave(dir: &Path) -> PathBuf {
    let path = dir.join("e.sock");
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let server = Arc::new(
        Server::new(runtime, Some(Arc::new(StandInTpm)), ServerConfig::default()).unwrap(),
    );
    let listener = UnixTransport::new(&path).bind().unwrap();
    tokio::spawn(server.serve::<UnixTransport>(listener, std::future::pending()));
    path
}

/// The echo plugin built by `scripts/build-plugins`.
pub(super) fn echo_wasm() -> Vec<u8> {
    let dir = std::env::var_os("ENCLET_PLUGIN_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release"),
        PathBuf::from,
    );
    let path = dir.join("echo.wasm");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-plugins first", path.display()))
}

/// The one plugin the scripted enclave reports.
pub(super) fn payout() -> Measurement {
    Measurement::of_plugin(b"payout component")
}

/// What the scripted enclave was sent.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) requests: Mutex<Vec<&'static str>>,
    pub(super) bundles: Mutex<Vec<Vec<u8>>>,
}

const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 1 << 20,
};

/// A scripted Nitro enclave on `dir/nitro.sock`: one plugin, `payout`; a
/// `Release` installs secret `k` for it until the expiry the fake control
/// plane wrote at the end of its bundle.
pub(super) fn scripted_nitro_enclave(dir: &Path) -> (PathBuf, Arc<Seen>) {
    let path = dir.join("nitro.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                while let Ok(Some(body)) = read_frame(&mut stream, LIMITS, None).await {
                    let (h, request) = codec::decode::<Request>(&body).unwrap();
                    let response = answer(&s, request);
                    let frame = codec::encode(h.request_id, &response, LIMITS).unwrap();
                    stream.write_all(&frame).await.unwrap();
                }
            });
        }
    });
    (path, seen)
}

fn answer(seen: &Seen, request: Request) -> Response {
    let limits = Limits {
        fuel: 1,
        deadline_ms: 1,
        max_memory_bytes: 1,
        max_table_elements: 1,
        max_input_bytes: 1,
        max_output_bytes: 1,
    };
    let mut requests = seen.requests.lock().unwrap();
    match request {
        Request::Health => {
            requests.push("health");
            Response::Health(Health {
                invocations_running: 0,
                protocol_version: 1,
                plugins: 1,
                attester: Some("nsm".to_owned()),
                uptime_ms: 0,
            })
        }
        Request::Attest { nonce } => {
            requests.push("attest");
            Response::Attestation {
                evidence: enclet_protocol::Evidence::Nitro { document: nonce },
                event_log: vec![0xe1],
                public_key: vec![0x25; 32],
            }
        }
        Request::ListPlugins => {
            requests.push("list_plugins");
            Response::Plugins(vec![PluginInfo {
                name: "payout".to_owned(),
                measurement: payout(),
                size_bytes: 16,
                limits,
            }])
        }
        Request::Release { bundle, .. } => {
            requests.push("release");
            let tail: [u8; 8] = bundle[bundle.len() - 8..].try_into().unwrap();
            seen.bundles.lock().unwrap().push(bundle);
            Response::Released(Released {
                expires_at: u64::from_be_bytes(tail),
                plugins: vec![ReleasedPlugin {
                    measurement: payout(),
                    secrets: vec!["k".to_owned()],
                }],
            })
        }
        _ => {
            requests.push("other");
            Response::Error(enclet_protocol::ErrorBody::new(
                "invalid_request",
                "scripted",
            ))
        }
    }
}
