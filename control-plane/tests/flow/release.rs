//! The allowed path: a TPM enclave with an activated AK gets exactly the
//! secrets the policy grants each plugin, sealed to its key, and the audit
//! log records it without the value.

use enclet_attestation::Measurement;

use crate::support::{ControlPlane, SECRET_NAME, SECRET_VALUE, Setup, TpmEnclave, runtime};

pub fn image() -> Measurement {
    Measurement::of_plugin(b"enclave image for the control-plane flow tests")
}

pub fn payout() -> Measurement {
    Measurement::of_plugin(b"payout plugin bytes")
}

pub fn echo() -> Measurement {
    Measurement::of_plugin(b"echo plugin bytes")
}

pub fn setup() -> Setup {
    Setup {
        images: vec![image()],
        grants: vec![(payout(), vec![SECRET_NAME]), (echo(), vec![])],
        rego: None,
        extra: String::new(),
    }
}

#[test]
fn an_attested_enclave_gets_each_plugin_its_own_secrets_and_the_audit_log_records_it() {
    let state = tempfile::tempdir().unwrap();
    let enclave = TpmEnclave::new(&image(), &[payout(), echo()]);
    let cp = ControlPlane::start(state.path(), &enclave.swtpm, &setup());
    let rt = runtime();
    rt.block_on(async {
        cp.put_secret(SECRET_NAME, SECRET_VALUE).await;
        let session = enclave.session(&cp).await;
        let nonce = enclave.nonce(&cp, &session).await;
        let release = TpmEnclave::submit(&cp, &session, &enclave.evidence(&nonce, &enclave.log))
            .await
            .unwrap();
        assert_eq!(release.session, session);
        assert!(release.expires_at > crate::support::now_secs());
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
        // Only the enclave key opens it; the payout plugin gets the value,
        // the echo plugin nothing.
        let bundle = enclet_sealed::SealedBundle::from_bytes(&release.bundle.0).unwrap();
        let opened = enclave.key.open(&bundle).unwrap();
        assert_eq!(
            opened.secrets[&payout()][SECRET_NAME].expose(),
            SECRET_VALUE
        );
        assert!(!opened.secrets.contains_key(&echo()));
        let stranger = enclet_sealed::RecipientKey::generate().unwrap();
        assert!(stranger.open(&bundle).is_err());
        assert!(
            !release
                .bundle
                .0
                .windows(SECRET_VALUE.len())
                .any(|w| w == SECRET_VALUE)
        );
    });

    let audit = cp.audit_json();
    let text = serde_json::to_string(&audit).unwrap();
    for kind in [
        "session_opened",
        "activation",
        "nonce_issued",
        "verdict",
        "policy_decision",
        "release",
        "admin",
    ] {
        assert!(
            audit.iter().any(|e| e["kind"] == kind),
            "no {kind} entry in {text}"
        );
    }
    assert!(text.contains(SECRET_NAME), "{text}");
    let value = String::from_utf8_lossy(SECRET_VALUE).into_owned();
    assert!(!text.contains(&value), "the audit log holds the secret");
    assert!(
        !text.contains(&hex::encode(SECRET_VALUE)),
        "the audit log holds the secret"
    );
    assert!(
        !cp.log().contains(&value),
        "the service log holds the secret"
    );
    enclet_control_plane::audit::verify_dir(state.path()).unwrap();
}
