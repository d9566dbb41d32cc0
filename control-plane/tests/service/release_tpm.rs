//! The whole TPM release flow against a real swtpm: open (EK chains to the
//! swtpm CA), activate (the TPM answers the credential), nonce, quote,
//! verify, policy, sealed release that the enclave key opens; and the audit
//! entries that record it (names and versions, never values).

use enclet_attestation::Measurement;
use enclet_attestation::event_log::EventLog;
use enclet_attestation::event_log::PluginEvent;
use enclet_attester::{
    AttestationRequest, Attester, AttesterIdentity, Evidence as AttesterEvidence, TpmIdentity,
};
use enclet_control_plane::audit::AuditKind;
use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_control_plane_api::{
    Activated, Activation, AttesterKind, Evidence, EvidenceSubmission, Hex, NonceIssued,
    OpenSession, PcrValue, PluginName, Release, SESSIONS, SessionOpened, TpmIdentity as WireTpm,
    activation_path, evidence_path, nonces_path, secret_path,
};
use enclet_sealed::{RecipientKey, SealedBundle};
use enclet_swtpm::Swtpm;
use hyper::Method;

use crate::support::{Running, T0_MS, api_code};

pub(crate) struct Enclave {
    attester: Box<dyn Attester>,
    identity: TpmIdentity,
    pub(crate) plugins: [Measurement; 2],
    log: EventLog,
    swtpm: Swtpm,
}

/// The two test plugins, unsigned.
pub(crate) fn plugin_measurements() -> [Measurement; 2] {
    [
        Measurement::of_plugin(b"payout plugin (service test)"),
        Measurement::of_plugin(b"report plugin (service test)"),
    ]
}

fn enclave() -> (Enclave, Measurement) {
    enclave_with(&plugin_measurements().map(PluginEvent::Load))
}

/// A swtpm enclave that loaded the plugins of `events` (loads, signed or not).
pub(crate) fn enclave_with(events: &[PluginEvent; 2]) -> (Enclave, Measurement) {
    let swtpm = Swtpm::start().unwrap();
    let attester = swtpm.attester_config().open().unwrap();
    let image = Measurement::of_plugin(b"enclet-enclave binary (service test)");
    attester.measure_image(&image).unwrap();
    let plugins = events.map(|e| *e.measurement());
    let mut log = EventLog::new();
    for event in events {
        attester.record_plugin_event(event).unwrap();
        log.push(*event).unwrap();
    }
    let AttesterIdentity::Tpm(identity) = attester.identity().unwrap() else {
        panic!("TPM identity");
    };
    (
        Enclave {
            attester,
            identity,
            plugins,
            log,
            swtpm,
        },
        image,
    )
}

pub(crate) async fn session(cp: &Running, e: &Enclave) -> (ControlPlaneClient, String) {
    let client = cp.client();
    let body = OpenSession {
        attester: AttesterKind::Tpm,
        tpm: Some(WireTpm {
            ek_public: Hex(e.identity.ek_public.clone()),
            ek_certificate: Hex(e.identity.ek_certificate.clone()),
            ak_public: Hex(e.identity.ak_public.clone()),
        }),
    };
    let opened: SessionOpened = client
        .call_json(Method::POST, SESSIONS, Some(&body), None)
        .await
        .unwrap();
    let credential = opened.credential.clone().unwrap();
    let secret = e
        .attester
        .activate_credential(&credential.id_object.0, &credential.encrypted_secret.0)
        .unwrap();
    let _: Activated = client
        .call_json(
            Method::POST,
            &activation_path(&opened.session),
            Some(&Activation {
                secret: Hex(secret),
            }),
            None,
        )
        .await
        .unwrap();
    (client, opened.session)
}

pub(crate) fn submission(e: &Enclave, nonce: &[u8], key: &RecipientKey) -> EvidenceSubmission {
    let request = AttestationRequest {
        nonce: nonce.to_vec(),
        public_key: key.public_key().to_vec(),
        event_log_digest: e.log.digest(),
    };
    let AttesterEvidence::Tpm(ev) = e.attester.attest(&request).unwrap() else {
        panic!("TPM evidence");
    };
    EvidenceSubmission {
        nonce: Hex(nonce.to_vec()),
        evidence: Evidence::Tpm {
            attest: Hex(ev.attest),
            signature: Hex(ev.signature),
            ak_public: Hex(ev.ak_public),
            pcrs: ev
                .pcrs
                .into_iter()
                .map(|(index, v)| PcrValue {
                    index,
                    value: Hex(v),
                })
                .collect(),
        },
        event_log: Hex(e.log.to_bytes()),
        public_key: Hex(key.public_key().to_vec()),
        plugins: vec![PluginName {
            measurement: e.plugins[0].to_hex(),
            name: "payout".into(),
        }],
    }
}

pub(crate) async fn configured(e: &Enclave, image: &Measurement) -> Running {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ek-ca.der"), e.swtpm.ca_cert_der().unwrap()).unwrap();
    std::fs::write(
        dir.path().join("ek-issuer.der"),
        e.swtpm.issuer_cert_der().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("reference.toml"),
        format!("[tpm]\nimages = [\"{image}\"]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policy.rego"),
        enclet_control_plane::policy::DEFAULT_REGO,
    )
    .unwrap();
    let data = serde_json::json!({"plugins": {
        e.plugins[0].to_hex(): {"secrets": ["payout-hmac-key", "not-uploaded"]},
        e.plugins[1].to_hex(): {"secrets": []},
    }});
    std::fs::write(dir.path().join("data.json"), data.to_string()).unwrap();
    let config = "reference_values = \"reference.toml\"\n[tpm]\nek_ca = \"ek-ca.der\"\n\
                  ek_intermediates = [\"ek-issuer.der\"]\n[policy]\nrego = \"policy.rego\"\ndata = \"data.json\"\n";
    Running::start_in_real_time(dir, config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tpm_enclave_gets_its_granted_secrets_sealed_to_its_key() {
    let (e, image) = enclave();
    let cp = configured(&e, &image).await;
    let client = cp.client();
    let put = client
        .call(
            Method::PUT,
            &secret_path("payout-hmac-key"),
            b"mac-key-bytes".to_vec(),
            Some(&cp.token),
        )
        .await;
    assert!(put.is_ok(), "{put:?}");

    let (client, session) = session(&cp, &e).await;
    let issued: NonceIssued = client
        .call_json::<(), _>(Method::POST, &nonces_path(&session), None, None)
        .await
        .unwrap();
    let key = RecipientKey::generate().unwrap();
    let body = submission(&e, &issued.nonce.0, &key);
    let release: Release = client
        .call_json(Method::POST, &evidence_path(&session), Some(&body), None)
        .await
        .unwrap();

    assert_eq!(release.plugins.len(), 2);
    assert_eq!(
        release.plugins[0].secrets,
        vec!["payout-hmac-key".to_owned()]
    );
    assert_eq!(release.plugins[0].name.as_deref(), Some("payout"));
    assert!(release.plugins[1].secrets.is_empty());
    let bundle = SealedBundle::from_bytes(&release.bundle.0).unwrap();
    let opened = key.open(&bundle).unwrap();
    assert_eq!(
        opened.secrets[&e.plugins[0]]["payout-hmac-key"].expose(),
        b"mac-key-bytes"
    );
    // Another key cannot open it.
    assert!(RecipientKey::generate().unwrap().open(&bundle).is_err());

    // Audit: verdict allowed, a decision per plugin, a release with the
    // version and the missing name; no value anywhere.
    let verdict = cp.audit_of(AuditKind::Verdict);
    assert_eq!(verdict.last().unwrap().detail["outcome"], "allowed");
    assert_eq!(cp.audit_of(AuditKind::PolicyDecision).len(), 2);
    // One release entry per allowed plugin: each got a capability token.
    let release_entries = cp.audit_of(AuditKind::Release);
    assert_eq!(release_entries.len(), 2);
    assert_eq!(release_entries[0].detail["secrets"][0]["version"], 1);
    assert_eq!(release_entries[0].detail["missing"][0], "not-uploaded");
    assert_eq!(
        release_entries[0].detail["token_id"].as_str(),
        release.plugins[0].token_id.as_deref()
    );
    tokens_grant_what_policy_granted(&cp, &release, &e.plugins, key.public_key());
    let text = serde_json::to_string(&cp.audit(100).iter().map(|x| &x.detail).collect::<Vec<_>>())
        .unwrap();
    assert!(!text.contains("mac-key-bytes"));

    // The same nonce again: replayed.
    let again = client
        .call_json::<_, Release>(Method::POST, &evidence_path(&session), Some(&body), None)
        .await;
    assert_eq!(api_code(again), (403, "nonce_replayed".to_owned()));
    cp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_before_activation_or_after_a_wrong_answer_is_refused() {
    let (e, image) = enclave();
    let cp = configured(&e, &image).await;
    let client = cp.client();
    let body = OpenSession {
        attester: AttesterKind::Tpm,
        tpm: Some(WireTpm {
            ek_public: Hex(e.identity.ek_public.clone()),
            ek_certificate: Hex(e.identity.ek_certificate.clone()),
            ak_public: Hex(e.identity.ak_public.clone()),
        }),
    };
    let opened: SessionOpened = client
        .call_json(Method::POST, SESSIONS, Some(&body), None)
        .await
        .unwrap();
    let key = RecipientKey::generate().unwrap();
    let issued: NonceIssued = client
        .call_json::<(), _>(Method::POST, &nonces_path(&opened.session), None, None)
        .await
        .unwrap();
    let early = client
        .call_json::<_, Release>(
            Method::POST,
            &evidence_path(&opened.session),
            Some(&submission(&e, &issued.nonce.0, &key)),
            None,
        )
        .await;
    assert_eq!(api_code(early), (403, "ak_not_activated".to_owned()));
    // A wrong answer fails activation for good, even the right one after it.
    let wrong = client
        .call_json::<_, Activated>(
            Method::POST,
            &activation_path(&opened.session),
            Some(&Activation {
                secret: Hex(vec![0; 32]),
            }),
            None,
        )
        .await;
    assert_eq!(api_code(wrong), (403, "ak_not_activated".to_owned()));
    let credential = opened.credential.unwrap();
    let secret = e
        .attester
        .activate_credential(&credential.id_object.0, &credential.encrypted_secret.0)
        .unwrap();
    let late = client
        .call_json::<_, Activated>(
            Method::POST,
            &activation_path(&opened.session),
            Some(&Activation {
                secret: Hex(secret),
            }),
            None,
        )
        .await;
    assert_eq!(api_code(late), (403, "ak_not_activated".to_owned()));
    cp.stop().await;
}

/// The tokens verify under the control plane's `capability.pub`, are bound to
/// each plugin and the attested key, and grant what the policy granted.
fn tokens_grant_what_policy_granted(
    cp: &Running,
    release: &Release,
    plugins: &[Measurement],
    enclave_key: &[u8],
) {
    use enclet_capability::{CallContext, CapabilityToken, RootPublicKey};
    let pem = std::fs::read_to_string(cp.dir.path().join("capability.pub")).unwrap();
    let root = RootPublicKey::from_pem(&pem).unwrap();
    for (plugin, granted) in plugins.iter().zip(&release.plugins) {
        let bytes = &granted
            .token
            .as_ref()
            .expect("a token per allowed plugin")
            .0;
        let token = CapabilityToken::parse(bytes, &root).unwrap();
        assert_eq!(token.plugin(), plugin.to_hex());
        // The default token lifetime (300 s) is shorter than the release's
        // (600 s): the parent is told to come back before the token expires.
        assert_eq!(release.expires_at, token.expires_at());
        let now = token.expires_at() - 300;
        assert!(now >= T0_MS / 1000);
        for capability in &granted.capabilities {
            let call = CallContext {
                plugin: &plugin.to_hex(),
                enclave_key,
                capability,
                now,
            };
            token.authorize(&call).unwrap();
        }
        let other = CallContext {
            plugin: &plugin.to_hex(),
            enclave_key,
            capability: "secret:never-granted",
            now,
        };
        assert_eq!(token.authorize(&other).unwrap_err().code(), "denied");
    }
    assert_eq!(
        release.plugins[0].capabilities,
        ["log", "secret:payout-hmac-key", "secret:not-uploaded"]
    );
    assert_eq!(release.plugins[1].capabilities, ["log"]);
}
