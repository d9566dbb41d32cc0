//! A parent pinned to a CA the control plane's certificate does not chain to:
//! the TLS handshake fails, so no session is ever opened and nothing is
//! released.

use std::path::Path;

use enclet_protocol::Request;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use super::secret::{SECRET_NAME, Secret};
use super::stack::Stack;
use super::{PAYOUT_SAMPLE, Plugins, audit_kinds, control_plane, swtpm};
use crate::harness::api_error;

/// A CA with the development CA's very name but its own key: the closest
/// impostor of the control plane's real trust anchor.
fn write_impostor_ca(path: &Path) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "enclet control plane development CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(path, cert.pem()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_pinned_to_another_ca_opens_no_session_and_releases_nothing() {
    let swtpm = swtpm();
    let plugins = Plugins::built();
    let cp = control_plane(&swtpm, &plugins).await;
    let secret = Secret::random();
    cp.put_secret(SECRET_NAME, secret.value()).await;
    let dir = tempfile::tempdir().unwrap();
    let impostor = dir.path().join("impostor-ca.pem");
    write_impostor_ca(&impostor);
    assert_ne!(
        std::fs::read(&impostor).unwrap(),
        std::fs::read(cp.ca_path()).unwrap()
    );
    let stack = Stack::start(&swtpm, &cp.url, &impostor, &cp.capability_root()).await;
    for (name, measurement) in plugins.named() {
        assert_eq!(stack.load(name).await, measurement.to_hex(), "{name}");
    }

    // A round on demand fails in the handshake, before anything is sent.
    let err = stack.run_release().await.unwrap_err();
    let (status, code, message) = api_error(err);
    assert_eq!((status, code.as_str()), (502, "transport"), "{message}");
    assert!(message.contains("TLS"), "{message}");
    assert!(message.contains("open_session"), "{message}");
    let release = stack.release_status().await;
    assert_eq!(release["configured"], true);
    assert_eq!(release["last_round"]["ok"], false, "{release}");
    assert_eq!(release["last_round"]["code"], "transport", "{release}");
    assert_eq!(release["plugins"], serde_json::json!([]), "{release}");

    // Payout gets nothing: with no release it holds no capability token, so
    // its read of the key is denied before any lookup.
    let payout = plugins.payout.to_hex();
    let err = stack.invoke(&payout, PAYOUT_SAMPLE).await.unwrap_err();
    let (status, code, message) = api_error(err);
    assert_eq!((status, code.as_str()), (403, "denied"), "{message}");
    assert!(message.contains("secret:payout-hmac-key"), "{message}");
    assert!(!message.contains(&hex::encode(secret.value())), "{message}");

    // The control plane never saw it: its audit log (readable, it holds the
    // admin entry of the secret) has no session, and no bundle went to the
    // enclave.
    let kinds = audit_kinds(&cp.audit());
    assert!(kinds.iter().any(|k| k == "admin"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "session_opened"), "{kinds:?}");
    let requests = stack.tap.requests();
    assert!(
        requests.iter().any(|r| matches!(r, Request::Identity)),
        "the round got as far as the enclave's identity"
    );
    assert!(
        !requests
            .iter()
            .any(|r| matches!(r, Request::Release { .. } | Request::Attest { .. })),
        "nothing to attest or release without a session"
    );
}
