//! Where a request runs once it has been read and admitted.
//!
//! * An invocation that gets an invocation slot at once runs on the lane that
//!   read it (the short path: no hand-off between socket, plugin and answer).
//! * An invocation of a plugin over its CPU quota (see the runtime) waits for
//!   it in an async task, then as below; with too many of the plugin's
//!   calls waiting already it is answered `throttled` at once.
//! * An invocation that finds every slot taken waits for one in an async task
//!   (first come, first served) and then runs on a lane of the pool; the lane
//!   that read it goes on reading. So no lane ever waits for a slot, and
//!   control requests are read while every slot runs a long call.
//! * A load takes one of the server's load places or is refused at once with
//!   `overloaded`: queued loads hold up to a frame of bytes each, so their
//!   number is bounded across connections.
//! * Everything else is an async task.
//!
//! An answer holds its connection's in-flight permit until written; the
//! server-wide permit ([`Admitted::total`]) is returned once the answer has
//! been handed to the writer.

use std::sync::Arc;

use enclet_attestation::Measurement;
use enclet_protocol::Request;
use enclet_protocol::socket::FrameWriter;
use tokio::runtime::Handle;
use tokio::sync::OwnedSemaphorePermit;

use super::answer::{encode_response, error_frame};
use super::{Server, handler};

/// A request read and admitted.
pub(super) struct Admitted {
    pub(super) id: u64,
    pub(super) request: Request,
    /// The connection's in-flight permit: held until the answer is written.
    pub(super) permit: OwnedSemaphorePermit,
    /// The server-wide in-flight permit: held until the answer is sent.
    pub(super) total: OwnedSemaphorePermit,
}

/// An invocation holding an invocation slot, ready to run.
pub(super) struct Invocation {
    id: u64,
    plugin: Measurement,
    input: Vec<u8>,
    slot: OwnedSemaphorePermit,
    permit: OwnedSemaphorePermit,
    total: OwnedSemaphorePermit,
}

impl Invocation {
    /// Runs the plugin on this thread and sends the answer.
    pub(super) fn run(self, server: &Server, writer: &FrameWriter) {
        let Self {
            id,
            plugin,
            input,
            slot,
            permit,
            total,
        } = self;
        // Answered before the call's store is torn down (see the runtime).
        server
            .runtime
            .invoke_blocking_then(&plugin, &input, |result| {
                let frame =
                    encode_response(id, &handler::invoked(result), server.config.frame_limits);
                // The peer may be gone; nothing to report to.
                let _ = writer.send(frame, Some(permit));
                drop(total);
            });
        drop(slot);
    }
}

/// Starts serving `admitted`. Returns the invocation to run on this lane if
/// it got a slot at once; everything else is under way elsewhere.
pub(super) fn route(
    server: &Arc<Server>,
    writer: &FrameWriter,
    runtime: &Handle,
    admitted: Admitted,
) -> Option<Invocation> {
    let Admitted {
        id,
        request,
        permit,
        total,
    } = admitted;
    match request {
        Request::Invoke { plugin, input } => {
            let throttle = match server.runtime.admit(&plugin) {
                Ok(throttle) => throttle,
                Err(e) => {
                    let frame =
                        encode_response(id, &handler::invoked(Err(e)), server.config.frame_limits);
                    let _ = writer.send(frame, Some(permit));
                    return None;
                }
            };
            if throttle.is_none()
                && let Ok(slot) = Arc::clone(&server.slots).try_acquire_owned()
            {
                return Some(Invocation {
                    id,
                    plugin,
                    input,
                    slot,
                    permit,
                    total,
                });
            }
            let (server, writer) = (Arc::clone(server), writer.clone());
            runtime.spawn(async move {
                if let Some(throttle) = throttle {
                    throttle.let_in().await;
                }
                // The slots are never closed.
                let Ok(slot) = Arc::clone(&server.slots).acquire_owned().await else {
                    return;
                };
                let invocation = Invocation {
                    id,
                    plugin,
                    input,
                    slot,
                    permit,
                    total,
                };
                let pool = Arc::clone(&server.pool);
                pool.submit(Box::new(move || invocation.run(&server, &writer)));
            });
        }
        Request::Load { .. } => {
            let limits = server.config.frame_limits;
            let Ok(place) = Arc::clone(&server.loads).try_acquire_owned() else {
                let message = format!(
                    "{} loads already in progress; try again later",
                    server.config.max_loads
                );
                let frame = error_frame(id, "overloaded", &message, limits);
                let _ = writer.send(frame, Some(permit));
                return None;
            };
            let (server, writer) = (Arc::clone(server), writer.clone());
            runtime.spawn(async move {
                let response = handler::handle(&server, request).await;
                drop(place);
                let _ = writer.send(encode_response(id, &response, limits), Some(permit));
                drop(total);
            });
        }
        request => {
            let (server, writer) = (Arc::clone(server), writer.clone());
            runtime.spawn(async move {
                let response = handler::handle(&server, request).await;
                let limits = server.config.frame_limits;
                let _ = writer.send(encode_response(id, &response, limits), Some(permit));
                drop(total);
            });
        }
    }
    None
}
