//! Many requests in flight on one connection; graceful shutdown.

use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::{FrameLimits, Limits, Request, Response, codec, read_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::harness::{Appliance, plugin};

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_invocations_in_flight_on_one_connection() {
    let app = Appliance::start().await;
    let client = app.enclave_client().await;
    let echo = client
        .load("echo", plugin("echo"), None)
        .await
        .unwrap()
        .info
        .measurement;
    let slow = Limits {
        deadline_ms: 5_000,
        ..spinning()
    };
    let hostile = client
        .load("hostile", plugin("hostile"), Some(slow))
        .await
        .unwrap()
        .info
        .measurement;
    // A slow call first: the fast ones overtake it on the same connection.
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.invoke(hostile, b"loop".to_vec()).await })
    };
    // Let the slow call reach the enclave first (if it has not, the order
    // check below checks less; it does not fail).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls: Vec<_> = (0..64u32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let input = format!("request {i}").into_bytes();
                (input.clone(), client.invoke(echo, input).await)
            })
        })
        .collect();
    for call in calls {
        let (input, output) = call.await.unwrap();
        assert_eq!(output.unwrap(), input);
    }
    // Served in order, the slow call would have been answered before any
    // fast one.
    assert!(
        !slow.is_finished(),
        "every fast call was answered while the slow one still ran"
    );
    let err = slow.await.unwrap().unwrap_err();
    assert!(
        ["deadline_exceeded", "out_of_fuel"].contains(&err.code()),
        "{err}"
    );
    // Errors are per request too: an unknown plugin on the same connection.
    let err = client
        .invoke(Measurement::of_plugin(b"none"), Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_plugin");
    assert!(!client.is_closed());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_requests_finish() {
    let mut app = Appliance::start().await;
    let limits = Limits {
        deadline_ms: 1_500,
        ..spinning()
    };
    let hostile = app
        .enclave_client()
        .await
        .load("hostile", plugin("hostile"), Some(limits))
        .await
        .unwrap()
        .info
        .measurement;
    // The slow invocation and a health check in one write on a raw
    // connection: the enclave reads frames in order, so once the health check
    // is answered the invocation has been accepted. No guessing with sleeps.
    let mut stream = UnixStream::connect(app.enclave_socket()).await.unwrap();
    let invoke = Request::Invoke {
        plugin: hostile,
        input: b"loop".to_vec(),
    };
    let mut frames = codec::encode(1, &invoke, FrameLimits::default()).unwrap();
    frames.extend(codec::encode(2, &Request::Health, FrameLimits::default()).unwrap());
    stream.write_all(&frames).await.unwrap();
    let (id, response) = next_response(&mut stream).await.unwrap();
    assert_eq!(
        id, 2,
        "health is answered while the invocation spins: {response:?}"
    );
    assert!(matches!(response, Response::Health(_)), "{response:?}");

    let status = tokio::task::spawn_blocking(move || {
        let status = app.stop_enclave();
        (status, app)
    })
    .await
    .unwrap();
    // The request was answered (with its own outcome), not dropped.
    match next_response(&mut stream).await {
        Some((1, Response::Error(e))) => assert_eq!(e.code, "deadline_exceeded", "{}", e.message),
        other => panic!("expected the invocation's answer, got {other:?}"),
    }
    assert!(next_response(&mut stream).await.is_none(), "then the close");
    assert!(status.0.success(), "enclave exit: {:?}", status.0);
    let log = status.1.enclave_log();
    assert!(
        log.contains("SIGTERM received") && log.contains("server stopped"),
        "{log}"
    );
    assert!(
        !status.1.enclave_socket().exists(),
        "socket removed on exit"
    );
}

/// Limits for a call that spins until its deadline (which the caller sets).
fn spinning() -> Limits {
    Limits {
        fuel: 100_000_000_000,
        deadline_ms: 1_000,
        max_memory_bytes: 64 << 20,
        max_table_elements: 10_000,
        max_input_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
    }
}

/// The next response on a raw connection; `None` at EOF. The timeout only
/// guards against a hang.
async fn next_response(stream: &mut UnixStream) -> Option<(u64, Response)> {
    let body = tokio::time::timeout(
        Duration::from_secs(30),
        read_frame(stream, FrameLimits::default(), None),
    )
    .await
    .expect("the enclave answers or closes")
    .unwrap()?;
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    Some((header.request_id, response))
}
