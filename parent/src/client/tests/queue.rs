//! The write queue against a fake enclave that stops reading: it stays
//! bounded (excess requests get 503 `enclave_busy`, unsent), and a request
//! that times out or is abandoned before any byte of it is written never
//! reaches the enclave.

use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::{FrameLimits, Request, Response, codec, read_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;

use super::super::{Delivery, EnclaveClient};
use crate::Error;
use crate::api::ApiError;

/// Far above the kernel's Unix socket buffer: cannot be written at once.
const BIG: usize = 4 << 20;

fn connected() -> (EnclaveClient, UnixStream) {
    let (client_end, server_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let client = EnclaveClient::from_stream(client_end, FrameLimits::default()).unwrap();
    server_end.set_nonblocking(true).unwrap();
    (client, UnixStream::from_std(server_end).unwrap())
}

fn invoke(client: &EnclaveClient, input: Vec<u8>) -> JoinHandle<Result<Vec<u8>, Error>> {
    let client = client.clone();
    tokio::spawn(async move { client.invoke(Measurement::of_plugin(b"p"), input).await })
}

/// Waits (a generous liveness bound, not a timing assertion) until `done`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn next_request(server: &mut UnixStream) -> (u64, Request) {
    let body = read_frame(server, FrameLimits::default(), None)
        .await
        .unwrap()
        .expect("end of stream");
    let (h, r) = codec::decode::<Request>(&body).unwrap();
    (h.request_id, r)
}

#[tokio::test]
async fn a_stalled_enclave_gets_busy_answers_not_an_unbounded_queue() {
    const LIMIT: usize = 1 << 20;
    const FRAME: usize = 256 << 10;
    const CALLS: usize = 64;
    let (client, mut server) = connected();
    let client = client
        .with_write_queue_bytes(LIMIT)
        .with_request_timeout(Duration::from_mins(10));

    // 16 MiB of requests against a peer that reads nothing.
    let calls: Vec<_> = (0..CALLS)
        .map(|_| invoke(&client, vec![7; FRAME]))
        .collect();
    until("every call sent or refused", || {
        let refused = calls.iter().filter(|c| c.is_finished()).count();
        refused + client.shared.pending().waiting.len() == CALLS
    })
    .await;

    let backlog = client.shared.writer.backlog_bytes();
    assert!(
        backlog <= LIMIT,
        "the write queue grew to {backlog} bytes, over its {LIMIT}-byte bound"
    );
    let mut refused = 0;
    let mut waiting = Vec::new();
    for call in calls {
        if call.is_finished() {
            let err = call.await.unwrap().unwrap_err();
            assert!(matches!(err, Error::Busy { limit: LIMIT, .. }), "{err}");
            let api = ApiError::from(err);
            assert_eq!(
                (api.status().as_u16(), api.code.as_str()),
                (503, "enclave_busy")
            );
            assert!(api.message.contains("not sent"), "{}", api.message);
            refused += 1;
        } else {
            waiting.push(call);
        }
    }
    assert!(
        refused > 0,
        "no request was refused: all {CALLS} wait in an unbounded queue"
    );

    // Once the enclave reads again, every accepted request arrives and is
    // answered; the refused ones never arrive.
    for _ in 0..waiting.len() {
        let (id, request) = next_request(&mut server).await;
        assert!(matches!(request, Request::Invoke { .. }));
        let frame = codec::encode(id, &Response::Output(vec![1]), FrameLimits::default()).unwrap();
        server.write_all(&frame).await.unwrap();
    }
    for call in waiting {
        assert_eq!(call.await.unwrap().unwrap(), vec![1]);
    }
    assert_eq!(client.shared.writer.backlog_bytes(), 0);
}

#[tokio::test]
async fn a_request_that_times_out_while_queued_is_never_sent() {
    let (client, mut server) = connected();
    let client = client.with_request_timeout(Duration::from_millis(300));

    // Partly written: the peer is not reading and it exceeds the socket buffer.
    let partly = invoke(&client, vec![1; BIG]);
    until("the big request queued", || {
        client.shared.writer.backlog_bytes() > 0
    })
    .await;
    // Queued behind it, none of it written: one times out, one is abandoned.
    let timed_out = invoke(&client, b"timed out".to_vec());
    let abandoned = invoke(&client, b"abandoned".to_vec());
    until("both small requests queued", || {
        client.shared.pending().waiting.len() == 3
    })
    .await;
    abandoned.abort();
    let partly = partly.await.unwrap().unwrap_err();
    let timed_out = timed_out.await.unwrap().unwrap_err();

    // A later request, queued while the big one is still unwritten.
    let list = tokio::spawn({
        let c = client.clone();
        async move { c.plugins().await }
    });
    until("the list request sent", || {
        client.shared.pending().waiting.len() == 1
    })
    .await;

    // The enclave reads again: the big request, then the list; nothing else.
    let mut inputs = Vec::new();
    let list_id = loop {
        match next_request(&mut server).await {
            (_, Request::Invoke { input, .. }) => inputs.push(input.len()),
            (id, Request::ListPlugins) => break id,
            (_, other) => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        inputs,
        vec![BIG],
        "requests that ended before any byte was sent reached the enclave"
    );
    let frame = codec::encode(list_id, &Response::Plugins(vec![]), FrameLimits::default()).unwrap();
    server.write_all(&frame).await.unwrap();
    assert_eq!(list.await.unwrap().unwrap(), vec![]);

    // The 504s say truthfully what happened.
    let delivery = |e: &Error| match e {
        Error::Timeout { delivery, .. } => *delivery,
        other => panic!("not a timeout: {other}"),
    };
    assert_eq!(delivery(&timed_out), Delivery::NotSent);
    assert!(timed_out.to_string().contains("never sent"), "{timed_out}");
    assert_eq!(delivery(&partly), Delivery::MaybeApplied);
    let api = ApiError::from(partly);
    assert_eq!(
        (api.status().as_u16(), api.code.as_str()),
        (504, "enclave_timeout")
    );
    assert!(
        api.message.contains("enclet plugin list"),
        "{}",
        api.message
    );
}
