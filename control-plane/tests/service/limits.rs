//! Body limits, malformed requests, and clients that stall.

use std::sync::Arc;

use enclet_control_plane_api::{HEALTH, Health, SESSIONS, SessionOpened, evidence_path};
use hyper::Method;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{Running, api_code, post_raw};

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_malformed_json_is_400() {
    let cp = Running::start("max_body_bytes = 4096\n").await;
    let client = cp.client();
    let opened: SessionOpened = serde_json::from_slice(
        &post_raw(&client, SESSIONS, br#"{"attester":"nitro"}"#)
            .await
            .unwrap(),
    )
    .unwrap();
    let path = evidence_path(&opened.session);

    let over = vec![b' '; 4097];
    assert_eq!(
        api_code(post_raw(&client, &path, &over).await),
        (413, "body_too_large".to_owned())
    );
    // At the limit the body is read, and then judged as JSON.
    let at = vec![b' '; 4096];
    assert_eq!(
        api_code(post_raw(&client, &path, &at).await),
        (400, "invalid_request".to_owned())
    );
    for bad in [
        &br#"{"attester":"#[..],
        br#"{"attester":"nitro","extra":1}"#,
        br#"{"attester":"sgx"}"#,
        br#"{"attester":"tpm"}"#,
        br#"{"attester":"nitro","tpm":{"ek_public":"zz","ek_certificate":"","ak_public":""}}"#,
    ] {
        let (status, code) = api_code(post_raw(&client, SESSIONS, bad).await);
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_request"),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // Evidence with a nonce of the wrong length, or a bad measurement.
    let evidence = |nonce: &str, measurement: &str| {
        format!(
            r#"{{"nonce":"{nonce}","evidence":{{"kind":"nitro","document":"00"}},"event_log":"","public_key":"","plugins":[{{"measurement":"{measurement}","name":"p"}}]}}"#
        )
    };
    let good_m = "ab".repeat(48);
    for (nonce, m) in [
        ("00".repeat(31), good_m.clone()),
        ("00".repeat(32), "ab".repeat(47)),
    ] {
        let body = evidence(&nonce, &m);
        assert_eq!(
            api_code(post_raw(&client, &path, body.as_bytes()).await),
            (400, "invalid_request".to_owned())
        );
    }
    // Paths: a session id that is not hex, an unknown route, a wrong method.
    assert_eq!(
        api_code(post_raw(&client, "/v1/sessions/xyz/nonces", b"").await).1,
        "invalid_request"
    );
    assert_eq!(
        api_code(
            client
                .call(Method::GET, "/v1/nothing", Vec::new(), None)
                .await
        ),
        (404, "not_found".to_owned())
    );
    assert_eq!(
        api_code(client.call(Method::GET, SESSIONS, Vec::new(), None).await),
        (405, "method_not_allowed".to_owned())
    );
    cp.stop().await;
}

async fn health(cp: &Running) -> Health {
    cp.client()
        .call_json::<(), Health>(Method::GET, HEALTH, None, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn clients_that_send_nothing_do_not_block_others_and_are_dropped() {
    let cp = Running::start("max_connections = 4\ntls_handshake_timeout_ms = 300\n").await;
    // Two silent TCP clients and one that stops mid-ClientHello.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(cp.addr).await.unwrap());
    }
    let mut partial = TcpStream::connect(cp.addr).await.unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    // Another client is served meanwhile.
    assert_eq!(health(&cp).await.status, "ok");
    // The stalled ones are closed by the handshake timeout (the test only
    // waits for it to happen, it does not time it).
    for mut s in silent.into_iter().chain([partial]) {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
            .await
            .expect("the server closes a stalled handshake")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
    }
    // Their permits are back: a full set of clients is served.
    for _ in 0..4 {
        assert_eq!(health(&cp).await.status, "ok");
    }
    cp.stop().await;
}

/// A TLS connection to the service that speaks raw HTTP.
pub(crate) async fn raw_tls(cp: &Running) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&cp.ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(cp.addr).await.unwrap();
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_request_whose_body_stalls_gets_408_and_others_are_served() {
    let cp = Running::start("request_timeout_ms = 300\n").await;
    let mut tls = raw_tls(&cp).await;
    tls.write_all(
        b"POST /v1/sessions HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n{\"att",
    )
    .await
    .unwrap();
    tls.flush().await.unwrap();
    assert_eq!(health(&cp).await.status, "ok");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("request_timeout") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), tls.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert_ne!(
            n,
            0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    cp.stop().await;
}
