//! A plugin over its CPU quota while another is being called: its calls
//! wait (holding no slot) and are then ran; beyond the waiting bound it
//! is answered `throttled` at once; the other plugin is ran meanwhile.

use std::sync::Arc;

use enclet_protocol::{Request, Response};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::super::Server;
use super::config;
use super::saturation::{answer, frames, serve};
use crate::runtime::tests::plugin_bytes;
use crate::runtime::{MAX_WAITING_FOR_QUOTA, Runtime, RuntimeConfig, ShortCallsFirst};

/// A runtime with short calls first and its default quota (25 %).
fn runtime() -> Arc<Runtime> {
    Arc::new(
        Runtime::new(RuntimeConfig {
            short_calls_first: Some(ShortCallsFirst {
                idle_class: false,
                ..ShortCallsFirst::default()
            }),
            ..RuntimeConfig::default()
        })
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_the_quota_wait_then_run_and_beyond_the_bound_are_throttled() {
    let runtime = runtime();
    let load = |name: &str| {
        runtime
            .load(name, &plugin_bytes(name), None)
            .unwrap()
            .info
            .measurement
    };
    let (hostile, echo) = (load("hostile"), load("echo"));
    // Ten seconds of CPU booked: about 0.6 s before it has decayed to 25 %.
    runtime.hold_back_for_tests(&hostile);
    let server = Arc::new(Server::new(runtime, None, config()).unwrap());
    let (_dir, path, stop) = serve(&server);

    let (read, mut write) = UnixStream::connect(&path).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    let calls = u64::from(MAX_WAITING_FOR_QUOTA) + 1;
    let fail = |plugin| Request::Invoke {
        plugin,
        input: b"err".to_vec(),
    };
    let mut requests: Vec<_> = (1..=calls).map(|id| (id, fail(hostile))).collect();
    // The well-behaved plugin's call, sent last on the same connection.
    requests.push((
        100,
        Request::Invoke {
            plugin: echo,
            input: b"hi".to_vec(),
        },
    ));
    write.write_all(&frames(&requests)).await.unwrap();

    let mut throttled = Vec::new();
    let mut ran = Vec::new();
    for _ in 0..=calls {
        match answer(&mut read).await {
            (100, response) => {
                // Sent last, answered before any waiting call has run (they
                // wait about 0.6 s): the waits hold up nobody else.
                assert!(ran.is_empty(), "echo answered after {ran:?}");
                assert_eq!(response, Response::Output(b"hi".to_vec()));
            }
            (id, Response::Error(e)) if e.code == "throttled" => {
                assert!(
                    e.message.contains("25%") && e.message.contains("16 calls already wait"),
                    "{}",
                    e.message
                );
                throttled.push(id);
            }
            (id, Response::Error(e)) if e.code == "plugin_error" => ran.push(id),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // The one past the bound was refused; every waiting one ran in the end.
    assert_eq!(throttled, vec![calls]);
    ran.sort_unstable();
    assert_eq!(ran, (1..calls).collect::<Vec<_>>());
    let _ = stop.send(());
}

/// The async request handler (not the lanes' route) applies the quota too.
#[tokio::test]
async fn the_async_handler_applies_the_quota_too() {
    let runtime = runtime();
    let hostile = runtime
        .load("hostile", &plugin_bytes("hostile"), None)
        .unwrap()
        .info
        .measurement;
    runtime.hold_back_for_tests(&hostile);
    let waiting: Vec<_> = (0..MAX_WAITING_FOR_QUOTA)
        .map(|_| runtime.admit(&hostile).unwrap().expect("held back"))
        .collect();
    let server = Arc::new(Server::new(Arc::clone(&runtime), None, config()).unwrap());
    let invoke = || Request::Invoke {
        plugin: hostile,
        input: b"err".to_vec(),
    };
    match super::handle(&server, invoke()).await {
        Response::Error(e) => assert_eq!(e.code, "throttled", "{}", e.message),
        other => panic!("not throttled: {other:?}"),
    }
    drop(waiting);
    // With room to wait, it waits for the quota and then runs.
    match super::handle(&server, invoke()).await {
        Response::Error(e) => assert_eq!(e.code, "plugin_error", "{}", e.message),
        other => panic!("not run: {other:?}"),
    }
}
