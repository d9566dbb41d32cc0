//! An HTTPS client for the control plane that trusts exactly one pinned CA.
//!
//! Used by the parent's relay and the `enclet` CLI. TLS is rustls with the
//! aws-lc-rs provider; the only trust anchor is the CA the operator pinned
//! (`--control-plane-ca`), never the system's roots, so a control plane whose
//! certificate does not chain to it is refused during the handshake. A client
//! certificate may be presented for mutual TLS.
//!
//! Connections are HTTP/1.1 and kept alive in a small pool, so concurrent calls
//! each reuse an idle connection instead of paying a handshake.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_rustls::TlsConnector;

use crate::ErrorBody;

/// Largest answer body accepted.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Idle connections kept.
const POOL: usize = 32;

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client could not be configured (URL, CA or client identity files).
    #[error("control plane client configuration: {0}")]
    Config(String),
    /// The control plane could not be reached, the TLS handshake failed (for
    /// example its certificate does not chain to the pinned CA) or the
    /// exchange broke.
    #[error("cannot reach the control plane at {url}: {reason}")]
    Transport {
        /// The base URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The control plane answered with an error.
    #[error("control plane refused ({status}): {code}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// Stable code.
        code: String,
        /// Reason.
        message: String,
    },
}

impl ClientError {
    /// The control plane's code for [`ClientError::Api`], else `"transport"`
    /// or `"client_config"`.
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::Config(_) => "client_config",
            Self::Transport { .. } => "transport",
            Self::Api { code, .. } => code,
        }
    }
}

/// Client certificate chain and key (PEM) for mutual TLS.
#[derive(Clone)]
pub struct ClientIdentity {
    /// PEM certificate chain, leaf first.
    pub cert_pem: Vec<u8>,
    /// PEM private key.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientIdentity(<redacted>)")
    }
}

/// A client for one control plane.
#[derive(Clone)]
pub struct ControlPlaneClient {
    url: String,
    authority: String,
    addr: String,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    idle: Arc<Mutex<Vec<SendRequest<Full<Bytes>>>>>,
    timeout: Duration,
}

impl std::fmt::Debug for ControlPlaneClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlaneClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ControlPlaneClient {
    /// A client for `url` (`https://HOST:PORT`) that trusts only the CA
    /// certificates in `ca_pem`.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a URL that is not `https://HOST:PORT`, a CA
    /// file without certificates, or an unusable client identity.
    pub fn new(
        url: &str,
        ca_pem: &[u8],
        identity: Option<&ClientIdentity>,
    ) -> Result<Self, ClientError> {
        let (host, port) = parse_url(url)?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(ca_pem, "CA")? {
            roots
                .add(cert)
                .map_err(|e| ClientError::Config(format!("CA certificate: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Config(format!("TLS versions: {e}")))?
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some(id) => {
                let chain = read_certs(&id.cert_pem, "client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(&id.key_pem)
                    .map_err(|e| ClientError::Config(format!("client key: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| ClientError::Config(format!("client identity: {e}")))?
            }
        };
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| ClientError::Config(format!("server name {host:?}: {e}")))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            authority: format!("{host}:{port}"),
            addr: format!(
                "{}:{port}",
                host.trim_start_matches('[').trim_end_matches(']')
            ),
            server_name,
            connector: TlsConnector::from(Arc::new(config)),
            idle: Arc::new(Mutex::new(Vec::new())),
            timeout: Duration::from_secs(30),
        })
    }

    /// Sets the per-call timeout (connect, handshake and exchange; default 30 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `body` (JSON) and parses a JSON answer.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn call_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
        bearer: Option<&str>,
    ) -> Result<Resp, ClientError> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b)
                .map_err(|e| ClientError::Config(format!("encoding the request: {e}")))?,
            None => Vec::new(),
        };
        let answer = self.call(method, path, bytes, bearer).await?;
        serde_json::from_slice(&answer)
            .map_err(|e| self.transport(&format!("answer to {path}: {e}")))
    }

    /// Sends raw bytes; returns the body of a 2xx answer.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        bearer: Option<&str>,
    ) -> Result<Bytes, ClientError> {
        tokio::time::timeout(self.timeout, self.exchange(method, path, body, bearer))
            .await
            .map_err(|_| self.transport(&format!("no answer within {:?}", self.timeout)))?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        bearer: Option<&str>,
    ) -> Result<Bytes, ClientError> {
        let mut sender = self.connection().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Config(format!("request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.transport(&e))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| self.transport(&format!("reading the answer: {e}")))?
            .to_bytes();
        self.park(sender);
        if status.is_success() {
            return Ok(bytes);
        }
        Err(api_error(status, &bytes))
    }

    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        while let Some(mut s) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            if s.ready().await.is_ok() {
                return Ok(s);
            }
        }
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|e| self.transport(&e))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| self.transport(&format!("TLS: {e}")))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.transport(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn park(&self, sender: SendRequest<Full<Bytes>>) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL
        {
            idle.push(sender);
        }
    }

    fn transport(&self, reason: &dyn std::fmt::Display) -> ClientError {
        ClientError::Transport {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }
}

fn api_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.code,
            message: e.message,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "http_error".to_owned(),
            message: String::from_utf8_lossy(bytes.get(..256).unwrap_or(bytes)).into_owned(),
        },
    }
}

/// `https://HOST:PORT[/]` → (host, port). Hosts may be names, IPv4 or `[IPv6]`.
fn parse_url(url: &str) -> Result<(String, u16), ClientError> {
    let bad = |why: &str| ClientError::Config(format!("control plane URL {url:?}: {why}"));
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad("must start with https://"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('@') {
        return Err(bad("must be https://HOST:PORT, without a path or user"));
    }
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("needs a :PORT"))?;
    let port = port.parse().map_err(|_| bad("the port is not 1..=65535"))?;
    if host.is_empty() || port == 0 {
        return Err(bad("needs a host and a port"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
    ))
}

fn read_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Config(format!("{what} PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!(
            "{what} PEM holds no certificate"
        )));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls_must_be_https_host_port() {
        assert_eq!(
            parse_url("https://127.0.0.1:7443").unwrap(),
            ("127.0.0.1".to_owned(), 7443)
        );
        assert_eq!(
            parse_url("https://localhost:1/").unwrap(),
            ("localhost".to_owned(), 1)
        );
        assert_eq!(parse_url("https://[::1]:9").unwrap(), ("::1".to_owned(), 9));
        for bad in [
            "http://127.0.0.1:7443",
            "https://127.0.0.1",
            "https://127.0.0.1:0",
            "https://127.0.0.1:70000",
            "https://127.0.0.1:7443/v1",
            "https://u@h:1",
            "https://:1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
