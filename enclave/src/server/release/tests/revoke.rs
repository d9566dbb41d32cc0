//! Revocation lists in the enclave: real lists signed with the capability
//! root, applied by `Request::Revoke` to a server running the real plugins.

use std::collections::BTreeSet;

use enclet_capability::{CapabilityToken, RevocationKind, Revocations, RootKey};
use enclet_protocol::{Enforced, Request, Response};

use super::tokens::{Gated, refusal};
use super::{Enclave, NOW};
use crate::runtime::tests::plugin_bytes;
use crate::server::handler::handle;

fn list(root: &RootKey, sequence: u64, revoked: &[(RevocationKind, String)]) -> Vec<u8> {
    Revocations {
        sequence,
        issued_at: NOW,
        revoked: revoked.iter().cloned().collect::<BTreeSet<_>>(),
    }
    .sign(root)
    .unwrap()
}

async fn apply(enclave: &Enclave, list: Vec<u8>) -> Result<Enforced, (String, String)> {
    match handle(&enclave.server, Request::Revoke { list }).await {
        Response::Enforced(e) => Ok(e),
        Response::Error(e) => Err((e.code, e.message)),
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test]
async fn a_revoked_plugin_is_unloaded_and_cannot_come_back() {
    let g = Gated::start().await;
    let e = &g.enclave;
    let hostile = (RevocationKind::Plugin, e.hostile.to_hex());
    let enforced = apply(e, list(&g.root, 1, std::slice::from_ref(&hostile)))
        .await
        .unwrap();
    assert_eq!(enforced.sequence, 1);
    let unloaded: Vec<_> = enforced.unloaded.iter().map(|p| p.measurement).collect();
    assert_eq!(unloaded, [e.hostile]);
    assert_eq!(refusal(g.hostile("plain").await).0, "unknown_plugin");
    // The others keep serving.
    assert_eq!(e.invoke(e.echo, b"hi").await.unwrap(), b"hi");
    // Loading it again is refused, naming it.
    let load = Request::Load {
        name: "hostile".to_owned(),
        component: plugin_bytes("hostile"),
        limits: None,
        signed: None,
    };
    let Response::Error(err) = handle(&e.server, load).await else {
        panic!("a revoked plugin loaded again")
    };
    assert_eq!(err.code, "revoked_plugin");
    assert_eq!(
        err.message,
        format!("plugin {} is revoked", e.hostile.to_hex())
    );
    // The same list again changes nothing.
    let again = apply(e, list(&g.root, 1, &[hostile])).await.unwrap();
    assert!(again.unloaded.is_empty());
}

#[tokio::test]
async fn a_revoked_token_is_treated_as_absent_now_and_in_later_releases() {
    let g = Gated::start().await;
    let token = g.token(g.enclave.hostile, &["secret:k"]);
    let id = CapabilityToken::parse(&token, &g.root.public())
        .unwrap()
        .id()
        .to_owned();
    g.released(vec![g.hostile_token(token.clone())]).await;
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
    let revoked = [(RevocationKind::Token, id.clone())];
    let enforced = apply(&g.enclave, list(&g.root, 1, &revoked)).await.unwrap();
    assert_eq!(enforced.tokens_dropped, [id]);
    assert!(enforced.unloaded.is_empty());
    assert_eq!(refusal(g.hostile("secret:k").await).0, "denied");
    // A parent installing the same token again gains nothing.
    g.released(vec![g.hostile_token(token)]).await;
    assert_eq!(refusal(g.hostile("secret:k").await).0, "denied");
    // A fresh token (another id) works.
    g.released(vec![
        g.hostile_token(g.token(g.enclave.hostile, &["secret:k"])),
    ])
    .await;
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
}

#[tokio::test]
async fn forged_stale_and_unverifiable_lists_change_nothing() {
    let g = Gated::start().await;
    let e = &g.enclave;
    let hostile = (RevocationKind::Plugin, e.hostile.to_hex());
    // Signed by another key.
    let forged = list(&RootKey::generate(), 5, std::slice::from_ref(&hostile));
    assert_eq!(apply(e, forged).await.unwrap_err().0, "invalid_revocation");
    assert_eq!(g.hostile("plain").await.unwrap(), b"plain");
    // Garbage.
    assert_eq!(
        apply(e, b"junk".to_vec()).await.unwrap_err().0,
        "invalid_revocation"
    );
    // A newer empty list, then an older one that revokes: refused as stale.
    apply(e, list(&g.root, 3, &[])).await.unwrap();
    let (code, message) = apply(e, list(&g.root, 2, &[hostile])).await.unwrap_err();
    assert_eq!(code, "stale_revocation_list", "{message}");
    assert_eq!(
        message,
        "revocation list 2 is older than the one in force (3)"
    );
    assert_eq!(g.hostile("plain").await.unwrap(), b"plain");
    // An enclave without a capability root cannot check a list.
    let ungated = Enclave::start().await;
    let (code, _) = apply(&ungated, list(&g.root, 1, &[])).await.unwrap_err();
    assert_eq!(code, "no_capability_root");
}
