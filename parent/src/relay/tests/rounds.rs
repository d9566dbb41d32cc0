//! Rounds: the steps sent, session reuse and re-opening, the pinned CA,
//! coalescing, the timer and retries.

use std::sync::atomic::Ordering;
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_control_plane_api::{
    AttesterKind, Evidence, Hex, OpenSession, PcrValue, PluginName, TpmIdentity,
};

use super::enclave::{echo_wasm, payout, real_tpm_enclave, scripted_nitro_enclave};
use super::fake_cp::{Ca, Cp, bundle};
use super::{NO_RETRY, reach, reconnecting, start, status_until};
use crate::relay::{Backoff, RoundError, Step};

fn sid(n: u32) -> String {
    format!("{n:032x}")
}

fn path(n: u32, what: &str) -> String {
    format!("POST /v1/sessions/{}/{what}", sid(n))
}

const OPEN: &str = "POST /v1/sessions";

#[tokio::test]
async fn a_tpm_round_relays_identity_activation_and_evidence_then_releases() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = reconnecting(&real_tpm_enclave(dir.path()));
    let echo = echo_wasm();
    let client = enclave.client().await.unwrap();
    client.load("echo", echo.clone(), None).await.unwrap();
    let (cp, relay) = start(Cp::new(600, false), enclave, NO_RETRY, None).await;

    let err = relay.run_now().await.unwrap().unwrap_err();
    // The round reached the enclave's Release (which this branch's enclave
    // refuses): everything before it was relayed.
    assert_eq!(err.step(), Some(Step::Release), "{err}");
    assert!(matches!(err, RoundError::Enclave { .. }), "{err}");
    assert_eq!(
        cp.log(),
        [
            OPEN.to_owned(),
            path(0, "activation"),
            path(0, "nonces"),
            path(0, "evidence")
        ]
    );
    assert_eq!(
        cp.opened.lock().unwrap().clone(),
        [OpenSession {
            attester: AttesterKind::Tpm,
            tpm: Some(TpmIdentity {
                ek_public: Hex(b"ek".to_vec()),
                ek_certificate: Hex(b"cert".to_vec()),
                ak_public: Hex(b"ak".to_vec()),
            }),
        }]
    );
    assert_eq!(
        cp.activations.lock().unwrap().clone(),
        [(sid(0), b"secret".to_vec())]
    );
    let (session, submitted) = cp.evidence.lock().unwrap()[0].clone();
    assert_eq!(session, sid(0));
    assert_eq!(
        submitted.nonce,
        Hex(vec![1; 32]),
        "the nonce the control plane issued"
    );
    assert_eq!(
        submitted.evidence,
        Evidence::Tpm {
            attest: Hex(b"quote".to_vec()),
            signature: Hex(b"sig".to_vec()),
            ak_public: Hex(b"ak".to_vec()),
            pcrs: vec![
                PcrValue {
                    index: 16,
                    value: Hex(vec![1; 32])
                },
                PcrValue {
                    index: 23,
                    value: Hex(vec![2; 32])
                },
            ],
        }
    );
    assert_eq!(
        submitted.plugins,
        [PluginName {
            measurement: Measurement::of_plugin(&echo).to_hex(),
            name: "echo".to_owned(),
        }]
    );
    assert_eq!(submitted.public_key.0.len(), 32);
    assert!(!submitted.event_log.0.is_empty());
    let status = relay.status();
    let last = status.last_round.unwrap();
    assert!(!last.ok);
    assert_eq!(last.code.as_deref(), Some(err.code()));
    assert!(last.message.unwrap().starts_with("release: enclave: "));

    // The next round reuses the activated session.
    let again = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(again.step(), Some(Step::Release));
    assert_eq!(cp.log()[4..], [path(0, "nonces"), path(0, "evidence")]);
    assert_eq!(cp.opened.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_lost_session_is_reopened_once() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = reconnecting(&real_tpm_enclave(dir.path()));
    let (cp, relay) = start(Cp::new(600, false), enclave, NO_RETRY, None).await;
    let _ = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(cp.log().len(), 4);

    // The control plane restarted: the session is unknown; a new one is
    // opened and activated, and the round goes on in it.
    cp.forget_sessions();
    let err = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(err.step(), Some(Step::Release), "{err}");
    assert_eq!(
        cp.log()[4..],
        [
            path(0, "nonces"),
            OPEN.to_owned(),
            path(1, "activation"),
            path(1, "nonces"),
            path(1, "evidence"),
        ]
    );

    // A control plane that keeps losing sessions: one new session, then the
    // round fails with its code; no evidence is sent.
    cp.always_unknown.store(true, Ordering::SeqCst);
    let err = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(err.code(), "unknown_session", "{err}");
    assert_eq!(
        cp.log()[9..],
        [path(1, "nonces"), OPEN.to_owned(), path(2, "activation")]
    );
    assert_eq!(cp.evidence.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_control_plane_outside_the_pinned_ca_fails_with_transport_and_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = reconnecting(&real_tpm_enclave(dir.path()));
    let other = Ca::new("some other CA");
    let (cp, relay) = start(Cp::new(600, false), enclave.clone(), NO_RETRY, Some(&other)).await;
    let err = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(err.code(), "transport", "{err}");
    assert_eq!(err.step(), Some(Step::OpenSession));
    assert!(err.to_string().contains("TLS"), "{err}");
    assert!(cp.log().is_empty(), "nothing reached it: {:?}", cp.log());
    assert!(cp.evidence.lock().unwrap().is_empty());
    let last = relay.status().last_round.unwrap();
    assert_eq!(last.code.as_deref(), Some("transport"));

    // The same control plane with its own CA pinned gets the evidence.
    let (cp, relay) = start(Cp::new(600, false), enclave, NO_RETRY, None).await;
    let err = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(err.step(), Some(Step::Release), "{err}");
    assert_eq!(cp.evidence.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn triggers_during_a_round_coalesce_into_one_more() {
    let dir = tempfile::tempdir().unwrap();
    let enclave = reconnecting(&real_tpm_enclave(dir.path()));
    let (cp, relay) = start(Cp::new(600, true), enclave, NO_RETRY, None).await;
    let gate = cp.gate.as_ref().unwrap();
    relay.trigger();
    reach(&cp.nonces, 1).await; // round 1 waits at its nonce
    for _ in 0..5 {
        relay.trigger();
    }
    gate.add_permits(1);
    reach(&cp.nonces, 2).await; // round 2 (the five triggers) waits
    let on_demand = relay.run_now(); // served by round 3
    gate.add_permits(100);
    let err = on_demand.await.unwrap().unwrap_err();
    assert_eq!(err.step(), Some(Step::Release), "{err}");
    assert_eq!(*cp.nonces.borrow(), 3, "{:?}", cp.log());
    assert_eq!(*cp.submissions.borrow(), 3);
}

#[tokio::test]
async fn a_nitro_round_installs_the_release_and_the_status_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, seen) = scripted_nitro_enclave(dir.path());
    let (cp, relay) = start(Cp::new(600, false), reconnecting(&path), NO_RETRY, None).await;
    let status = relay.run_now().await.unwrap().unwrap();
    assert_eq!(
        cp.opened.lock().unwrap().clone(),
        [OpenSession {
            attester: AttesterKind::Nitro,
            tpm: None
        }]
    );
    assert!(cp.activations.lock().unwrap().is_empty());
    let expires_at = status.expires_at.unwrap();
    // The bundle reached the enclave byte for byte.
    assert_eq!(seen.bundles.lock().unwrap().clone(), [bundle(expires_at)]);
    assert_eq!(
        seen.requests.lock().unwrap().clone(),
        ["health", "attest", "list_plugins", "release"]
    );
    let at = status.last_round.as_ref().unwrap().at;
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "configured": true,
            "last_round": {"ok": true, "at": at},
            "expires_at": expires_at,
            "plugins": [{"measurement": payout().to_hex(), "name": "payout", "secrets": ["k"]}],
        })
    );
    assert!(!json.to_string().contains(&hex::encode(bundle(expires_at))));

    // A refusal is recorded with the control plane's code; the release in
    // force stays in the status.
    cp.deny.store(1, Ordering::SeqCst);
    let err = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(err.code(), "policy_denied");
    let json = serde_json::to_value(relay.status()).unwrap();
    assert_eq!(json["last_round"]["ok"], false);
    assert_eq!(json["last_round"]["code"], "policy_denied");
    assert!(
        json["last_round"]["message"]
            .as_str()
            .unwrap()
            .starts_with("evidence: "),
        "{json}"
    );
    assert_eq!(json["expires_at"], expires_at);
    assert_eq!(json["plugins"][0]["secrets"][0], "k");
    assert_eq!(
        seen.bundles.lock().unwrap().len(),
        1,
        "nothing new released"
    );
}

#[tokio::test]
async fn the_release_is_refreshed_before_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let (path, seen) = scripted_nitro_enclave(dir.path());
    // A 3 s release: refreshed at 2 s with the default margin, untriggered.
    let (cp, relay) = start(Cp::new(3, false), reconnecting(&path), NO_RETRY, None).await;
    relay.run_now().await.unwrap().unwrap();
    reach(&cp.submissions, 2).await;
    status_until(&relay, |_| seen.bundles.lock().unwrap().len() == 2).await;
    // One session served both rounds.
    assert_eq!(cp.opened.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn failed_rounds_are_retried_with_backoff_until_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (path, seen) = scripted_nitro_enclave(dir.path());
    let cp = Cp::new(600, false);
    cp.deny.store(2, Ordering::SeqCst);
    let backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(40),
    };
    let (cp, relay) = start(cp, reconnecting(&path), backoff, None).await;
    let err = relay.run_now().await.unwrap().unwrap_err();
    assert_eq!(err.code(), "policy_denied");
    let status = status_until(&relay, |s| s.last_round.as_ref().is_some_and(|l| l.ok)).await;
    assert_eq!(
        *cp.submissions.borrow(),
        3,
        "two refusals, then the release"
    );
    assert_eq!(status.plugins.len(), 1);
    assert_eq!(seen.bundles.lock().unwrap().len(), 1);
}
