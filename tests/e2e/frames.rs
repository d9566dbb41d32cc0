//! Malformed, oversized, truncated and wrong-version frames sent over a raw
//! Unix socket straight to the enclave: each closes only its own connection,
//! with the reason in the enclave's log; other connections keep working.

use std::time::Duration;

use enclet_protocol::{CONNECTION_ID, FrameLimits, Request, Response, codec, read_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::harness::Appliance;

/// Reads frames until EOF; returns the connection-level error, if any.
async fn drain(stream: &mut UnixStream) -> Option<(u64, Response)> {
    let mut last = None;
    let read = async {
        while let Some(body) = read_frame(stream, FrameLimits::default(), None)
            .await
            .unwrap()
        {
            last = Some(codec::decode::<Response>(&body).unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the enclave must close the connection");
    last.map(|(h, r)| (h.request_id, r))
}

async fn health_on(stream: &mut UnixStream, id: u64) {
    let frame = codec::encode(id, &Request::Health, FrameLimits::default()).unwrap();
    stream.write_all(&frame).await.unwrap();
    let body = read_frame(stream, FrameLimits::default(), None)
        .await
        .unwrap()
        .unwrap();
    let (h, r) = codec::decode::<Response>(&body).unwrap();
    assert_eq!(h.request_id, id);
    assert!(matches!(r, Response::Health(_)), "{r:?}");
}

/// Sends `bytes` (then, if `half_close`, shuts down writing) on a fresh
/// connection; checks the error code on id 0, the close, the log line, and
/// that a connection opened before still works.
async fn bad_frame(bytes: &[u8], half_close: bool, code: &str, logged: &str) {
    let app = Appliance::start().await;
    let mut bystander = UnixStream::connect(app.enclave_socket()).await.unwrap();
    health_on(&mut bystander, 1).await;

    let mut bad = UnixStream::connect(app.enclave_socket()).await.unwrap();
    // A good request first: accepted work is answered even though the
    // connection is then closed for the bad frame.
    let good = codec::encode(41, &Request::ListPlugins, FrameLimits::default()).unwrap();
    bad.write_all(&good).await.unwrap();
    bad.write_all(bytes).await.unwrap();
    if half_close {
        bad.shutdown().await.unwrap();
    }
    let body = read_frame(&mut bad, FrameLimits::default(), None)
        .await
        .unwrap()
        .unwrap();
    let (h, r) = codec::decode::<Response>(&body).unwrap();
    assert_eq!((h.request_id, r), (41, Response::Plugins(vec![])));
    match drain(&mut bad).await {
        Some((CONNECTION_ID, Response::Error(e))) => assert_eq!(e.code, code, "{}", e.message),
        other => panic!("expected a connection error, got {other:?}"),
    }

    // The reason is logged; other connections and the parent keep working.
    let log = app.enclave_log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("closing connection") && l.contains(logged)),
        "{logged:?} not in the enclave log:\n{log}"
    );
    health_on(&mut bystander, 2).await;
    let mut fresh = UnixStream::connect(app.enclave_socket()).await.unwrap();
    health_on(&mut fresh, 3).await;
    let echo = app.load("echo").await;
    assert_eq!(
        app.invoke(&echo, b"still here").await.unwrap(),
        b"still here"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_frame_closes_only_that_connection() {
    // A valid header followed by bytes that are not CBOR for any request.
    let mut frame = Vec::new();
    frame.extend_from_slice(&14u32.to_be_bytes());
    frame.extend_from_slice(&1u16.to_be_bytes());
    frame.extend_from_slice(&7u64.to_be_bytes());
    frame.extend_from_slice(&[0xff, 0xfe, 0xfd, 0x1c]);
    bad_frame(&frame, false, "malformed_frame", "malformed message").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_frame_closes_only_that_connection() {
    // Announces 1 GiB (over the 32 MiB default); nothing else is sent.
    bad_frame(
        &(1u32 << 30).to_be_bytes(),
        false,
        "frame_too_large",
        "oversized frame",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_frame_closes_only_that_connection() {
    // Announces 100 bytes, sends 20, then ends the stream.
    let mut frame = 100u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0u8; 20]);
    bad_frame(&frame, true, "truncated_frame", "truncated frame").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_protocol_version_closes_only_that_connection() {
    let mut frame = codec::encode(9, &Request::Health, FrameLimits::default()).unwrap();
    frame[4..6].copy_from_slice(&99u16.to_be_bytes());
    bad_frame(
        &frame,
        false,
        "unsupported_version",
        "unsupported protocol version 99",
    )
    .await;
}
