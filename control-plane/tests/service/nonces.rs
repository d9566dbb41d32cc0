//! Nonces: single use, per session, with a time to live; every refusal of
//! evidence is audited (a `verdict` and a `refusal`) before it is answered.

use enclet_control_plane::audit::AuditKind;
use enclet_control_plane_api::client::{ClientError, ControlPlaneClient};
use enclet_control_plane_api::{
    Activation, AttesterKind, Evidence, EvidenceSubmission, Hex, NonceIssued, OpenSession, Release,
    SESSIONS, SessionOpened, activation_path, evidence_path, nonces_path,
};
use hyper::Method;

use crate::support::{Running, api_code};

async fn open(client: &ControlPlaneClient) -> String {
    let body = OpenSession {
        attester: AttesterKind::Nitro,
        tpm: None,
    };
    let opened: SessionOpened = client
        .call_json(Method::POST, SESSIONS, Some(&body), None)
        .await
        .unwrap();
    opened.session
}

async fn nonce(client: &ControlPlaneClient, session: &str) -> Result<Vec<u8>, ClientError> {
    client
        .call_json::<(), NonceIssued>(Method::POST, &nonces_path(session), None, None)
        .await
        .map(|n| n.nonce.0)
}

fn nitro(nonce: &[u8]) -> EvidenceSubmission {
    EvidenceSubmission {
        nonce: Hex(nonce.to_vec()),
        evidence: Evidence::Nitro {
            document: Hex(b"not a COSE document".to_vec()),
        },
        event_log: Hex(Vec::new()),
        public_key: Hex(vec![9; 32]),
        plugins: Vec::new(),
    }
}

async fn submit(
    client: &ControlPlaneClient,
    session: &str,
    body: &EvidenceSubmission,
) -> (u16, String) {
    api_code(
        client
            .call_json::<_, Release>(Method::POST, &evidence_path(session), Some(body), None)
            .await,
    )
}

#[tokio::test]
async fn nonces_are_single_use_per_session_and_expire_and_refusals_are_audited() {
    let cp = Running::start("nonce_ttl_secs = 60\nsession_ttl_secs = 3600\n").await;
    let client = cp.client();
    let a = open(&client).await;
    let b = open(&client).await;
    let forbidden = |code: &str| (403, code.to_owned());

    // Used once: the first use passes the nonce step (and the garbage
    // evidence is then rejected); the second is a replay.
    let n1 = nonce(&client, &a).await.unwrap();
    assert_eq!(
        submit(&client, &a, &nitro(&n1)).await,
        forbidden("evidence_rejected")
    );
    assert_eq!(
        submit(&client, &a, &nitro(&n1)).await,
        forbidden("nonce_replayed")
    );

    // Another session's nonce is unknown here, and stays usable there.
    let nb = nonce(&client, &b).await.unwrap();
    assert_eq!(
        submit(&client, &a, &nitro(&nb)).await,
        forbidden("nonce_unknown")
    );
    assert_eq!(
        submit(&client, &b, &nitro(&nb)).await,
        forbidden("evidence_rejected")
    );
    // A nonce never issued.
    assert_eq!(
        submit(&client, &a, &nitro(&[7; 32])).await,
        forbidden("nonce_unknown")
    );

    // Expired: accepted up to its TTL, refused at it.
    let n2 = nonce(&client, &a).await.unwrap();
    let n3 = nonce(&client, &a).await.unwrap();
    cp.clock.advance_ms(59_999);
    assert_eq!(
        submit(&client, &a, &nitro(&n2)).await,
        forbidden("evidence_rejected")
    );
    cp.clock.advance_ms(1);
    assert_eq!(
        submit(&client, &a, &nitro(&n3)).await,
        forbidden("nonce_expired")
    );

    // Evidence of the wrong attester is refused before the nonce is used.
    let n4 = nonce(&client, &a).await.unwrap();
    let tpm = EvidenceSubmission {
        evidence: Evidence::Tpm {
            attest: Hex(vec![1]),
            signature: Hex(vec![2]),
            ak_public: Hex(vec![3]),
            pcrs: Vec::new(),
        },
        ..nitro(&n4)
    };
    assert_eq!(
        submit(&client, &a, &tpm).await,
        (400, "wrong_attester".to_owned())
    );
    assert_eq!(
        submit(&client, &a, &nitro(&n4)).await,
        forbidden("evidence_rejected")
    );

    // Every refusal above: one verdict and one refusal entry, with its code
    // and session, in order.
    let refused: Vec<(String, String)> = cp
        .audit_of(AuditKind::Refusal)
        .iter()
        .map(|e| {
            (
                e.session.clone().unwrap(),
                e.detail["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect: Vec<(String, String)> = [
        (&a, "evidence_rejected"),
        (&a, "nonce_replayed"),
        (&a, "nonce_unknown"),
        (&b, "evidence_rejected"),
        (&a, "nonce_unknown"),
        (&a, "evidence_rejected"),
        (&a, "nonce_expired"),
        (&a, "wrong_attester"),
        (&a, "evidence_rejected"),
    ]
    .iter()
    .map(|(s, c)| ((*s).clone(), (*c).to_owned()))
    .collect();
    assert_eq!(refused, expect);
    let verdicts: Vec<String> = cp
        .audit_of(AuditKind::Verdict)
        .iter()
        .map(|e| {
            assert_eq!(e.detail["outcome"], "refused");
            e.detail["code"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        verdicts,
        expect.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>()
    );
    // Each verdict comes right before its refusal (one append each).
    let tail = cp.audit(4);
    assert_eq!(tail[2].kind, AuditKind::Verdict);
    assert_eq!(tail[3].kind, AuditKind::Refusal);
    assert_eq!(tail[3].seq, tail[2].seq + 1);
    assert_eq!(cp.audit_of(AuditKind::NonceIssued).len(), 5);
    cp.stop().await;
}

#[tokio::test]
async fn sessions_expire_and_unknown_ones_are_404() {
    let cp = Running::start("session_ttl_secs = 100\n").await;
    let client = cp.client();
    let a = open(&client).await;
    let n = nonce(&client, &a).await.unwrap();
    cp.clock.advance_ms(100_000);
    assert_eq!(
        submit(&client, &a, &nitro(&n)).await,
        (403, "session_expired".to_owned())
    );
    assert_eq!(
        api_code(nonce(&client, &a).await),
        (403, "session_expired".to_owned())
    );
    let unknown = "00".repeat(16);
    assert_eq!(
        api_code(nonce(&client, &unknown).await),
        (404, "unknown_session".to_owned())
    );
    assert_eq!(
        submit(&client, &unknown, &nitro(&n)).await,
        (404, "unknown_session".to_owned())
    );
    // Activation is for TPM sessions.
    let b = open(&client).await;
    let answer = client
        .call_json::<_, serde_json::Value>(
            Method::POST,
            &activation_path(&b),
            Some(&Activation {
                secret: Hex(vec![1; 32]),
            }),
            None,
        )
        .await;
    assert_eq!(api_code(answer), (400, "wrong_attester".to_owned()));
    let activation = cp.audit_of(AuditKind::Activation);
    assert_eq!(activation.len(), 1);
    assert_eq!(activation[0].detail["ok"], false);
    assert_eq!(activation[0].detail["code"], "wrong_attester");
    cp.stop().await;
}

#[tokio::test]
async fn reload_replaces_the_policy_only_when_it_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.rego"),
        enclet_control_plane::service::DENY_ALL_REGO,
    )
    .unwrap();
    let cp = Running::start_in(dir, "[policy]\nrego = \"policy.rego\"\n").await;
    let before = cp.state.engine();
    std::fs::write(
        cp.path("policy.rego"),
        "package enclet\n\ndecision := {\"enclave\": }\n\nother := 1\n",
    )
    .unwrap();
    let err = cp.reloader.reload().unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("policy.rego:3:"), "{err}");
    assert!(
        std::sync::Arc::ptr_eq(&before, &cp.state.engine()),
        "old policy in force"
    );
    std::fs::write(
        cp.path("policy.rego"),
        enclet_control_plane::service::DENY_ALL_REGO,
    )
    .unwrap();
    cp.reloader.reload().unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&before, &cp.state.engine()),
        "new policy in force"
    );
    cp.stop().await;
}
