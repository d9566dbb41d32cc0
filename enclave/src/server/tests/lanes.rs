//! Lane bookkeeping under the races the watcher and task cancellation allow.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use enclet_protocol::{Request, codec};
use tokio::sync::Semaphore;

use super::super::connection::StopLanes;
use super::super::lanes::{Conn, start};
use super::super::watch::{Rescue as _, WatcherHandle};
use super::super::{Server, ServerConfig};
use super::LIMITS;
use crate::runtime::{Runtime, RuntimeConfig};

/// A connection over one end of a socket pair; the other end is the peer.
fn conn(
    watcher: &WatcherHandle,
    in_flight: &Arc<Semaphore>,
) -> (Arc<Conn>, UnixStream, UnixStream) {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let server = Arc::new(Server::new(runtime, None, ServerConfig::default()).unwrap());
    let (ours, peer) = UnixStream::pair().unwrap();
    let (trigger, stop) = UnixStream::pair().unwrap();
    let halves = enclet_protocol::socket::split_blocking(ours).unwrap();
    let conn = Arc::new(Conn::new(
        server,
        halves,
        "test".into(),
        Arc::clone(in_flight),
        (Arc::new(stop), Arc::clone(&watcher.watcher)),
    ));
    (conn, peer, trigger)
}

/// The watcher may report a hung-up peer before `start` has run; the first
/// lane must still be the only one, and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescue_before_start_adds_no_lane() {
    let watcher = WatcherHandle::start().unwrap();
    let in_flight = Arc::new(Semaphore::new(4));
    let (conn, _peer, _trigger) = conn(&watcher, &in_flight);
    Arc::clone(&conn).rescue();
    start(&conn);
    std::thread::sleep(Duration::from_millis(300));
    let threads = Arc::strong_count(&conn) - 1;
    assert_eq!(conn.lanes_counted(), (threads, true));
    assert_eq!(threads, 1);
}

/// A leader parked for an in-flight permit (its peer does not read answers)
/// ends when the connection's task is dropped, and the peer sees the end of
/// the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_leader_ends_when_the_connection_task_is_dropped() {
    let watcher = WatcherHandle::start().unwrap();
    let in_flight = Arc::new(Semaphore::new(1));
    let taken = Arc::clone(&in_flight).try_acquire_owned().unwrap();
    let (conn, mut peer, _trigger) = conn(&watcher, &in_flight);
    let guard = StopLanes {
        conn: Arc::clone(&conn),
        writer: conn.writer_for_tests(),
        finished: false,
    };
    start(&conn);
    peer.write_all(&codec::encode(1, &Request::Health, LIMITS).unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(conn.lanes_counted().0, 1, "the leader is parked, not gone");
    drop(guard);
    tokio::time::timeout(Duration::from_secs(10), conn.ended())
        .await
        .expect("lanes end once the connection task is gone");
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest)
        .expect("end of stream, not a timeout");
    drop(taken);
}
