//! The attestation handlers over a recording stand-in attester (the real TPM
//! path is covered by the end-to-end tests against swtpm).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_attester::{
    AttestationRequest, Attester, AttesterError, AttesterIdentity, Evidence, TpmEvidence,
    TpmIdentity,
};
use enclet_protocol::{Request, Response};

use super::{MAX_ENCRYPTED_SECRET, MAX_ID_OBJECT};
use crate::runtime::tests::plugin_bytes;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::server::handler::handle;
use crate::server::{Server, ServerConfig};

/// Records what it was asked to attest; releases the secret only for the
/// credential `b"good"`.
#[derive(Default)]
struct Recording {
    attested: Mutex<Vec<AttestationRequest>>,
}

impl Attester for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn measure_image(&self, _: &Measurement) -> Result<(), AttesterError> {
        Ok(())
    }
    fn record_plugin_event(&self, _: &PluginEvent) -> Result<(), AttesterError> {
        Ok(())
    }
    fn attest(&self, request: &AttestationRequest) -> Result<Evidence, AttesterError> {
        self.attested.lock().unwrap().push(request.clone());
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
        if id == b"good" {
            Ok(b"secret".to_vec())
        } else {
            Err(AttesterError::CredentialRejected("integrity check".into()))
        }
    }
}

/// Fails to measure plugins while `failing` is set; otherwise like [`Minimal`].
#[derive(Default)]
struct Flaky {
    failing: AtomicBool,
    measured: Mutex<Vec<PluginEvent>>,
}

impl Attester for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn measure_image(&self, _: &Measurement) -> Result<(), AttesterError> {
        Ok(())
    }
    fn record_plugin_event(&self, e: &PluginEvent) -> Result<(), AttesterError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AttesterError::Device("extend refused".into()));
        }
        self.measured.lock().unwrap().push(*e);
        Ok(())
    }
    fn attest(&self, _: &AttestationRequest) -> Result<Evidence, AttesterError> {
        Err(AttesterError::Device("unused".into()))
    }
}

/// Offers nothing beyond measurement (like an NSM without identity).
struct Minimal;

impl Attester for Minimal {
    fn name(&self) -> &'static str {
        "minimal"
    }
    fn measure_image(&self, _: &Measurement) -> Result<(), AttesterError> {
        Ok(())
    }
    fn record_plugin_event(&self, _: &PluginEvent) -> Result<(), AttesterError> {
        Ok(())
    }
    fn attest(&self, _: &AttestationRequest) -> Result<Evidence, AttesterError> {
        Err(AttesterError::Device("unused".into()))
    }
}

fn server(attester: Option<Arc<dyn Attester>>) -> Arc<Server> {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    Arc::new(Server::new(runtime, attester, ServerConfig::default()).unwrap())
}

fn code(r: &Response) -> &str {
    match r {
        Response::Error(e) => &e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn load_echo() -> Request {
    Request::Load {
        name: "echo".into(),
        component: plugin_bytes("echo"),
        limits: None,
        signed: None,
    }
}

#[tokio::test]
async fn attest_binds_the_enclave_public_key_nonce_and_log() {
    let rec = Arc::new(Recording::default());
    let s = server(Some(rec.clone()));
    let loaded = handle(&s, load_echo()).await;
    assert!(matches!(loaded, Response::Loaded(_)), "{loaded:?}");
    let echo = Measurement::of_plugin(&plugin_bytes("echo"));
    let r = handle(&s, Request::Attest { nonce: vec![9; 32] }).await;
    let Response::Attestation {
        public_key,
        event_log,
        ..
    } = r
    else {
        panic!("{r:?}")
    };
    assert_eq!(public_key.len(), 32);
    assert_eq!(public_key, s.public_key());
    let asked = rec.attested.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].nonce, vec![9; 32]);
    assert_eq!(asked[0].public_key, public_key);
    let log = enclet_attestation::event_log::EventLog::from_bytes(&event_log).unwrap();
    assert_eq!(log.live(), vec![echo]);
    assert_eq!(asked[0].event_log_digest, log.digest());
    assert_eq!(asked[0].event_log_digest, s.event_log().await.digest());
    assert_ne!(
        asked[0].event_log_digest,
        enclet_attestation::event_log::EventLog::new().digest()
    );
}

#[tokio::test]
async fn a_plugin_that_cannot_be_measured_is_not_loaded() {
    let flaky = Arc::new(Flaky::default());
    flaky.failing.store(true, Ordering::SeqCst);
    let s = server(Some(flaky.clone()));
    let echo = Measurement::of_plugin(&plugin_bytes("echo"));
    assert_eq!(code(&handle(&s, load_echo()).await), "attester_failed");
    assert_eq!(
        handle(&s, Request::ListPlugins).await,
        Response::Plugins(vec![])
    );
    let invoke = Request::Invoke {
        plugin: echo,
        input: b"hi".to_vec(),
    };
    assert_eq!(code(&handle(&s, invoke.clone()).await), "unknown_plugin");
    assert!(s.event_log().await.is_empty());

    // Once measuring works, the same bytes load as new and are recorded.
    flaky.failing.store(false, Ordering::SeqCst);
    let r = handle(&s, load_echo()).await;
    assert!(
        matches!(r, Response::Loaded(ref l) if l.newly_loaded && l.info.measurement == echo),
        "{r:?}"
    );
    assert_eq!(s.event_log().await.live(), vec![echo]);
    assert_eq!(
        *flaky.measured.lock().unwrap(),
        vec![PluginEvent::Load(echo)]
    );
    assert_eq!(handle(&s, invoke).await, Response::Output(b"hi".to_vec()));
    // A second load is deduplicated and not measured again.
    let again = handle(&s, load_echo()).await;
    assert!(
        matches!(again, Response::Loaded(ref l) if !l.newly_loaded),
        "{again:?}"
    );
    assert_eq!(flaky.measured.lock().unwrap().len(), 1);
    assert_eq!(s.event_log().await.len(), 1);
}

#[tokio::test]
async fn two_servers_have_different_keys() {
    assert_ne!(server(None).public_key(), server(None).public_key());
}

#[tokio::test]
async fn without_an_attester_every_attestation_request_is_no_attester() {
    let s = server(None);
    for req in [
        Request::Attest { nonce: vec![1; 32] },
        Request::Identity,
        Request::ActivateCredential {
            id_object: b"good".to_vec(),
            encrypted_secret: b"x".to_vec(),
        },
    ] {
        assert_eq!(code(&handle(&s, req).await), "no_attester");
    }
}

#[tokio::test]
async fn identity_is_forwarded() {
    let s = server(Some(Arc::new(Recording::default())));
    let r = handle(&s, Request::Identity).await;
    assert_eq!(
        r,
        Response::Identity(enclet_protocol::AttesterIdentity::Tpm {
            ek_public: b"ek".to_vec(),
            ek_certificate: b"cert".to_vec(),
            ak_public: b"ak".to_vec(),
            ak_name: b"name".to_vec(),
        })
    );
}

#[tokio::test]
async fn activation_releases_the_secret_or_reports_rejection() {
    let s = server(Some(Arc::new(Recording::default())));
    let ok = handle(
        &s,
        Request::ActivateCredential {
            id_object: b"good".to_vec(),
            encrypted_secret: b"x".to_vec(),
        },
    )
    .await;
    assert_eq!(
        ok,
        Response::CredentialActivated {
            secret: b"secret".to_vec()
        }
    );
    let bad = handle(
        &s,
        Request::ActivateCredential {
            id_object: b"gooe".to_vec(),
            encrypted_secret: b"x".to_vec(),
        },
    )
    .await;
    assert_eq!(code(&bad), "credential_rejected");
}

#[tokio::test]
async fn oversized_or_empty_activation_inputs_are_invalid() {
    let s = server(Some(Arc::new(Recording::default())));
    for (id_object, encrypted_secret) in [
        (vec![0; MAX_ID_OBJECT + 1], vec![0; 1]),
        (vec![0; 1], vec![0; MAX_ENCRYPTED_SECRET + 1]),
        (vec![], vec![0; 1]),
        (vec![0; 1], vec![]),
    ] {
        let r = handle(
            &s,
            Request::ActivateCredential {
                id_object,
                encrypted_secret,
            },
        )
        .await;
        assert_eq!(code(&r), "invalid_request");
    }
}

#[tokio::test]
async fn nonces_out_of_bounds_are_invalid() {
    let s = server(Some(Arc::new(Recording::default())));
    for len in [0, 7, 65] {
        let r = handle(
            &s,
            Request::Attest {
                nonce: vec![1; len],
            },
        )
        .await;
        assert_eq!(code(&r), "invalid_request", "{len}");
    }
    for len in [8, 64] {
        let r = handle(
            &s,
            Request::Attest {
                nonce: vec![1; len],
            },
        )
        .await;
        assert!(matches!(r, Response::Attestation { .. }), "{len}: {r:?}");
    }
}

#[tokio::test]
async fn backends_without_identity_answer_unsupported() {
    let s = server(Some(Arc::new(Minimal)));
    assert_eq!(code(&handle(&s, Request::Identity).await), "unsupported");
    let r = handle(
        &s,
        Request::ActivateCredential {
            id_object: vec![1],
            encrypted_secret: vec![1],
        },
    )
    .await;
    assert_eq!(code(&r), "unsupported");
}
