//! The connection layer: TLS over TCP, HTTP/1.1, and the limits that keep
//! one client from stalling others.
//!
//! * At most `max_connections` connections are served at once (a semaphore
//!   taken before `accept`; more wait in the kernel's listen queue).
//! * Each connection is its own task: a slow or broken client only holds its
//!   own permit. The TLS handshake must finish within
//!   `tls_handshake_timeout_ms`, each request's headers within
//!   `header_read_timeout_ms` (this also closes idle keep-alive
//!   connections), and each request (body included) within
//!   `request_timeout_ms`, else 408 `request_timeout`. Work already handed
//!   to the blocking pool still finishes (a store commit is never torn), so
//!   a timed-out evidence request may have consumed its nonce and written
//!   its audit entries; the parent fetches a new nonce and submits again.
//! * The client's [`Peer`] identity (certificate or address) is put in every
//!   request's extensions.
//! * Shutdown: stop accepting, let connections finish their current request
//!   (graceful HTTP shutdown), wait at most `drain` for them.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse as _, Response};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use super::{ApiError, Peer};
use crate::config::Config;
use crate::tls::peer::peer_identity;

/// The connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Longest TLS handshake.
    pub handshake_timeout: Duration,
    /// Longest wait for a request's headers (and idle keep-alive time).
    pub header_read_timeout: Duration,
    /// Longest request, body included.
    pub request_timeout: Duration,
    /// Most connections at once.
    pub max_connections: usize,
    /// Longest wait for open connections at shutdown.
    pub drain: Duration,
}

impl ServeOptions {
    /// The limits `config` sets (drain: 10 s).
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self {
            handshake_timeout: Duration::from_millis(config.tls_handshake_timeout_ms),
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            max_connections: config.max_connections,
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves, then
/// drains open connections (at most `options.drain`).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = Connection {
            acceptor: acceptor.clone(),
            router: router.clone(),
            options,
            stop: stop_rx.clone(),
        };
        tokio::spawn(async move {
            conn.run(tcp, remote).await;
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    let all = u32::try_from(options.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(options.drain, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
}

struct Connection {
    acceptor: TlsAcceptor,
    router: Router,
    options: ServeOptions,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, tcp: TcpStream, remote: SocketAddr) {
        let _ = tcp.set_nodelay(true);
        let handshake =
            tokio::time::timeout(self.options.handshake_timeout, self.acceptor.accept(tcp));
        let tls = tokio::select! {
            r = handshake => match r {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            },
            () = stopped(&mut self.stop) => return,
        };
        let peer = Peer(peer_identity(tls.get_ref().1.peer_certificates(), remote));
        let service = RequestService {
            inner: TowerToHyperService::new(self.router),
            peer,
            timeout: self.options.request_timeout,
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.options.header_read_timeout)
            .max_buf_size(64 * 1024);
        let conn = builder.serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
            }
            () = stopped(&mut self.stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}

/// Resolves once shutdown was signalled (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// The router with the peer identity attached and a per-request deadline.
#[derive(Clone)]
struct RequestService {
    inner: TowerToHyperService<Router>,
    peer: Peer,
    timeout: Duration,
}

impl Service<hyper::Request<Incoming>> for RequestService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(self.peer.clone());
        let answer = self.inner.call(req);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(answer) => answer,
                Err(_) => Ok(ApiError::new(
                    "request_timeout",
                    format!("the request took longer than {} ms", timeout.as_millis()),
                )
                .into_response()),
            }
        })
    }
}
