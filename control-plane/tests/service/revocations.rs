//! Revocation routes: admin revoke and list, the signed list for parents,
//! enforcement reports; each with the requests it refuses.

use enclet_capability::{RevocationKind, Revocations, RootPublicKey};
use enclet_control_plane::audit::AuditKind;
use enclet_control_plane_api::client::ClientError;
use enclet_control_plane_api::{
    ADMIN_REVOCATIONS, REVOCATION_REPORTS, REVOCATIONS, RevocationInfo, RevocationInfoList,
    SignedRevocations,
};
use hyper::Method;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Running, T0_MS, api_code};

fn plugin(byte: u8) -> String {
    hex::encode([byte; 48])
}

async fn revoke(cp: &Running, body: &str) -> Result<RevocationInfo, ClientError> {
    let answer = cp
        .client()
        .call(
            Method::POST,
            ADMIN_REVOCATIONS,
            body.as_bytes().to_vec(),
            Some(&cp.token),
        )
        .await?;
    Ok(serde_json::from_slice(&answer).unwrap())
}

/// The status line of a raw admin POST (the client shows only bodies).
async fn status_of_revoke(cp: &Running, body: &str) -> String {
    let mut tls = crate::limits::raw_tls(cp).await;
    let request = format!(
        "POST {ADMIN_REVOCATIONS} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        cp.token,
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> (u16, String, String) {
    match result {
        Err(ClientError::Api {
            status,
            code,
            message,
        }) => (status, code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn admin_revocation_routes_need_the_bearer_token() {
    let cp = Running::start("").await;
    let client = cp.client();
    let body = format!(r#"{{"kind":"plugin","value":"{}"}}"#, plugin(1));
    let post = client
        .call(
            Method::POST,
            ADMIN_REVOCATIONS,
            body.clone().into_bytes(),
            None,
        )
        .await;
    assert_eq!(api_code(post), (401, "unauthorized".to_owned()));
    let wrong = client
        .call(
            Method::POST,
            ADMIN_REVOCATIONS,
            body.into_bytes(),
            Some(&"0".repeat(64)),
        )
        .await;
    assert_eq!(api_code(wrong), (401, "unauthorized".to_owned()));
    let get = client
        .call(Method::GET, ADMIN_REVOCATIONS, Vec::new(), None)
        .await;
    assert_eq!(api_code(get), (401, "unauthorized".to_owned()));
    assert!(cp.state.store().revocations().unwrap().is_empty());
    assert!(cp.audit_of(AuditKind::Revocation).is_empty());
    cp.stop().await;
}

#[tokio::test]
async fn bad_revocation_bodies_are_refused_naming_the_field() {
    let cp = Running::start("").await;
    let p = plugin(1);
    let long = "x".repeat(257);
    for (body, field) in [
        (format!(r#"{{"kind":"plugins","value":"{p}"}}"#), "kind"),
        (
            format!(r#"{{"kind":"plugin","value":"{}"}}"#, &p[..94]),
            "value",
        ),
        (format!(r#"{{"kind":"publisher","value":"{p}"}}"#), "value"),
        (
            format!(r#"{{"kind":"token","value":"{}"}}"#, "zz".repeat(64)),
            "value",
        ),
        (
            format!(r#"{{"kind":"plugin","value":"{p}","reason":"{long}"}}"#),
            "reason",
        ),
        (
            format!(r#"{{"kind":"plugin","value":"{p}","reason":"a\u0007b"}}"#),
            "reason",
        ),
        (
            format!(r#"{{"kind":"plugin","value":"{p}","why":"x"}}"#),
            "why",
        ),
        (r#"{"kind":"plugin"}"#.to_owned(), "value"),
    ] {
        let (status, code, message) = refused(revoke(&cp, &body).await);
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
        assert!(message.contains(field), "{body}: {message}");
    }
    assert!(cp.state.store().revocations().unwrap().is_empty());
    // The close variant that is right.
    let ok = revoke(
        &cp,
        &format!(
            r#"{{"kind":"plugin","value":"{p}","reason":"{}"}}"#,
            &long[..256]
        ),
    )
    .await
    .unwrap();
    assert_eq!(ok.sequence, 1);
    cp.stop().await;
}

#[tokio::test]
async fn revocations_are_listed_signed_for_parents_and_idempotent() {
    let cp = Running::start("").await;
    let publisher = "AB".repeat(32);
    let token = "0c".repeat(64);
    let plugin_body = format!(
        r#"{{"kind":"plugin","value":"{}","reason":"leaks"}}"#,
        plugin(1)
    );
    assert!(
        status_of_revoke(&cp, &plugin_body)
            .await
            .starts_with("HTTP/1.1 201")
    );
    // The same again: 200, the first revocation, no new audit entry.
    assert!(
        status_of_revoke(&cp, &plugin_body)
            .await
            .starts_with("HTTP/1.1 200")
    );
    let again = revoke(&cp, &plugin_body).await.unwrap();
    assert_eq!(
        (again.sequence, again.reason.as_deref()),
        (1, Some("leaks"))
    );
    let p = revoke(
        &cp,
        &format!(r#"{{"kind":"publisher","value":"{publisher}"}}"#),
    )
    .await
    .unwrap();
    assert_eq!(
        (p.sequence, p.value.as_str()),
        (2, "ab".repeat(32).as_str())
    );
    let t = revoke(&cp, &format!(r#"{{"kind":"token","value":"{token}"}}"#))
        .await
        .unwrap();
    assert_eq!(t.sequence, 3);

    let audited = cp.audit_of(AuditKind::Revocation);
    let seen: Vec<_> = audited
        .iter()
        .map(|e| {
            (
                e.detail["kind"].as_str().unwrap().to_owned(),
                e.detail["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("plugin".into(), 1),
            ("publisher".into(), 2),
            ("token".into(), 3)
        ]
    );
    assert_eq!(audited[0].detail["reason"], "leaks");
    assert_eq!(audited[0].detail["value"], plugin(1));

    let listed: RevocationInfoList = cp
        .client()
        .call_json::<(), _>(Method::GET, ADMIN_REVOCATIONS, None, Some(&cp.token))
        .await
        .unwrap();
    assert_eq!(listed.revocations.len(), 3);
    assert_eq!(listed.revocations[2], t);

    // The parent's list: no admin token; verifies under capability.pub.
    cp.clock.advance_ms(5_000);
    let signed: SignedRevocations = cp
        .client()
        .call_json::<(), _>(Method::GET, REVOCATIONS, None, None)
        .await
        .unwrap();
    assert_eq!(signed.sequence, 3);
    let pem = std::fs::read_to_string(cp.path("capability.pub")).unwrap();
    let root = RootPublicKey::from_pem(&pem).unwrap();
    let list = Revocations::parse(&signed.list.0, &root).unwrap();
    assert_eq!(list.sequence, 3);
    assert_eq!(list.issued_at, (T0_MS + 5_000) / 1000);
    assert!(list.contains(RevocationKind::Plugin, &plugin(1)));
    assert!(list.contains(RevocationKind::Publisher, &publisher));
    assert!(list.contains(RevocationKind::Token, &token));
    assert!(!list.contains(RevocationKind::Plugin, &plugin(2)));
    assert_eq!(list.revoked.len(), 3);
    // Under another root it does not verify.
    let other = enclet_capability::RootKey::generate();
    assert!(Revocations::parse(&signed.list.0, &other.public()).is_err());
    cp.stop().await;
}

#[tokio::test]
async fn the_empty_list_is_signed_too() {
    let cp = Running::start("").await;
    let signed: SignedRevocations = cp
        .client()
        .call_json::<(), _>(Method::GET, REVOCATIONS, None, None)
        .await
        .unwrap();
    assert_eq!(signed.sequence, 0);
    let pem = std::fs::read_to_string(cp.path("capability.pub")).unwrap();
    let list = Revocations::parse(&signed.list.0, &RootPublicKey::from_pem(&pem).unwrap()).unwrap();
    assert!(list.revoked.is_empty());
    cp.stop().await;
}

#[tokio::test]
async fn enforcement_reports_are_audited_and_bounded() {
    let cp = Running::start("").await;
    let client = cp.client();
    revoke(
        &cp,
        &format!(r#"{{"kind":"plugin","value":"{}"}}"#, plugin(1)),
    )
    .await
    .unwrap();
    let report = |body: String| {
        let client = client.clone();
        async move {
            client
                .call(Method::POST, REVOCATION_REPORTS, body.into_bytes(), None)
                .await
        }
    };
    let token = "0d".repeat(64);
    let ok = report(format!(
        r#"{{"sequence":1,"unloaded":["{}"],"tokens_dropped":["{token}"]}}"#,
        plugin(1).to_uppercase()
    ))
    .await
    .unwrap();
    assert!(ok.is_empty());
    let entries = cp.audit_of(AuditKind::RevocationEnforced);
    assert_eq!(entries.len(), 1);
    let d = &entries[0].detail;
    assert_eq!(d["sequence"], 1);
    assert_eq!(d["unloaded"][0], plugin(1));
    assert_eq!(d["tokens_dropped"][0], token);
    assert_eq!(d["parts"], 1);
    assert!(d["peer"].as_str().unwrap().starts_with("127.0.0.1"));
    assert_eq!(entries[0].peer, d["peer"].as_str().map(str::to_owned));

    // Refused, each naming its field, and nothing audited.
    let many: Vec<String> = (0..4097).map(|i| format!("\"{i:096x}\"")).collect();
    for (body, field) in [
        (
            r#"{"sequence":1,"unloaded":["ab"],"tokens_dropped":[]}"#.to_owned(),
            "unloaded[0]",
        ),
        (
            format!(
                r#"{{"sequence":1,"unloaded":[],"tokens_dropped":["{}"]}}"#,
                plugin(1)
            ),
            "tokens_dropped[0]",
        ),
        (
            r#"{"sequence":2,"unloaded":[],"tokens_dropped":[]}"#.to_owned(),
            "sequence",
        ),
        (
            r#"{"sequence":1,"unloaded":[]}"#.to_owned(),
            "tokens_dropped",
        ),
        (
            r#"{"sequence":1,"unloaded":[],"tokens_dropped":[],"x":1}"#.to_owned(),
            "x",
        ),
        (
            format!(
                r#"{{"sequence":1,"unloaded":[{}],"tokens_dropped":[]}}"#,
                many.join(",")
            ),
            "4097",
        ),
    ] {
        let (status, code, message) = refused(report(body.clone()).await);
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{field}");
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(cp.audit_of(AuditKind::RevocationEnforced).len(), 1);

    // A large report is recorded whole, in parts.
    let unloaded: Vec<String> = (0..150).map(|i| format!("\"{i:096x}\"")).collect();
    report(format!(
        r#"{{"sequence":1,"unloaded":[{}],"tokens_dropped":[]}}"#,
        unloaded.join(",")
    ))
    .await
    .unwrap();
    let parts = cp.audit_of(AuditKind::RevocationEnforced);
    assert_eq!(parts.len(), 4);
    let recorded: usize = parts[1..]
        .iter()
        .map(|e| e.detail["unloaded"].as_array().unwrap().len())
        .sum();
    assert_eq!(recorded, 150);
    assert_eq!(parts[3].detail["part"], 3);
    assert_eq!(parts[3].detail["parts"], 3);
    cp.stop().await;
}
