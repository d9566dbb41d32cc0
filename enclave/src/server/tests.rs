use std::sync::Arc;
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::{
    CONNECTION_ID, FrameLimits, Request, Response, Transport, UnixTransport, codec, read_frame,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::handler::handle;
use super::{Server, ServerConfig};
use crate::runtime::tests::plugin_bytes;
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

fn config() -> ServerConfig {
    ServerConfig {
        frame_limits: LIMITS,
        body_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

fn start() -> Harness {
    start_with(config())
}

fn start_with(config: ServerConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
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
        signed: None,
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

#[tokio::test]
async fn beyond_max_connections_a_peer_waits_until_one_ends() {
    let h = start_with(ServerConfig {
        max_connections: 1,
        ..config()
    });
    let mut first = UnixStream::connect(&h.path).await.unwrap();
    let (_, resp) = call(&mut first, 1, &Request::Health).await;
    assert!(matches!(resp, Response::Health(_)), "{resp:?}");
    // The second peer lands in the backlog: its request is not read while the
    // first connection is open, however long we wait.
    let mut second = UnixStream::connect(&h.path).await.unwrap();
    second
        .write_all(&codec::encode(2, &Request::Health, LIMITS).unwrap())
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), next(&mut second)).await;
    assert!(waited.is_err(), "answered beyond the bound: {waited:?}");
    // The first connection ending frees the slot; the queued request is served.
    drop(first);
    let (id, resp) = tokio::time::timeout(Duration::from_secs(30), next(&mut second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, 2);
    assert!(matches!(resp, Response::Health(_)), "{resp:?}");
}

/// Loads beyond the compile bound wait for a permit: with one permit, at
/// most one compilation runs at any moment, and every load completes.
#[tokio::test]
async fn loads_beyond_the_compile_bound_wait_and_complete() {
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            max_concurrent_compiles: 1,
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let server = Arc::new(Server::new(runtime, None, config()).unwrap());
    assert_eq!(server.runtime.compile_permits_available(), 1);
    let load = |name: &str| Request::Load {
        name: name.into(),
        component: plugin_bytes(name),
        limits: None,
        signed: None,
    };
    let answers = tokio::time::timeout(Duration::from_mins(2), async {
        tokio::join!(
            handle(&server, load("echo")),
            handle(&server, load("payout")),
            handle(&server, load("hostile")),
            handle(&server, load("echo"))
        )
    })
    .await
    .unwrap();
    let (a, b, c, d) = answers;
    for r in [&a, &b, &c, &d] {
        assert!(matches!(r, Response::Loaded(_)), "{r:?}");
    }
    // Four loads arrived at once; with one permit they compiled one by one.
    assert_eq!(
        server.runtime.peak_concurrent_compiles(),
        1,
        "more compilations ran at once than there are permits"
    );
    // Each compile returned its permit, and the two echo loads are one plugin.
    assert_eq!(server.runtime.compile_permits_available(), 1);
    assert_eq!(server.runtime.plugins().len(), 3);
    assert_eq!(server.event_log().await.len(), 3);
}

/// A call that runs long holds up neither later calls nor other requests on
/// the same connection: they are answered first, by other lanes.
#[tokio::test]
async fn a_long_call_does_not_hold_up_its_connection() {
    use crate::runtime::Limits;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let slow = Limits {
        fuel: 100_000_000_000,
        deadline_ms: 3_000,
        ..Limits::default()
    };
    let hostile = runtime
        .load("hostile", &plugin_bytes("hostile"), Some(slow))
        .unwrap()
        .info
        .measurement;
    let echo = runtime
        .load("echo", &plugin_bytes("echo"), None)
        .unwrap()
        .info
        .measurement;
    let server = Arc::new(Server::new(runtime, None, config()).unwrap());
    let listener = UnixTransport::new(&path).bind().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve::<UnixTransport>(listener, async {
        let _ = rx.await;
    }));

    let stream = UnixStream::connect(&path).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let send = |id: u64, req: Request| codec::encode(id, &req, LIMITS).unwrap();
    let spin = Request::Invoke {
        plugin: hostile,
        input: b"loop".to_vec(),
    };
    let hello = Request::Invoke {
        plugin: echo,
        input: b"hello".to_vec(),
    };
    write.write_all(&send(1, spin)).await.unwrap();
    write.write_all(&send(2, hello)).await.unwrap();
    write.write_all(&send(3, Request::Health)).await.unwrap();
    let mut order = Vec::new();
    for _ in 0..3 {
        let body =
            tokio::time::timeout(Duration::from_secs(30), read_frame(&mut read, LIMITS, None))
                .await
                .expect("an answer within 30 s")
                .unwrap()
                .unwrap();
        let (h, resp) = codec::decode::<Response>(&body).unwrap();
        match h.request_id {
            1 => assert!(
                matches!(resp, Response::Error(ref e) if e.code == "deadline_exceeded"),
                "{resp:?}"
            ),
            2 => assert_eq!(resp, Response::Output(b"hello".to_vec())),
            3 => assert!(matches!(resp, Response::Health(_)), "{resp:?}"),
            other => panic!("unexpected id {other}"),
        }
        order.push(h.request_id);
    }
    assert_eq!(
        order.last(),
        Some(&1),
        "the long call answered last: {order:?}"
    );
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

mod accept;
mod lanes;
mod lifecycle;
mod quota;
mod saturation;
