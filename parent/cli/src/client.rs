//! HTTP/1.1 client for the parent's operator API, over a Unix socket or
//! loopback TCP (hyper's connection-level client: one connection per call).

use std::fmt;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};

use enclet_parent::OperatorAddr;

/// Largest response body the CLI accepts (plugin outputs are far smaller).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A failed operator API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The parent could not be reached or the exchange broke.
    Transport(String),
    /// The parent answered with an error.
    Api {
        /// HTTP status.
        status: StatusCode,
        /// Stable code.
        code: String,
        /// Reason.
        message: String,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(reason) => write!(f, "cannot reach the parent: {reason}"),
            Self::Api { code, message, .. } => write!(f, "{code}: {message}"),
        }
    }
}

#[derive(Deserialize)]
struct ErrorJson {
    code: String,
    message: String,
}

/// A client for the operator API at one address.
#[derive(Debug, Clone)]
pub struct ParentClient {
    addr: OperatorAddr,
}

impl ParentClient {
    /// A client for `addr`.
    #[must_use]
    pub fn new(addr: OperatorAddr) -> Self {
        Self { addr }
    }

    /// Sends one request; returns the body of a 2xx answer.
    ///
    /// # Errors
    /// [`CallError::Transport`] when the parent cannot be reached;
    /// [`CallError::Api`] with the parent's code for any other status.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Bytes, CallError> {
        self.call_with_headers(method, path, &[], body).await
    }

    /// Like [`call`](Self::call), with extra request headers.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Bytes, CallError> {
        let transport = |e: &dyn fmt::Display| CallError::Transport(format!("{}: {e}", self.addr));
        let (status, bytes) = match &self.addr {
            OperatorAddr::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(|e| transport(&e))?;
                exchange(s, method, path, headers, body).await
            }
            OperatorAddr::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a)
                    .await
                    .map_err(|e| transport(&e))?;
                exchange(s, method, path, headers, body).await
            }
        }
        .map_err(|e| transport(&e))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let (code, message) = match serde_json::from_slice::<ErrorJson>(&bytes) {
            Ok(e) => (e.code, e.message),
            Err(_) => (
                "http_error".to_owned(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ),
        };
        Err(CallError::Api {
            status,
            code,
            message,
        })
    }

    /// Calls and parses a JSON answer.
    ///
    /// # Errors
    /// As [`call`](Self::call), plus a transport error for an unparsable answer.
    pub async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, CallError> {
        let bytes = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError::Transport(format!("unexpected answer from {path}: {e}")))
    }
}

async fn exchange<S>(
    stream: S,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<(StatusCode, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "enclet-parent")
        .header(header::CONTENT_TYPE, "application/octet-stream");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    driver.abort();
    Ok((status, bytes))
}
