//! One connection: a reader loop, request tasks and a writer task.

use std::sync::Arc;

use enclet_protocol::{
    CONNECTION_ID, ErrorBody, FrameLimits, ProtocolError, Request, Response, codec, read_frame,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{Semaphore, mpsc, watch};

use super::{Server, handler};

/// Upper bound on [`ServerConfig::max_in_flight`](super::ServerConfig::max_in_flight).
pub(super) const MAX_IN_FLIGHT: usize = 65_536;

/// Serves one connection until the peer closes it, it sends a bad frame, or
/// the server shuts down. Requests already accepted are always answered.
pub(super) async fn run<S>(
    server: Arc<Server>,
    stream: S,
    peer: String,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(server.config.max_in_flight.max(1));
    let writer_task = tokio::spawn(write_loop(BufWriter::new(writer), rx, peer.clone()));
    let permits = u32::try_from(server.config.max_in_flight.clamp(1, MAX_IN_FLIGHT)).unwrap_or(1);
    let in_flight = Arc::new(Semaphore::new(permits as usize));
    let limits = server.config.frame_limits;
    let body_timeout = Some(server.config.body_timeout);
    let mut closing = None;

    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            frame = read_frame(&mut reader, limits, body_timeout) => frame,
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
        let server = Arc::clone(&server);
        let tx = tx.clone();
        tokio::spawn(async move {
            let response = handler::handle(&server, request).await;
            let frame = encode_response(header.request_id, &response, &server);
            // The writer is gone only if the peer vanished; nothing to report to.
            let _ = tx.send(frame).await;
            drop(permit);
        });
    }
    if let Some(frame) = closing {
        // Answer everything already accepted first, so the peer never sees the
        // connection error ahead of a response it is owed.
        let _all = in_flight.acquire_many(permits).await;
        let _ = tx.send(frame).await;
    }
    // Dropping our sender lets the writer finish once every request task has
    // sent its response.
    drop(tx);
    if let Err(e) = writer_task.await {
        tracing::warn!(%peer, error = %e, "connection writer failed");
    }
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
fn encode_response(id: u64, response: &Response, server: &Server) -> Vec<u8> {
    let limits = server.config.frame_limits;
    codec::encode(id, response, limits).unwrap_or_else(|e| {
        tracing::warn!(request_id = id, error = %e, "response does not fit a frame");
        let error = Response::Error(ErrorBody::new("response_too_large", e.to_string()));
        codec::encode(id, &error, limits).unwrap_or_default()
    })
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: BufWriter<W>,
    mut rx: mpsc::Receiver<Vec<u8>>,
    peer: String,
) {
    while let Some(frame) = rx.recv().await {
        if let Err(e) = write_batch(&mut writer, &mut rx, frame).await {
            tracing::debug!(%peer, error = %e, "connection write failed");
            // Keep draining so request tasks never block on a dead peer.
            while rx.recv().await.is_some() {}
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// Writes `first` and whatever else is already queued, then flushes once.
async fn write_batch<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    rx: &mut mpsc::Receiver<Vec<u8>>,
    first: Vec<u8>,
) -> std::io::Result<()> {
    writer.write_all(&first).await?;
    while let Ok(frame) = rx.try_recv() {
        writer.write_all(&frame).await?;
    }
    writer.flush().await
}
