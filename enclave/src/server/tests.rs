use std::sync::Arc;
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::{
    CONNECTION_ID, FrameLimits, Request, Response, Transport, UnixTransport, codec, read_frame,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::{Server, ServerConfig};
use crate::runtime::{Runtime, RuntimeConfig};

const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 4096,
};

struct Harness {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let config = ServerConfig {
        frame_limits: LIMITS,
        body_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    let server = Arc::new(Server::new(runtime, None, config).unwrap());
    let listener = UnixTransport::new(&path).bind().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve::<UnixTransport>(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Harness {
        _dir: dir,
        path,
        stop: Some(tx),
        task,
    }
}

async fn call(stream: &mut UnixStream, id: u64, req: &Request) -> (u64, Response) {
    stream
        .write_all(&codec::encode(id, req, LIMITS).unwrap())
        .await
        .unwrap();
    next(stream).await.unwrap()
}

async fn next(stream: &mut UnixStream) -> Option<(u64, Response)> {
    let mut r = BufReader::new(stream);
    let body = read_frame(&mut r, LIMITS, None).await.unwrap()?;
    let (h, resp) = codec::decode::<Response>(&body).unwrap();
    Some((h.request_id, resp))
}

#[tokio::test]
async fn answers_health_list_and_errors_by_id() {
    let h = start();
    let mut s = UnixStream::connect(&h.path).await.unwrap();
    let (id, resp) = call(&mut s, 7, &Request::Health).await;
    assert_eq!(id, 7);
    assert!(
        matches!(resp, Response::Health(ref hl) if hl.plugins == 0 && hl.attester.is_none()),
        "{resp:?}"
    );
    let (_, resp) = call(&mut s, 8, &Request::ListPlugins).await;
    assert_eq!(resp, Response::Plugins(vec![]));
    let unknown = Request::Invoke {
        plugin: Measurement::of_plugin(b"nothing"),
        input: vec![],
    };
    let (id, resp) = call(&mut s, 9, &unknown).await;
    assert_eq!(id, 9);
    assert!(
        matches!(resp, Response::Error(ref e) if e.code == "unknown_plugin"),
        "{resp:?}"
    );
    let (_, resp) = call(&mut s, 10, &Request::Attest { nonce: vec![1; 32] }).await;
    assert!(
        matches!(resp, Response::Error(ref e) if e.code == "no_attester"),
        "{resp:?}"
    );
    let bad = Request::Load {
        name: "x".into(),
        component: b"not wasm".to_vec(),
        limits: None,
    };
    let (_, resp) = call(&mut s, 11, &bad).await;
    assert!(
        matches!(resp, Response::Error(ref e) if e.code == "invalid_component"),
        "{resp:?}"
    );
}

#[tokio::test]
async fn bad_frame_closes_only_its_connection() {
    let h = start();
    let mut good = UnixStream::connect(&h.path).await.unwrap();
    let mut bad = UnixStream::connect(&h.path).await.unwrap();
    bad.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let (id, resp) = next(&mut bad).await.unwrap();
    assert_eq!(id, CONNECTION_ID);
    assert!(
        matches!(resp, Response::Error(ref e) if e.code == "frame_too_large"),
        "{resp:?}"
    );
    assert!(
        next(&mut bad).await.is_none(),
        "connection closed after the error"
    );
    let (_, resp) = call(&mut good, 1, &Request::Health).await;
    assert!(matches!(resp, Response::Health(_)));
}

#[tokio::test]
async fn shutdown_closes_connections_and_returns() {
    let mut h = start();
    let mut s = UnixStream::connect(&h.path).await.unwrap();
    let _ = call(&mut s, 1, &Request::Health).await;
    h.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), &mut h.task)
        .await
        .unwrap()
        .unwrap();
    assert!(next(&mut s).await.is_none());
}
