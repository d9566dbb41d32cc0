//! TLS: the pinned CA, mutual TLS and the peer identity in the audit log.

use enclet_control_plane::audit::AuditKind;
use enclet_control_plane_api::client::{ClientError, ControlPlaneClient};
use enclet_control_plane_api::{AttesterKind, Health, OpenSession, SessionOpened};
use hyper::Method;

use crate::support::{Running, TestCa};

async fn health(client: &ControlPlaneClient) -> Result<Health, ClientError> {
    client
        .call_json::<(), Health>(Method::GET, enclet_control_plane_api::HEALTH, None, None)
        .await
}

async fn open_nitro(client: &ControlPlaneClient) -> Result<SessionOpened, ClientError> {
    let body = OpenSession {
        attester: AttesterKind::Nitro,
        tpm: None,
    };
    client
        .call_json(
            Method::POST,
            enclet_control_plane_api::SESSIONS,
            Some(&body),
            None,
        )
        .await
}

fn assert_transport(result: Result<impl std::fmt::Debug, ClientError>) -> String {
    match result {
        Err(ClientError::Transport { reason, .. }) => reason,
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_pinning_another_ca_is_refused_in_the_handshake() {
    let cp = Running::start("").await;
    // The pinned development CA works.
    assert_eq!(health(&cp.client()).await.unwrap().status, "ok");
    // Another CA: the handshake fails, no HTTP exchange happens.
    let other = TestCa::new("not the control plane");
    let client = ControlPlaneClient::new(&cp.url, other.pem.as_bytes(), None).unwrap();
    let reason = assert_transport(health(&client).await);
    assert!(reason.contains("TLS"), "{reason}");
    cp.stop().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let parents = TestCa::new("parents");
    parents.write(dir.path(), "parents-ca.pem");
    let cp = Running::start_in(dir, "[tls]\nclient_ca = \"parents-ca.pem\"\n").await;

    // No certificate: refused.
    assert_transport(health(&cp.client()).await);
    // A certificate from another CA: refused.
    let (stranger, _) = TestCa::new("strangers").client_identity("parent-x");
    assert_transport(health(&cp.client_with(&stranger)).await);
    assert!(cp.audit_of(AuditKind::SessionOpened).is_empty());

    // The right certificate: served, and its identity is the audit peer.
    let (parent, der) = parents.client_identity("parent-1");
    let client = cp.client_with(&parent);
    assert_eq!(health(&client).await.unwrap().status, "ok");
    let opened = open_nitro(&client).await.unwrap();
    let fingerprint = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&der));
    let entries = cp.audit_of(AuditKind::SessionOpened);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].session.as_deref(), Some(opened.session.as_str()));
    assert_eq!(
        entries[0].peer.as_deref(),
        Some(format!("cert sha256:{fingerprint} CN=parent-1").as_str())
    );
    cp.stop().await;
}

#[tokio::test]
async fn without_mutual_tls_the_peer_is_the_remote_address() {
    let cp = Running::start("").await;
    open_nitro(&cp.client()).await.unwrap();
    let entries = cp.audit_of(AuditKind::SessionOpened);
    let peer = entries[0].peer.clone().unwrap();
    assert!(peer.starts_with("127.0.0.1:"), "{peer}");
    cp.stop().await;
}
