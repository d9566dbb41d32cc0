//! Revocation at release, against a real swtpm: a revoked plugin, or one
//! whose latest load was signed by a revoked publisher, is denied with no
//! secrets and no token while the enclave's other plugin is still served.

use enclet_attestation::event_log::{PluginEvent, SignedLoad};
use enclet_control_plane::audit::AuditKind;
use enclet_control_plane_api::{
    ADMIN_REVOCATIONS, NonceIssued, Release, RevocationInfo, evidence_path, nonces_path,
    secret_path,
};
use enclet_sealed::{RecipientKey, SealedBundle};
use hyper::Method;

use crate::release_tpm::{Enclave, configured, enclave_with, plugin_measurements, session};
use crate::support::Running;

const PUBLISHER: [u8; 32] = [0x5a; 32];

async fn revoke(cp: &Running, kind: &str, value: &str) {
    let body = format!(r#"{{"kind":"{kind}","value":"{value}"}}"#);
    let answer = cp
        .client()
        .call(
            Method::POST,
            ADMIN_REVOCATIONS,
            body.into_bytes(),
            Some(&cp.token),
        )
        .await
        .unwrap();
    let info: RevocationInfo = serde_json::from_slice(&answer).unwrap();
    assert_eq!(info.kind, kind);
}

async fn release(cp: &Running, e: &Enclave, key: &RecipientKey) -> Release {
    let (client, session) = session(cp, e).await;
    let issued: NonceIssued = client
        .call_json::<(), _>(Method::POST, &nonces_path(&session), None, None)
        .await
        .unwrap();
    let body = crate::release_tpm::submission(e, &issued.nonce.0, key);
    client
        .call_json(Method::POST, &evidence_path(&session), Some(&body), None)
        .await
        .unwrap()
}

async fn start(events: &[PluginEvent; 2]) -> (Enclave, Running) {
    let (e, image) = enclave_with(events);
    let cp = configured(&e, &image).await;
    let put = cp
        .client()
        .call(
            Method::PUT,
            &secret_path("payout-hmac-key"),
            b"mac-key-bytes".to_vec(),
            Some(&cp.token),
        )
        .await;
    assert!(put.is_ok(), "{put:?}");
    (e, cp)
}

/// The rule of each `policy_decision` entry, in order.
fn decided_rules(cp: &Running) -> Vec<(String, bool)> {
    cp.audit_of(AuditKind::PolicyDecision)
        .iter()
        .map(|d| {
            (
                d.detail["rule"].as_str().unwrap().to_owned(),
                d.detail["allow"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_plugin_gets_nothing_and_the_other_plugin_still_does() {
    let (e, cp) = start(&plugin_measurements().map(PluginEvent::Load)).await;
    let key = RecipientKey::generate().unwrap();
    // Before: both plugins get a token, the payout plugin its secret.
    let before = release(&cp, &e, &key).await;
    assert!(before.plugins.iter().all(|p| p.token.is_some()));
    assert_eq!(before.plugins[0].secrets, ["payout-hmac-key"]);

    revoke(&cp, "plugin", &e.plugins[0].to_hex()).await;
    let after = release(&cp, &e, &key).await;
    let revoked = &after.plugins[0];
    assert_eq!(revoked.rule, "revoked_plugin");
    assert!(revoked.token.is_none() && revoked.token_id.is_none());
    assert!(revoked.secrets.is_empty() && revoked.capabilities.is_empty());
    let other = &after.plugins[1];
    assert_ne!(other.rule, "revoked_plugin");
    assert!(other.token.is_some());
    assert_eq!(other.capabilities, ["log"]);
    // Nothing is sealed for the revoked plugin.
    let opened = key
        .open(&SealedBundle::from_bytes(&after.bundle.0).unwrap())
        .unwrap();
    assert!(!opened.secrets.contains_key(&e.plugins[0]));

    // Audit: the second release's decisions show the rule; only the other
    // plugin has a release entry.
    let rules = decided_rules(&cp);
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[2], ("revoked_plugin".to_owned(), false));
    assert!(rules[3].1);
    let releases = cp.audit_of(AuditKind::Release);
    assert_eq!(releases.len(), 3);
    assert_eq!(releases[2].detail["measurement"], e.plugins[1].to_hex());
    cp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_publisher_denies_the_plugins_it_signed_last() {
    let [payout, report] = plugin_measurements();
    let signed = PluginEvent::SignedLoad(SignedLoad {
        measurement: report,
        publisher_key: PUBLISHER,
        manifest_digest: [0x11; 48],
    });
    let (e, cp) = start(&[PluginEvent::Load(payout), signed]).await;
    // Another publisher's revocation changes nothing.
    revoke(&cp, "publisher", &hex::encode([0x5b; 32])).await;
    let key = RecipientKey::generate().unwrap();
    let before = release(&cp, &e, &key).await;
    assert!(before.plugins.iter().all(|p| p.token.is_some()));

    revoke(&cp, "publisher", &hex::encode(PUBLISHER)).await;
    let after = release(&cp, &e, &key).await;
    assert_eq!(after.plugins[1].rule, "revoked_publisher");
    assert!(after.plugins[1].token.is_none());
    assert!(after.plugins[0].token.is_some());
    assert_eq!(after.plugins[0].secrets, ["payout-hmac-key"]);
    let rules = decided_rules(&cp);
    assert_eq!(rules[3], ("revoked_publisher".to_owned(), false));
    cp.stop().await;
}
