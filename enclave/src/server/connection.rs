//! One connection's async shell: sets the connection up, waits for its lanes
//! (see `lanes.rs`) to stop reading and for every accepted request to be
//! answered, then closes it cleanly.

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use enclet_protocol::RawSocket;
use enclet_protocol::socket::{self, FrameWriter};
use tokio::sync::Semaphore;

use super::Server;
use super::lanes::{self, Conn};
use super::watch::Watcher;

/// Upper bound on [`ServerConfig::max_in_flight`](super::ServerConfig::max_in_flight).
pub(super) const MAX_IN_FLIGHT: usize = 65_536;

/// Serves one connection until the peer closes it, it sends a bad frame, or
/// the server shuts down (`stop` becomes readable). Requests already accepted
/// are always answered before the connection closes.
///
/// Each request holds one in-flight permit from when it is read until its
/// response has been written to the socket, so a peer that stops reading
/// stops being read from.
pub(super) async fn run<S: RawSocket>(
    server: Arc<Server>,
    stream: S,
    peer: String,
    (stop, watcher): (Arc<UnixStream>, Arc<Watcher>),
) {
    let (reader, writer) = match socket::split_blocking(stream) {
        Ok(halves) => halves,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "cannot serve connection");
            return;
        }
    };
    let permits = u32::try_from(server.config.max_in_flight.clamp(1, MAX_IN_FLIGHT)).unwrap_or(1);
    let in_flight = Arc::new(Semaphore::new(permits as usize));
    let conn = Arc::new(Conn::new(
        server,
        (reader, writer.clone()),
        peer.clone(),
        Arc::clone(&in_flight),
        (stop, watcher),
    ));
    let mut stop_lanes = StopLanes {
        conn: Arc::clone(&conn),
        writer: writer.clone(),
        finished: false,
    };
    lanes::start(&conn);
    // Every lane has stopped reading once this returns.
    conn.ended().await;
    conn.unwatch();
    // Answer everything already accepted first, so the peer never sees the
    // connection error ahead of a response it is owed.
    let _all = in_flight.acquire_many(permits).await;
    if let Some(frame) = conn.closing_frame() {
        let _ = writer.send(frame, None);
    }
    if let Err(e) = writer.finish().await {
        tracing::debug!(%peer, error = %e, "connection write failed");
    }
    stop_lanes.finished = true;
}

/// Ends the lanes' business with this connection when its task ends, also
/// when the task is dropped (shutdown grace over): a leader parked waiting for
/// an in-flight permit gives up and ends, the watcher forgets the
/// socket and, unless the connection was closed cleanly, answers not yet
/// written are dropped and the peer sees the end of the stream.
pub(super) struct StopLanes {
    pub(super) conn: Arc<Conn>,
    pub(super) writer: FrameWriter,
    pub(super) finished: bool,
}

impl Drop for StopLanes {
    fn drop(&mut self) {
        self.conn.cancel();
        self.conn.unwatch();
        if !self.finished {
            self.writer.abort();
        }
    }
}
