//! Control requests while every invocation slot runs a long call; the lane
//! pool's bound and idle retirement; the server-wide budgets.

use std::sync::Arc;
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_protocol::{
    FrameLimits, Request, Response, Transport as _, UnixTransport, codec, read_frame,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;
use tokio::sync::oneshot;

use super::super::{Server, ServerConfig};
use super::{LIMITS, config};
use crate::runtime::tests::plugin_bytes;
use crate::runtime::{HardMaxima, Limits, Runtime, RuntimeConfig};

/// Invocation slots of these tests' runtimes.
const SLOTS: u32 = 2;

/// Fuel no spin runs out of within any of these tests' deadlines, however
/// fast the machine: about a day of spinning (tens of billions of units a
/// second per core were seen). The shipped hard maximum (100 billion) lasts
/// only seconds on a fast core, so it would make the outcome of a long call
/// depend on the machine's speed.
const ENDLESS_FUEL: u64 = 1 << 50;

/// A server over a runtime with [`SLOTS`] slots and `hostile` loaded with a
/// `deadline_ms` deadline (and fuel to spin all of it).
struct Spinning {
    server: Arc<Server>,
    hostile: Measurement,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
}

fn spinning(deadline_ms: u64, config: ServerConfig) -> Spinning {
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            max_concurrent_invocations: SLOTS,
            hard_maxima: HardMaxima {
                fuel: ENDLESS_FUEL,
                ..HardMaxima::DEFAULT
            },
            ..RuntimeConfig::default()
        })
        .unwrap(),
    );
    let slow = Limits {
        fuel: ENDLESS_FUEL,
        deadline_ms,
        ..Limits::default()
    };
    let hostile = runtime
        .load("hostile", &plugin_bytes("hostile"), Some(slow))
        .unwrap()
        .info
        .measurement;
    let server = Arc::new(Server::new(runtime, None, config).unwrap());
    let (dir, path, stop) = serve(&server);
    Spinning {
        server,
        hostile,
        _dir: dir,
        path,
        stop: Some(stop),
    }
}

/// Serves `server` on a fresh Unix socket until the sender is used (or
/// dropped); the directory holds the socket.
pub(super) fn serve(
    server: &Arc<Server>,
) -> (tempfile::TempDir, std::path::PathBuf, oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    let listener = UnixTransport::new(&path).bind().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(Arc::clone(server).serve::<UnixTransport>(listener, async {
        let _ = rx.await;
    }));
    (dir, path, tx)
}

fn spin(hostile: Measurement) -> Request {
    Request::Invoke {
        plugin: hostile,
        input: b"loop".to_vec(),
    }
}

pub(super) fn frames(requests: &[(u64, Request)]) -> Vec<u8> {
    requests
        .iter()
        .flat_map(|(id, request)| codec::encode(*id, request, LIMITS).unwrap())
        .collect()
}

/// The next answer; the timeout only guards against a hang.
pub(super) async fn answer(read: &mut BufReader<OwnedReadHalf>) -> (u64, Response) {
    let body = tokio::time::timeout(Duration::from_mins(1), read_frame(read, LIMITS, None))
        .await
        .expect("an answer within a minute")
        .unwrap()
        .unwrap();
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    (header.request_id, response)
}

/// Every slot busy with a long call and one more call waiting for a slot,
/// all on one connection (as from the parent): health, the plugin list and
/// attest are still read and answered before any call ends, and so is a
/// request on another connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_requests_are_answered_while_every_slot_runs_a_long_call() {
    let mut s = spinning(8_000, config());
    let (read, mut write) = UnixStream::connect(&s.path).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    let calls = u64::from(SLOTS) + 1;
    let mut requests: Vec<_> = (1..=calls).map(|id| (id, spin(s.hostile))).collect();
    requests.push((100, Request::Health));
    requests.push((101, Request::ListPlugins));
    requests.push((102, Request::Attest { nonce: vec![7; 32] }));
    write.write_all(&frames(&requests)).await.unwrap();
    // The three control requests run concurrently, so they may be answered
    // in any order; all three come before any long call ends.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (id, response) = answer(&mut read).await;
        assert!(
            [100, 101, 102].contains(&id) && !seen.contains(&id),
            "answered before the long calls: {id} {response:?}"
        );
        seen.push(id);
        match id {
            100 => assert!(matches!(response, Response::Health(_)), "{response:?}"),
            101 => assert!(
                matches!(response, Response::Plugins(ref p) if p.len() == 1),
                "{response:?}"
            ),
            _ => assert!(
                matches!(response, Response::Error(ref e) if e.code == "no_attester"),
                "{response:?}"
            ),
        }
    }
    let mut other = UnixStream::connect(&s.path).await.unwrap();
    let (id, response) = super::call(&mut other, 9, &Request::Health).await;
    assert_eq!(id, 9);
    assert!(matches!(response, Response::Health(_)), "{response:?}");
    // The long calls still end with their own outcome, the queued one too.
    let mut ended = Vec::new();
    for _ in 0..calls {
        let (id, response) = answer(&mut read).await;
        assert!(
            matches!(response, Response::Error(ref e) if e.code == "deadline_exceeded"),
            "{response:?}"
        );
        ended.push(id);
    }
    ended.sort_unstable();
    assert_eq!(ended, (1..=calls).collect::<Vec<_>>());
    let _ = s.stop.take().map(|stop| stop.send(()));
}

/// Lanes grow with concurrent calls, never past slots + connections + 1,
/// and end once idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_stay_bounded_and_idle_lanes_retire() {
    let s = spinning(
        300,
        ServerConfig {
            max_connections: 1,
            lane_idle_timeout: Duration::from_millis(200),
            ..config()
        },
    );
    let bound = usize::try_from(SLOTS).unwrap() + 1 + 1;
    let (read, mut write) = UnixStream::connect(&s.path).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    let calls: Vec<_> = (1..=8).map(|id| (id, spin(s.hostile))).collect();
    write.write_all(&frames(&calls)).await.unwrap();
    let count = calls.len();
    let mut answers = tokio::spawn(async move {
        for _ in 0..count {
            answer(&mut read).await;
        }
        read
    });
    let mut peak = 0;
    let mut read = loop {
        peak = peak.max(s.server.lanes());
        tokio::select! {
            read = &mut answers => break read.unwrap(),
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    };
    assert!(peak > 1, "concurrent calls ran on several lanes: {peak}");
    assert!(peak <= bound, "{peak} lanes, bound {bound}");
    // Idle lanes end; the connection's leader stays.
    let retired = tokio::time::timeout(Duration::from_secs(30), async {
        while s.server.lanes() > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(retired.is_ok(), "{} lanes still running", s.server.lanes());
    assert_eq!(s.server.lanes(), 1);
    // The connection is still served.
    let (id, response) = {
        write
            .write_all(&frames(&[(50, Request::Health)]))
            .await
            .unwrap();
        answer(&mut read).await
    };
    assert_eq!(id, 50);
    assert!(matches!(response, Response::Health(_)), "{response:?}");
}

/// Loads beyond `max_loads` are refused at once (their bytes are not kept);
/// the loads admitted complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_beyond_the_bound_are_refused_with_overloaded() {
    let s = spinning(
        1_000,
        ServerConfig {
            max_loads: 1,
            frame_limits: FrameLimits::default(),
            ..config()
        },
    );
    // Nothing compiles until the test lets it: the first load stays queued.
    let mut held = Vec::new();
    while s.server.runtime.compile_permits_available() > 0 {
        held.push(s.server.runtime.compile_permit().await.unwrap());
    }
    let (read, mut write) = UnixStream::connect(&s.path).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    let load = |name: &str| Request::Load {
        name: name.into(),
        component: plugin_bytes(name),
        limits: None,
        signed: None,
    };
    let requests = [(1, load("echo")), (2, load("payout"))];
    let bytes: Vec<u8> = requests
        .iter()
        .flat_map(|(id, r)| codec::encode(*id, r, FrameLimits::default()).unwrap())
        .collect();
    write.write_all(&bytes).await.unwrap();
    let body = read_frame(&mut read, FrameLimits::default(), None)
        .await
        .unwrap()
        .unwrap();
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    assert_eq!(header.request_id, 2);
    assert!(
        matches!(response, Response::Error(ref e) if e.code == "overloaded"),
        "{response:?}"
    );
    drop(held);
    let body = read_frame(&mut read, FrameLimits::default(), None)
        .await
        .unwrap()
        .unwrap();
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    assert_eq!(header.request_id, 1);
    assert!(matches!(response, Response::Loaded(_)), "{response:?}");
}

/// With the server-wide in-flight bound taken by one connection's call,
/// another connection is not read until that call is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_bound_holds_across_connections() {
    let s = spinning(
        1_500,
        ServerConfig {
            max_in_flight_total: 1,
            ..config()
        },
    );
    let (read, mut write) = UnixStream::connect(&s.path).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(&frames(&[(1, spin(s.hostile)), (2, Request::Health)]))
        .await
        .unwrap();
    // Only once the long call holds the one in-flight permit does the other
    // connection write (else its request could take the permit first).
    tokio::time::timeout(Duration::from_mins(1), async {
        while s.server.in_flight.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the long call takes the permit");
    let mut other = UnixStream::connect(&s.path).await.unwrap();
    other
        .write_all(&frames(&[(3, Request::Health)]))
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), super::next(&mut other)).await;
    assert!(waited.is_err(), "read beyond the bound: {waited:?}");
    let (id, response) = answer(&mut read).await;
    assert_eq!(id, 1, "{response:?}");
    let (id, response) = tokio::time::timeout(Duration::from_mins(1), super::next(&mut other))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, 3);
    assert!(matches!(response, Response::Health(_)), "{response:?}");
}
