//! Admin routes: bearer token, secrets in, names and versions out.

use enclet_control_plane::audit::AuditKind;
use enclet_control_plane_api::{ADMIN_SECRETS, SecretInfo, SecretList, secret_path};
use hyper::Method;

use crate::support::{Running, api_code};

const VALUE: &[u8] = b"hunter2-very-secret-value";

#[tokio::test]
async fn admin_routes_need_the_bearer_token() {
    let cp = Running::start("").await;
    let client = cp.client();
    let list = |bearer: Option<String>| {
        let client = client.clone();
        async move {
            client
                .call(Method::GET, ADMIN_SECRETS, Vec::new(), bearer.as_deref())
                .await
        }
    };
    assert_eq!(api_code(list(None).await), (401, "unauthorized".to_owned()));
    let mut wrong = cp.token.clone();
    wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
    assert_eq!(api_code(list(Some(wrong)).await).1, "unauthorized");
    assert_eq!(
        api_code(list(Some(format!("{}0", cp.token))).await).1,
        "unauthorized"
    );
    assert_eq!(
        api_code(list(Some(cp.token[..63].to_owned())).await).1,
        "unauthorized"
    );
    // A PUT without the token stores nothing, whatever its body.
    let put = client
        .call(Method::PUT, &secret_path("k"), VALUE.to_vec(), None)
        .await;
    assert_eq!(api_code(put).1, "unauthorized");
    assert!(cp.audit_of(AuditKind::Admin).is_empty());
    // The right token.
    let body = list(Some(cp.token.clone())).await.unwrap();
    let listed: SecretList = serde_json::from_slice(&body).unwrap();
    assert!(listed.secrets.is_empty());
    cp.stop().await;
}

#[tokio::test]
async fn secrets_round_trip_without_ever_showing_a_value() {
    let cp = Running::start("").await;
    let client = cp.client();
    let token = Some(cp.token.as_str());
    let put = |value: Vec<u8>| {
        let client = client.clone();
        async move {
            client
                .call(Method::PUT, &secret_path("db-password"), value, token)
                .await
                .map(|b| serde_json::from_slice::<SecretInfo>(&b).unwrap())
        }
    };
    let v1 = put(VALUE.to_vec()).await.unwrap();
    assert_eq!(
        (v1.name.as_str(), v1.version, v1.size_bytes),
        ("db-password", 1, 25)
    );
    let v2 = put(b"second".to_vec()).await.unwrap();
    assert_eq!((v2.version, v2.size_bytes), (2, 6));

    let raw = client
        .call(Method::GET, ADMIN_SECRETS, Vec::new(), token)
        .await
        .unwrap();
    let listed: SecretList = serde_json::from_slice(&raw).unwrap();
    assert_eq!(listed.secrets, vec![v2.clone()]);
    assert!(!String::from_utf8_lossy(&raw).contains("second"));

    let removed = client
        .call(
            Method::DELETE,
            &secret_path("db-password"),
            Vec::new(),
            token,
        )
        .await
        .unwrap();
    let removed: SecretInfo = serde_json::from_slice(&removed).unwrap();
    assert_eq!(removed.version, 2);
    let again = client
        .call(
            Method::DELETE,
            &secret_path("db-password"),
            Vec::new(),
            token,
        )
        .await;
    assert_eq!(api_code(again), (404, "unknown_secret".to_owned()));

    // The audit log has the actions, names, versions and peer; no value.
    let admin = cp.audit_of(AuditKind::Admin);
    let seen: Vec<(String, String, serde_json::Value)> = admin
        .iter()
        .map(|e| {
            (
                e.detail["action"].as_str().unwrap().to_owned(),
                e.detail["name"].as_str().unwrap().to_owned(),
                e.detail["version"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("put".into(), "db-password".into(), 1.into()),
            ("put".into(), "db-password".into(), 2.into()),
            ("remove".into(), "db-password".into(), 2.into()),
            (
                "remove".into(),
                "db-password".into(),
                serde_json::Value::Null
            ),
        ]
    );
    assert!(
        admin
            .iter()
            .all(|e| e.peer.as_deref().unwrap().starts_with("127.0.0.1:"))
    );
    let all = serde_json::to_string(&cp.audit(100).iter().map(|e| &e.detail).collect::<Vec<_>>())
        .unwrap();
    assert!(!all.contains("hunter2") && !all.contains("second"), "{all}");
    cp.stop().await;
}

#[tokio::test]
async fn secret_names_and_sizes_are_bounded() {
    let cp = Running::start("").await;
    let client = cp.client();
    let token = Some(cp.token.as_str());
    let bad_name = client
        .call(Method::PUT, &secret_path("bad$name"), VALUE.to_vec(), token)
        .await;
    assert_eq!(api_code(bad_name), (400, "invalid_request".to_owned()));
    let empty = client
        .call(Method::PUT, &secret_path("empty"), Vec::new(), token)
        .await;
    assert_eq!(api_code(empty), (400, "invalid_request".to_owned()));
    let too_big = client
        .call(
            Method::PUT,
            &secret_path("big"),
            vec![7; 64 * 1024 + 1],
            token,
        )
        .await;
    assert_eq!(api_code(too_big), (413, "body_too_large".to_owned()));
    let just_fits = client
        .call(Method::PUT, &secret_path("big"), vec![7; 64 * 1024], token)
        .await;
    assert!(just_fits.is_ok(), "{just_fits:?}");
    cp.stop().await;
}
