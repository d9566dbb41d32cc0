//! The release through the real relay: only the payout plugin gets the
//! secret, uses it, keeps it when a tampered bundle arrives, and nothing the
//! parent saw, sent, logged or answered contains it.

use enclet_attestation::Measurement;
use enclet_protocol::{Request, Response};
use enclet_sealed::SealedBundle;

use super::secret::{SECRET_NAME, Secret, contains, verify_mac};
use super::stack::{Stack, installed};
use super::{PAYOUT_SAMPLE, Plugins, audit_kinds, control_plane, swtpm};
use crate::harness::api_error;

#[tokio::test(flavor = "multi_thread")]
async fn only_payout_gets_the_secret_and_the_parent_never_sees_it() {
    let swtpm = swtpm();
    let plugins = Plugins::built();
    let cp = control_plane(&swtpm, &plugins).await;
    let secret = Secret::random();
    let info = cp.put_secret(SECRET_NAME, secret.value()).await;
    assert_eq!((info.name.as_str(), info.size_bytes), (SECRET_NAME, 32));
    let stack = Stack::start(&swtpm, &cp.url, &cp.ca_path(), &cp.capability_root()).await;

    // Load the three plugins; the relay runs rounds on its own after loads.
    for (name, measurement) in plugins.named() {
        assert_eq!(stack.load(name).await, measurement.to_hex(), "{name}");
    }
    let (payout, echo, hostile) = (
        plugins.payout.to_hex(),
        plugins.echo.to_hex(),
        plugins.hostile.to_hex(),
    );
    let status = stack
        .wait_for_release(&[(&payout, &[SECRET_NAME]), (&echo, &[]), (&hostile, &[])])
        .await;
    let names: Vec<&str> = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["payout", "echo", "hostile"]);
    assert!(status["expires_at"].as_u64().unwrap() > 0, "{status}");

    // Payout MACs its split with the released key.
    let output = stack.invoke(&payout, PAYOUT_SAMPLE).await.unwrap();
    let body = verify_mac(&output, secret.value()).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output));
    });
    let split: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(split["currency"], "EUR");
    assert_eq!(split["total_cents"], 5250);
    // ...and with no other key, nor over another body.
    assert!(verify_mac(&output, Secret::random().value()).is_err());
    let altered = String::from_utf8(output.clone())
        .unwrap()
        .replace("alice", "alicf");
    assert_ne!(altered.as_bytes(), output);
    assert!(verify_mac(altered.as_bytes(), secret.value()).is_err());

    // Hostile asks for payout's secret: its capability token does not grant
    // it, so the enclave denies the call before any lookup.
    let err = stack
        .invoke(&hostile, format!("secret:{SECRET_NAME}").as_bytes())
        .await
        .unwrap_err();
    let (status_code, code, message) = api_error(err);
    assert_eq!((status_code, code.as_str()), (403, "denied"), "{message}");
    assert_eq!(
        message,
        format!("denied: secret:{SECRET_NAME} is not granted to this plugin")
    );
    // The control plane minted one token per allowed plugin and recorded
    // what each grants.
    let audit = cp.audit();
    let granted: Vec<_> = audit
        .iter()
        .filter(|e| e["kind"] == "release")
        .filter(|e| e["detail"]["measurement"] == payout.as_str())
        .collect();
    let last = granted.last().expect("a release entry for payout");
    let capabilities = &last["detail"]["capabilities"];
    assert_eq!(
        capabilities,
        &serde_json::json!(["log", format!("secret:{SECRET_NAME}")])
    );
    assert_eq!(last["detail"]["token_id"].as_str().map(str::len), Some(128));

    // Echo works as ever.
    let echoed = stack.invoke(&echo, b"hello from enclet").await.unwrap();
    assert_eq!(echoed, b"hello from enclet");

    a_tampered_bundle_is_refused_and_the_secrets_stay(&stack, &plugins.payout, &secret).await;

    // The control plane recorded the round: a session, the release by name.
    let audit = cp.audit();
    let kinds = audit_kinds(&audit);
    for kind in ["admin", "session_opened", "activation", "release"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    let audit_text = serde_json::to_vec(&audit).unwrap();
    assert!(contains(&audit_text, SECRET_NAME.as_bytes()));

    the_secret_is_nowhere_the_parent_was(&stack, &secret, &cp.url);
    // Nor in the control plane's records, nor the enclave's log.
    assert_eq!(secret.found_in(&audit_text), Vec::<&str>::new(), "audit");
    assert_eq!(secret.found_in(cp.log().as_bytes()), Vec::<&str>::new());
    assert_eq!(
        secret.found_in(stack.enclave_log().as_bytes()),
        Vec::<&str>::new()
    );
}

/// A real bundle from the tap with one ciphertext byte flipped, sent on the
/// enclave socket: refused `bundle_tampered`; payout keeps signing with the
/// secret in force; the untouched bundle is still accepted.
async fn a_tampered_bundle_is_refused_and_the_secrets_stay(
    stack: &Stack,
    payout: &Measurement,
    secret: &Secret,
) {
    let bundle = stack
        .tap
        .bundles()
        .into_iter()
        .rev()
        .find(|b| {
            SealedBundle::from_bytes(b)
                .unwrap()
                .secrets
                .iter()
                .any(|s| s.plugin == *payout && s.name == SECRET_NAME)
        })
        .expect("the relay delivered payout's secret through the tap");
    let tampered = flip_a_ciphertext_byte(&bundle);
    // Still a well-formed bundle for the same session, plugin and name.
    let (original, forged) = (
        SealedBundle::from_bytes(&bundle).unwrap(),
        SealedBundle::from_bytes(&tampered).unwrap(),
    );
    assert_eq!(forged.session, original.session);
    assert_eq!(forged.expires_at, original.expires_at);
    assert_ne!(forged, original);

    let enclave = stack.enclave_client().await;
    let err = enclave.release(tampered, Vec::new()).await.unwrap_err();
    assert_eq!(err.code(), "bundle_tampered", "{err}");

    let payout_hex = payout.to_hex();
    let output = stack.invoke(&payout_hex, PAYOUT_SAMPLE).await.unwrap();
    verify_mac(&output, secret.value()).unwrap_or_else(|e| {
        panic!(
            "after a tampered bundle: {e}: {}",
            String::from_utf8_lossy(&output)
        );
    });
    let status = stack.release_status().await;
    assert!(
        installed(&status).contains(&(payout_hex.clone(), vec![SECRET_NAME.to_owned()])),
        "{status}"
    );

    // The same bytes untouched open fine: only the flipped byte was refused.
    let released = enclave.release(bundle, Vec::new()).await.unwrap();
    let held: Vec<(String, Vec<String>)> = released
        .plugins
        .iter()
        .map(|p| (p.measurement.to_hex(), p.secrets.clone()))
        .collect();
    assert_eq!(held, [(payout_hex, vec![SECRET_NAME.to_owned()])]);
}

/// Decodes the CBOR bundle, flips one bit in the middle of the first
/// secret's `ct`, and encodes it again (same layout, one byte differs).
fn flip_a_ciphertext_byte(bundle: &[u8]) -> Vec<u8> {
    use ciborium::Value;
    fn member<'a>(map: &'a mut Value, key: &str) -> &'a mut Value {
        let Value::Map(entries) = map else {
            panic!("looking up {key}: not a map")
        };
        entries
            .iter_mut()
            .find(|(k, _)| k.as_text() == Some(key))
            .map_or_else(|| panic!("no {key}"), |(_, v)| v)
    }
    let mut value: Value = ciborium::from_reader(bundle).unwrap();
    let Value::Array(secrets) = member(&mut value, "secrets") else {
        panic!("secrets is not an array")
    };
    let Value::Bytes(ct) = member(&mut secrets[0], "ct") else {
        panic!("ct is not bytes")
    };
    let middle = ct.len() / 2;
    ct[middle] ^= 0x01;
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    assert_eq!(out.len(), bundle.len());
    let differing = out.iter().zip(bundle).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 1, "exactly one byte flipped");
    out
}

/// Step 5: the parent never held the secret. Searched: both directions of
/// every tapped enclave connection, the parent's (debug) log, and every
/// operator-API answer the test received; each search is shown to find
/// something known to be there.
fn the_secret_is_nowhere_the_parent_was(stack: &Stack, secret: &Secret, cp_url: &str) {
    let recordings = stack.tap.recordings();
    let to_enclave: Vec<u8> = recordings
        .iter()
        .flat_map(|r| r.to_enclave.clone())
        .collect();
    let from_enclave: Vec<u8> = recordings
        .iter()
        .flat_map(|r| r.from_enclave.clone())
        .collect();
    let parent_log = stack.parent_log();
    let answers = stack.api_answers();

    // The relay really went through the tap: attestation, activation,
    // release out, `Released` back.
    let requests = stack.tap.requests();
    for (what, seen) in [
        (
            "identity",
            requests.iter().any(|r| matches!(r, Request::Identity)),
        ),
        (
            "activation",
            requests
                .iter()
                .any(|r| matches!(r, Request::ActivateCredential { .. })),
        ),
        (
            "attest",
            requests.iter().any(|r| matches!(r, Request::Attest { .. })),
        ),
        (
            "release",
            requests
                .iter()
                .any(|r| matches!(r, Request::Release { .. })),
        ),
        (
            "released",
            stack
                .tap
                .responses()
                .iter()
                .any(|r| matches!(r, Response::Released(_))),
        ),
    ] {
        assert!(seen, "no {what} through the tap");
    }

    // Known to be there: the name in the bundle and in `Released`, the
    // control plane's URL in the parent's log, the name in `GET /v1/release`.
    let name = SECRET_NAME.as_bytes();
    assert!(contains(&to_enclave, name));
    assert!(contains(&from_enclave, name));
    assert!(
        contains(parent_log.as_bytes(), cp_url.as_bytes()),
        "{parent_log}"
    );
    assert!(contains(&answers, name));
    // The parent relays bundles opaquely and never logs them.
    let bundles = stack.tap.bundles();
    assert!(!bundles.is_empty());
    for bundle in &bundles {
        assert!(contains(&to_enclave, bundle));
        let hex = hex::encode(bundle);
        assert!(!contains(parent_log.as_bytes(), hex.as_bytes()));
        assert!(!contains(&answers, hex.as_bytes()));
    }

    for (what, haystack) in [
        ("the tap's parent → enclave bytes", to_enclave.as_slice()),
        ("the tap's enclave → parent bytes", from_enclave.as_slice()),
        ("the parent's log", parent_log.as_bytes()),
        ("the operator API answers", answers.as_slice()),
    ] {
        assert_eq!(
            secret.found_in(haystack),
            Vec::<&str>::new(),
            "the secret is in {what} ({} bytes searched)",
            haystack.len()
        );
    }
}
