//! Each refusal of the release flow: its specific code, its audit entry, and
//! the service serving a good request right after.

use std::path::Path;
use std::process::Command;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use enclet_attestation::Measurement;
use enclet_attestation::event_log::EventLog;
use enclet_control_plane_api::{
    AttesterKind, Evidence, EvidenceSubmission, Hex, NonceIssued, OpenSession, SessionOpened,
};
use hyper::Method;

use crate::release::{echo, image, payout, setup};
use crate::support::{ControlPlane, SECRET_NAME, SECRET_VALUE, Setup, TpmEnclave, code, runtime};

/// The refusal left an audit entry naming its code.
fn audited(cp: &ControlPlane, code: &str) {
    let audit = cp.audit_json();
    assert!(
        audit
            .iter()
            .any(|e| e.to_string().contains(&format!("\"{code}\""))),
        "no audit entry with code {code}: {audit:?}"
    );
}

/// A good release still goes through.
async fn still_serving(cp: &ControlPlane, enclave: &TpmEnclave, session: &str) {
    let nonce = enclave.nonce(cp, session).await;
    let release = TpmEnclave::submit(cp, session, &enclave.evidence(&nonce, &enclave.log))
        .await
        .unwrap();
    assert_eq!(release.plugins.len(), 2);
}

/// The real AK's public area with its point replaced by a software key's, and
/// the quote re-signed by that key: a perfect signature from a key that was
/// never activated against the EK.
fn forge(body: &mut EvidenceSubmission) {
    let Evidence::Tpm {
        attest,
        signature,
        ak_public,
        ..
    } = &mut body.evidence
    else {
        panic!("TPM evidence expected");
    };
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = key.public_key().as_ref();
    let tail = ak_public.0.len() - 68;
    assert_eq!(&ak_public.0[tail..tail + 2], [0, 32], "an ECC P-256 AK");
    ak_public.0[tail + 2..tail + 34].copy_from_slice(&point[1..33]);
    ak_public.0[tail + 36..].copy_from_slice(&point[33..]);
    let rs = key.sign(&SystemRandom::new(), &attest.0).unwrap();
    let rs = rs.as_ref();
    let mut sig = vec![0x00, 0x18, 0x00, 0x0b, 0x00, 0x20];
    sig.extend_from_slice(&rs[..32]);
    sig.extend_from_slice(&[0x00, 0x20]);
    sig.extend_from_slice(&rs[32..]);
    *signature = Hex(sig);
}

#[test]
fn every_refusal_has_its_code_is_audited_and_the_service_goes_on() {
    let state = tempfile::tempdir().unwrap();
    let enclave = TpmEnclave::new(&image(), &[payout(), echo()]);
    let cp = ControlPlane::start(state.path(), &enclave.swtpm, &setup());
    runtime().block_on(async {
        cp.put_secret(SECRET_NAME, SECRET_VALUE).await;

        // Evidence before the AK was activated.
        let opened = enclave.open(&cp).await.unwrap();
        let nonce = enclave.nonce(&cp, &opened.session).await;
        let r = TpmEnclave::submit(
            &cp,
            &opened.session,
            &enclave.evidence(&nonce, &enclave.log),
        )
        .await;
        assert_eq!(code(r), "ak_not_activated");

        let session = enclave.session(&cp).await;

        // A replayed nonce: accepted once, refused the second time.
        let nonce = enclave.nonce(&cp, &session).await;
        let body = enclave.evidence(&nonce, &enclave.log);
        TpmEnclave::submit(&cp, &session, &body).await.unwrap();
        assert_eq!(
            code(TpmEnclave::submit(&cp, &session, &body).await),
            "nonce_replayed"
        );
        audited(&cp, "nonce_replayed");

        // A nonce this control plane never issued, and one of another session.
        let made_up = enclave.evidence(&[7; 32], &enclave.log);
        assert_eq!(
            code(TpmEnclave::submit(&cp, &session, &made_up).await),
            "nonce_unknown"
        );
        let other = enclave.session(&cp).await;
        let theirs = enclave.nonce(&cp, &other).await;
        let r = TpmEnclave::submit(&cp, &session, &enclave.evidence(&theirs, &enclave.log)).await;
        assert_eq!(code(r), "nonce_unknown");

        // Evidence for plugin bytes other than those loaded: the log names a
        // plugin the TPM never measured.
        let mut lying = EventLog::new();
        lying.push_load(payout()).unwrap();
        lying
            .push_load(Measurement::of_plugin(b"other bytes"))
            .unwrap();
        let nonce = enclave.nonce(&cp, &session).await;
        let r = TpmEnclave::submit(&cp, &session, &enclave.evidence(&nonce, &lying)).await;
        assert_eq!(code(r), "event_log_mismatch");
        audited(&cp, "event_log_mismatch");

        // A quote signed by a software AK that was never activated.
        let nonce = enclave.nonce(&cp, &session).await;
        let mut forged = enclave.evidence(&nonce, &enclave.log);
        forge(&mut forged);
        assert_eq!(
            code(TpmEnclave::submit(&cp, &session, &forged).await),
            "ak_not_activated"
        );
        audited(&cp, "ak_not_activated");

        still_serving(&cp, &enclave, &session).await;
    });
    enclet_control_plane::audit::verify_dir(state.path()).unwrap();
}

#[test]
fn an_expired_nonce_is_refused() {
    let state = tempfile::tempdir().unwrap();
    let enclave = TpmEnclave::new(&image(), &[payout(), echo()]);
    let mut s = setup();
    s.extra = "nonce_ttl_secs = 1".to_owned();
    let cp = ControlPlane::start(state.path(), &enclave.swtpm, &s);
    runtime().block_on(async {
        let session = enclave.session(&cp).await;
        let nonce = enclave.nonce(&cp, &session).await;
        let body = enclave.evidence(&nonce, &enclave.log);
        // Past the TTL (whole seconds): this waits for a deadline, it does not time anything.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(
            code(TpmEnclave::submit(&cp, &session, &body).await),
            "nonce_expired"
        );
        audited(&cp, "nonce_expired");
    });
}

#[test]
fn an_image_outside_the_reference_values_is_refused() {
    let state = tempfile::tempdir().unwrap();
    let enclave = TpmEnclave::new(&image(), &[payout(), echo()]);
    let cp = ControlPlane::start(
        state.path(),
        &enclave.swtpm,
        &Setup {
            images: vec![Measurement::of_plugin(b"another enclave image")],
            ..setup()
        },
    );
    runtime().block_on(async {
        let session = enclave.session(&cp).await;
        let nonce = enclave.nonce(&cp, &session).await;
        let r = TpmEnclave::submit(&cp, &session, &enclave.evidence(&nonce, &enclave.log)).await;
        assert_eq!(code(r), "image_not_allowed");
        audited(&cp, "image_not_allowed");
    });
}

#[test]
fn a_debug_nitro_document_is_refused_at_its_own_time() {
    let vector = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../attestation/testdata/nitro/03_evervault_2022-10-12_debug.cose"),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let swtpm = enclet_swtpm::Swtpm::start().unwrap();
    let mut s = setup();
    // 2022-10-12T13:50:06Z, the document's own timestamp.
    s.extra = "insecure_fixed_nitro_time_for_tests = 1665582606".to_owned();
    let cp = ControlPlane::start(state.path(), &swtpm, &s);
    runtime().block_on(async {
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
        assert!(opened.credential.is_none());
        let issued: NonceIssued = cp
            .client
            .call_json::<(), _>(
                Method::POST,
                &enclet_control_plane_api::nonces_path(&opened.session),
                None,
                None,
            )
            .await
            .unwrap();
        let body = EvidenceSubmission {
            nonce: issued.nonce,
            evidence: Evidence::Nitro {
                document: Hex(vector),
            },
            event_log: Hex(EventLog::new().to_bytes()),
            public_key: Hex(vec![0; 32]),
            plugins: vec![],
        };
        let r = TpmEnclave::submit(&cp, &opened.session, &body).await;
        assert_eq!(code(r), "debug_enclave");
        audited(&cp, "debug_enclave");
    });
}

#[test]
fn a_policy_with_a_syntax_error_keeps_the_service_from_starting() {
    let state = tempfile::tempdir().unwrap();
    let swtpm = enclet_swtpm::Swtpm::start().unwrap();
    let mut s = setup();
    s.rego = Some("package enclet\n\ndecision := {\n  \"enclave\": \n".to_owned());
    // Started by hand: the service must exit, not become healthy.
    let dir = state.path();
    crate::support::write_config(dir, &swtpm, &s);
    let out = Command::new(crate::support::binary())
        .args(["serve", "--state-dir"])
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started with a broken policy: {stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("policy.rego"), "names the file: {stderr}");
    assert!(
        stderr.contains("policy.rego:5:1"),
        "names the position: {stderr}"
    );
}
