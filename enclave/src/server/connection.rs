//! One connection: a reader loop that starts each request; requests answer
//! through the connection's [`FrameWriter`] from wherever they finish.

use std::sync::Arc;

use enclet_protocol::socket::{self, FrameWriter};
use enclet_protocol::{
    CONNECTION_ID, ErrorBody, FrameLimits, ProtocolError, RawSocket, Request, Response, codec,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::{Server, handler};

/// Upper bound on [`ServerConfig::max_in_flight`](super::ServerConfig::max_in_flight).
pub(super) const MAX_IN_FLIGHT: usize = 65_536;

/// Serves one connection until the peer closes it, it sends a bad frame, or
/// the server shuts down. Requests already accepted are always answered.
///
/// Each request holds one in-flight permit from when it is read until its
/// response has been written to the socket, so a peer that stops reading
/// stops being read from.
pub(super) async fn run<S: RawSocket>(
    server: Arc<Server>,
    stream: S,
    peer: String,
    mut stop: watch::Receiver<bool>,
) {
    let (mut reader, writer) = match socket::split(stream) {
        Ok(halves) => halves,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "cannot serve connection");
            return;
        }
    };
    let permits = u32::try_from(server.config.max_in_flight.clamp(1, MAX_IN_FLIGHT)).unwrap_or(1);
    let in_flight = Arc::new(Semaphore::new(permits as usize));
    let limits = server.config.frame_limits;
    let body_timeout = Some(server.config.body_timeout);
    let mut closing = None;

    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            frame = reader.read(limits, body_timeout) => frame,
        };
        let body = match frame {
            Ok(Some(body)) => body,
            Ok(None) => {
                tracing::debug!(%peer, "peer closed the connection");
                break;
            }
            Err(e) => {
                closing = Some(reject(&peer, &e));
                break;
            }
        };
        let (header, request) = match codec::decode::<Request>(&body) {
            Ok(decoded) => decoded,
            Err(e) => {
                closing = Some(reject(&peer, &e));
                break;
            }
        };
        drop(body);
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        dispatch(&server, header.request_id, request, &writer, permit);
    }
    // Answer everything already accepted first, so the peer never sees the
    // connection error ahead of a response it is owed.
    let _all = in_flight.acquire_many(permits).await;
    if let Some(frame) = closing {
        let _ = writer.send(frame, None);
    }
    if let Err(e) = writer.finish().await {
        tracing::debug!(%peer, error = %e, "connection write failed");
    }
}

/// Starts one request. An invocation runs on a blocking thread and answers
/// from there; anything else runs as a task on the executor.
fn dispatch(
    server: &Arc<Server>,
    id: u64,
    request: Request,
    writer: &FrameWriter,
    permit: OwnedSemaphorePermit,
) {
    let limits = server.config.frame_limits;
    let writer = writer.clone();
    let answer = move |response: Response| {
        // The peer may be gone; nothing to report to, and the permit is
        // released either way.
        let _ = writer.send(encode_response(id, &response, limits), Some(permit));
    };
    if let Request::Invoke { plugin, input } = request {
        server.runtime.invoke_then(&plugin, input, move |result| {
            answer(handler::invoked(result));
        });
        return;
    }
    let server = Arc::clone(server);
    tokio::spawn(async move { answer(handler::handle(&server, request).await) });
}

/// Logs why the connection is being closed; returns the connection-level
/// error frame to send once in-flight requests are answered.
fn reject(peer: &str, error: &ProtocolError) -> Vec<u8> {
    if matches!(error, ProtocolError::Io(_)) {
        tracing::debug!(%peer, %error, "connection read failed");
    } else {
        tracing::warn!(%peer, code = error.code(), reason = %error, "closing connection: {error}");
    }
    let body = Response::Error(ErrorBody::new(error.code(), error.to_string()));
    codec::encode(CONNECTION_ID, &body, FrameLimits::default()).unwrap_or_default()
}

/// Encodes a response; a response too large for a frame becomes an error.
fn encode_response(id: u64, response: &Response, limits: FrameLimits) -> Vec<u8> {
    codec::encode(id, response, limits).unwrap_or_else(|e| {
        tracing::warn!(request_id = id, error = %e, "response does not fit a frame");
        let error = Response::Error(ErrorBody::new("response_too_large", e.to_string()));
        codec::encode(id, &error, limits).unwrap_or_default()
    })
}
