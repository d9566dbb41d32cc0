//! The Nitro round trip without hardware: the enclave's real NSM attester,
//! talking through its device seam to a synthetic NSM whose documents a test
//! CA signs, → document bytes → the `enclet-control-plane` binary (pinning
//! the test root through `insecure_nitro_root_for_tests`) → verifier,
//! reference values and Rego policy.
//!
//! The allowed path gets each plugin its secrets; three bindings that do not
//! hold are each refused with their own code: `user_data` that is not the
//! submitted event log's digest (`event_log_unbound`), a plugin PCR that the
//! log does not replay to (`event_log_mismatch`), another nonce
//! (`nonce_mismatch`).

mod synthetic_nsm;

use std::path::Path;
use std::sync::Arc;

use enclet_attestation::Measurement;
use enclet_attestation::event_log::{EventLog, PluginEvent};
use enclet_attester::nsm::NsmAttester;
use enclet_attester::{AttestationRequest, Attester, Evidence};
use enclet_control_plane_api::client::ClientError;
use enclet_control_plane_api::{
    AttesterKind, EvidenceSubmission, Hex, NonceIssued, OpenSession, PluginName, Release,
    SessionOpened,
};
use enclet_sealed::{RecipientKey, SealedBundle};
use hyper::Method;
use sha2::{Digest as _, Sha384};

use crate::release::{echo, payout};
use crate::support::{
    ControlPlane, SECRET_NAME, SECRET_VALUE, code, default_rego, free_port, runtime,
};
use synthetic_nsm::{SyntheticNsm, TestNitroCa};

/// PCR0, PCR1, PCR2 of the synthetic enclave image.
fn image() -> [[u8; 48]; 3] {
    ["kernel and ramdisk", "kernel", "application"]
        .map(|part| Sha384::digest(format!("synthetic EIF: {part}")).into())
}

/// The default policy, also trusting documents that chain to the pinned
/// test root (it trusts only the AWS root and activated AKs).
fn rego_trusting_the_test_root() -> String {
    let default = default_rego();
    let from = r#"trusted_basis := {"activated_ak", "aws_nitro_root"}"#;
    assert!(default.contains(from), "the default policy changed");
    default.replace(
        from,
        r#"trusted_basis := {"activated_ak", "aws_nitro_root", "caller_pinned_nitro_root"}"#,
    )
}

/// A state directory for a control plane that pins `ca`'s root, lists the
/// synthetic image and grants the payout plugin the secret.
fn write_config(dir: &Path, ca: &TestNitroCa, rego: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("nitro-root.der"), &ca.root_der).unwrap();
    let [p0, p1, p2] = image().map(hex::encode);
    std::fs::write(
        dir.join("reference.toml"),
        format!("[nitro]\nallow_debug = false\n[[nitro.images]]\npcr0 = \"{p0}\"\npcr1 = \"{p1}\"\npcr2 = \"{p2}\"\n"),
    )
    .unwrap();
    let data = serde_json::json!({ "plugins": {
        payout().to_hex(): { "secrets": [SECRET_NAME] },
        echo().to_hex(): { "secrets": [] },
    }});
    std::fs::write(dir.join("data.json"), data.to_string()).unwrap();
    std::fs::write(dir.join("policy.rego"), rego).unwrap();
    std::fs::write(
        dir.join("control-plane.toml"),
        format!(
            "listen = \"127.0.0.1:{}\"\nreference_values = \"reference.toml\"\n\
             insecure_nitro_root_for_tests = \"nitro-root.der\"\n\n\
             [policy]\nrego = \"policy.rego\"\ndata = \"data.json\"\n",
            free_port()
        ),
    )
    .unwrap();
}

/// The enclave side: the NSM attester over a synthetic NSM, the enclave's
/// HPKE key and the event log of the plugins it loaded.
struct NitroEnclave {
    attester: NsmAttester,
    key: RecipientKey,
    log: EventLog,
}

impl NitroEnclave {
    /// Launches an enclave that loads `logged` (measured and logged) and
    /// then `unlogged` (measured only: what a log that lies leaves out).
    fn launch(ca: &Arc<TestNitroCa>, logged: &[Measurement], unlogged: &[Measurement]) -> Self {
        let nsm = SyntheticNsm::launched(Arc::clone(ca), image());
        let attester = NsmAttester::with_device(Box::new(nsm)).unwrap();
        let mut log = EventLog::new();
        for m in logged {
            attester
                .record_plugin_event(&PluginEvent::Load(*m))
                .unwrap();
            log.push_load(*m).unwrap();
        }
        for m in unlogged {
            attester
                .record_plugin_event(&PluginEvent::Load(*m))
                .unwrap();
        }
        Self {
            attester,
            key: RecipientKey::generate().unwrap(),
            log,
        }
    }

    /// A document over `nonce`, this enclave's key and the digest of `bound`.
    fn document(&self, nonce: &[u8], bound: &EventLog) -> Vec<u8> {
        let request = AttestationRequest {
            nonce: nonce.to_vec(),
            public_key: self.key.public_key().to_vec(),
            event_log_digest: bound.digest(),
        };
        let Evidence::Nitro { document } = self.attester.attest(&request).unwrap() else {
            panic!("Nitro evidence expected");
        };
        document
    }

    /// What the parent submits: the document with `nonce` and `log`.
    fn submission(&self, nonce: &[u8], document: Vec<u8>, log: &EventLog) -> EvidenceSubmission {
        EvidenceSubmission {
            nonce: Hex(nonce.to_vec()),
            evidence: enclet_control_plane_api::Evidence::Nitro {
                document: Hex(document),
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
}

async fn session(cp: &ControlPlane) -> String {
    let opened: SessionOpened = cp
        .client
        .call_json(
            Method::POST,
            enclet_control_plane_api::SESSIONS,
            Some(&OpenSession {
                attester: AttesterKind::Nitro,
                tpm: None,
            }),
            None,
        )
        .await
        .unwrap();
    assert!(
        opened.credential.is_none(),
        "a Nitro session has no credential"
    );
    opened.session
}

async fn nonce(cp: &ControlPlane, session: &str) -> Vec<u8> {
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

async fn submit(
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

/// An audit entry records the refusal `code`.
fn audited(cp: &ControlPlane, code: &str) {
    let audit = cp.audit_json();
    assert!(
        audit
            .iter()
            .any(|e| e.to_string().contains(&format!("\"{code}\""))),
        "no audit entry with code {code}: {audit:?}"
    );
}

#[test]
fn a_nitro_enclave_attested_through_the_nsm_attester_gets_each_plugin_its_secrets() {
    let ca = Arc::new(TestNitroCa::new());
    let state = tempfile::tempdir().unwrap();
    write_config(state.path(), &ca, &rego_trusting_the_test_root());
    let cp = ControlPlane::start_existing(state.path());
    let enclave = NitroEnclave::launch(&ca, &[payout(), echo()], &[]);
    runtime().block_on(async {
        cp.put_secret(SECRET_NAME, SECRET_VALUE).await;
        let session = session(&cp).await;
        let nonce = nonce(&cp, &session).await;
        let document = enclave.document(&nonce, &enclave.log);
        let release = submit(
            &cp,
            &session,
            &enclave.submission(&nonce, document, &enclave.log),
        )
        .await
        .unwrap();
        let granted: Vec<(String, Vec<String>)> = release
            .plugins
            .iter()
            .map(|p| (p.measurement.clone(), p.secrets.clone()))
            .collect();
        assert_eq!(
            granted,
            [
                (payout().to_hex(), vec![SECRET_NAME.to_owned()]),
                (echo().to_hex(), vec![])
            ]
        );
        let bundle = SealedBundle::from_bytes(&release.bundle.0).unwrap();
        let opened = enclave.key.open(&bundle).unwrap();
        assert_eq!(
            opened.secrets[&payout()][SECRET_NAME].expose(),
            SECRET_VALUE
        );
    });
    // The verdict records the replayed plugins and the pinned test root.
    let audit = serde_json::to_string(&cp.audit_json()).unwrap();
    assert!(audit.contains("caller_pinned_nitro_root"), "{audit}");
    assert!(audit.contains(&payout().to_hex()), "{audit}");
}

#[test]
fn the_default_policy_does_not_trust_a_test_root() {
    let ca = Arc::new(TestNitroCa::new());
    let state = tempfile::tempdir().unwrap();
    write_config(state.path(), &ca, &default_rego());
    let cp = ControlPlane::start_existing(state.path());
    let enclave = NitroEnclave::launch(&ca, &[payout(), echo()], &[]);
    runtime().block_on(async {
        let session = session(&cp).await;
        let nonce = nonce(&cp, &session).await;
        let document = enclave.document(&nonce, &enclave.log);
        let r = submit(
            &cp,
            &session,
            &enclave.submission(&nonce, document, &enclave.log),
        )
        .await;
        assert_eq!(code(r), "policy_denied");
    });
    let audit = serde_json::to_string(&cp.audit_json()).unwrap();
    assert!(audit.contains("untrusted_basis"), "{audit}");
}

#[test]
fn each_broken_nitro_binding_is_refused_with_its_own_code() {
    let ca = Arc::new(TestNitroCa::new());
    let state = tempfile::tempdir().unwrap();
    write_config(state.path(), &ca, &rego_trusting_the_test_root());
    let cp = ControlPlane::start_existing(state.path());
    let honest = NitroEnclave::launch(&ca, &[payout(), echo()], &[]);
    // Loaded a third plugin but left it out of its log.
    let stranger = Measurement::of_plugin(b"a plugin the log does not mention");
    let liar = NitroEnclave::launch(&ca, &[payout(), echo()], &[stranger]);
    runtime().block_on(async {
        let session = session(&cp).await;

        // 1. user_data binds another log than the one submitted.
        let n = nonce(&cp, &session).await;
        let mut shorter = EventLog::new();
        shorter.push_load(payout()).unwrap();
        let document = honest.document(&n, &honest.log);
        let r = submit(&cp, &session, &honest.submission(&n, document, &shorter)).await;
        assert_eq!(code(r), "event_log_unbound");

        // 2. user_data binds the submitted log, but PCR16 holds one more plugin.
        let n = nonce(&cp, &session).await;
        let document = liar.document(&n, &liar.log);
        let r = submit(&cp, &session, &liar.submission(&n, document, &liar.log)).await;
        assert_eq!(code(r), "event_log_mismatch");

        // 3. The document carries another nonce than the one submitted.
        let n = nonce(&cp, &session).await;
        let document = honest.document(&[0x42; 32], &honest.log);
        let r = submit(&cp, &session, &honest.submission(&n, document, &honest.log)).await;
        assert_eq!(code(r), "nonce_mismatch");

        // The twin of all three: the same enclave, its own nonce and log.
        let n = nonce(&cp, &session).await;
        let document = honest.document(&n, &honest.log);
        let release = submit(&cp, &session, &honest.submission(&n, document, &honest.log))
            .await
            .unwrap();
        assert_eq!(release.plugins.len(), 2);
    });
    for c in ["event_log_unbound", "event_log_mismatch", "nonce_mismatch"] {
        audited(&cp, c);
    }
    let log = cp.log();
    assert!(log.contains("insecure_nitro_root_for_tests"), "{log}");
}

#[test]
fn plugin_changes_after_an_attestation_are_attested_in_the_next_plugin_pcr() {
    let ca = Arc::new(TestNitroCa::new());
    let state = tempfile::tempdir().unwrap();
    write_config(state.path(), &ca, &rego_trusting_the_test_root());
    let cp = ControlPlane::start_existing(state.path());
    let mut enclave = NitroEnclave::launch(&ca, &[payout()], &[]);
    runtime().block_on(async {
        cp.put_secret(SECRET_NAME, SECRET_VALUE).await;
        let session = session(&cp).await;
        // First round: PCR16 (payout's load) is locked for the document.
        let first = nonce(&cp, &session).await;
        let document = enclave.document(&first, &enclave.log);
        let release = submit(
            &cp,
            &session,
            &enclave.submission(&first, document, &enclave.log),
        )
        .await
        .unwrap();
        assert_eq!(release.plugins.len(), 1);
        // Then echo is loaded and payout unloaded: both go to PCR17, which
        // the next document carries locked beside PCR16.
        for event in [PluginEvent::Load(echo()), PluginEvent::Unload(payout())] {
            enclave.attester.record_plugin_event(&event).unwrap();
            enclave.log.push(event).unwrap();
        }
        let second = nonce(&cp, &session).await;
        let document = enclave.document(&second, &enclave.log);
        let release = submit(
            &cp,
            &session,
            &enclave.submission(&second, document, &enclave.log),
        )
        .await
        .unwrap();
        let granted: Vec<&str> = release
            .plugins
            .iter()
            .map(|p| p.measurement.as_str())
            .collect();
        assert_eq!(granted, [echo().to_hex()]);
    });
}
