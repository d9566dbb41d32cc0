use enclet_attestation::Measurement;
use enclet_protocol::{
    CONNECTION_ID, ErrorBody, FrameLimits, Request, Response, codec, read_frame,
};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use super::EnclaveClient;
use crate::Error;

const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 1 << 20,
};

/// A client on one end of a socket pair, and the other end as the enclave.
fn connected() -> (EnclaveClient, UnixStream) {
    let (client_end, server_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let client = EnclaveClient::from_stream(client_end, LIMITS).unwrap();
    server_end.set_nonblocking(true).unwrap();
    (client, UnixStream::from_std(server_end).unwrap())
}

async fn next_request(server: &mut UnixStream) -> (u64, Request) {
    let body = read_frame(server, LIMITS, None).await.unwrap().unwrap();
    let (h, r) = codec::decode::<Request>(&body).unwrap();
    (h.request_id, r)
}

async fn answer(server: &mut UnixStream, id: u64, response: &Response) {
    let frame = codec::encode(id, response, LIMITS).unwrap();
    server.write_all(&frame).await.unwrap();
}

#[tokio::test]
async fn responses_are_routed_by_id_in_any_order() {
    let (client, mut server) = connected();
    let m = Measurement::of_plugin(b"p");
    let a = tokio::spawn({
        let c = client.clone();
        async move { c.invoke(m, b"a".to_vec()).await }
    });
    let (id_a, _) = next_request(&mut server).await;
    let b = tokio::spawn({
        let c = client.clone();
        async move { c.invoke(m, b"b".to_vec()).await }
    });
    let (id_b, req_b) = next_request(&mut server).await;
    assert_ne!(id_a, id_b);
    assert_ne!(id_a, CONNECTION_ID);
    assert_eq!(
        req_b,
        Request::Invoke {
            plugin: m,
            input: b"b".to_vec()
        }
    );
    // Answer the second first.
    answer(&mut server, id_b, &Response::Output(b"B".to_vec())).await;
    assert_eq!(b.await.unwrap().unwrap(), b"B");
    answer(
        &mut server,
        id_a,
        &Response::Error(ErrorBody::new("out_of_fuel", "out of fuel")),
    )
    .await;
    match a.await.unwrap() {
        Err(Error::Enclave(e)) => assert_eq!(e.code, "out_of_fuel"),
        other => panic!("{other:?}"),
    }
}

/// Answers that come during the busy wait and long after it both arrive, with
/// and without busy waiting.
#[tokio::test]
async fn answers_arrive_whether_or_not_the_request_busy_waits() {
    for budget in [
        std::time::Duration::ZERO,
        std::time::Duration::from_millis(5),
    ] {
        let (client, mut server) = connected();
        let client = client.with_busy_wait(budget);
        let m = Measurement::of_plugin(b"p");
        for delay_ms in [0, 30] {
            let call = tokio::spawn({
                let c = client.clone();
                async move { c.invoke(m, b"x".to_vec()).await }
            });
            let (id, _) = next_request(&mut server).await;
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            answer(&mut server, id, &Response::Output(vec![7])).await;
            assert_eq!(call.await.unwrap().unwrap(), vec![7], "budget {budget:?}");
        }
        drop(server);
        let gone = client.invoke(m, b"x".to_vec()).await.unwrap_err();
        assert!(matches!(gone, Error::Disconnected(_)), "{gone:?}");
    }
}

#[tokio::test]
async fn a_connection_error_fails_pending_and_later_requests() {
    let (client, mut server) = connected();
    let pending = tokio::spawn({
        let c = client.clone();
        async move { c.health().await }
    });
    let _ = next_request(&mut server).await;
    let reason = ErrorBody::new("malformed_frame", "malformed message: test");
    answer(&mut server, CONNECTION_ID, &Response::Error(reason)).await;
    match pending.await.unwrap() {
        Err(Error::Disconnected(why)) => assert!(why.contains("malformed_frame"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(client.is_closed());
    let err = client.plugins().await.unwrap_err();
    assert_eq!(err.code(), "enclave_unavailable");
}

#[tokio::test]
async fn wrong_response_kind_is_reported() {
    let (client, mut server) = connected();
    let pending = tokio::spawn(async move { client.plugins().await });
    let (id, _) = next_request(&mut server).await;
    answer(&mut server, id, &Response::Output(vec![])).await;
    let err = pending.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "unexpected_response", "{err}");
}

#[tokio::test]
async fn peer_closing_fails_pending_requests() {
    let (client, mut server) = connected();
    let pending = tokio::spawn({
        let c = client.clone();
        async move { c.health().await }
    });
    let _ = next_request(&mut server).await;
    drop(server);
    let err = pending.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Disconnected(_)), "{err}");
}

mod attest;
mod queue;
mod timeout;
