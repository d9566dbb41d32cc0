//! A fake enclave that accepts and reads but never answers: requests end with
//! `enclave_timeout` instead of hanging.

use std::time::Duration;

use enclet_protocol::{Endpoint, FrameLimits, Request, Response, codec, read_frame};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use super::super::Reconnecting;
use crate::Error;
use crate::api::ApiError;

/// Short on purpose: the test checks the error kind, not the timing.
const TIMEOUT: Duration = Duration::from_millis(200);

#[tokio::test]
async fn an_enclave_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enclave.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // Accepts and reads requests; answers only `ListPlugins`.
    let fake = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        while let Some(body) = read_frame(&mut stream, FrameLimits::default(), None)
            .await
            .unwrap()
        {
            let (header, request) = codec::decode::<Request>(&body).unwrap();
            if request == Request::ListPlugins {
                let frame = codec::encode(
                    header.request_id,
                    &Response::Plugins(vec![]),
                    FrameLimits::default(),
                )
                .unwrap();
                stream.write_all(&frame).await.unwrap();
            }
        }
    });
    let enclave = Reconnecting::new(Endpoint::Unix(path), FrameLimits::default())
        .with_request_timeout(TIMEOUT);
    let client = enclave.client().await.unwrap();

    // The outer bound only turns a missing timeout into a failure, not a hang.
    let err = tokio::time::timeout(Duration::from_secs(30), client.health())
        .await
        .expect("the request must time out on its own")
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.code(), "enclave_timeout");
    let api = ApiError::from(err);
    assert_eq!(
        (api.status().as_u16(), api.code.as_str()),
        (504, "enclave_timeout")
    );

    // The connection stays usable: an answered request still succeeds.
    assert!(!client.is_closed());
    assert_eq!(client.plugins().await.unwrap(), vec![]);
    drop((client, enclave));
    fake.abort();
}
