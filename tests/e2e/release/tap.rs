//! A recording tap between the parent and the enclave.
//!
//! The parent's `--enclave unix:TAP` socket is served here: every accepted
//! connection is forwarded to the enclave's real socket, and every byte that
//! passes, in either direction, is appended to that connection's recording
//! before it is forwarded. The recordings are exactly what an untrusted
//! parent sends and receives on the enclave link.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use enclet_protocol::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// The bytes of one tapped connection.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Parent → enclave.
    pub to_enclave: Vec<u8>,
    /// Enclave → parent.
    pub from_enclave: Vec<u8>,
}

type Recordings = Arc<Mutex<Vec<Recorded>>>;

pub struct Tap {
    pub path: PathBuf,
    recordings: Recordings,
    accept: JoinHandle<()>,
}

impl Tap {
    /// Listens on `path` and forwards to the enclave at `enclave` (on the
    /// current Tokio runtime).
    pub fn start(path: &Path, enclave: &Path) -> Self {
        let listener = UnixListener::bind(path).unwrap();
        let recordings = Recordings::default();
        let accept = tokio::spawn(accept(listener, enclave.to_path_buf(), recordings.clone()));
        Self {
            path: path.to_path_buf(),
            recordings,
            accept,
        }
    }

    /// Every connection's recording so far.
    pub fn recordings(&self) -> Vec<Recorded> {
        self.recordings.lock().unwrap().clone()
    }

    /// The requests the parent sent, decoded from the recorded frames.
    pub fn requests(&self) -> Vec<Request> {
        self.recordings()
            .iter()
            .flat_map(|r| frames::<Request>(&r.to_enclave))
            .collect()
    }

    /// The responses the enclave sent, decoded from the recorded frames.
    pub fn responses(&self) -> Vec<Response> {
        self.recordings()
            .iter()
            .flat_map(|r| frames::<Response>(&r.from_enclave))
            .collect()
    }

    /// The sealed bundles the parent delivered (`Request::Release`), in order.
    pub fn bundles(&self) -> Vec<Vec<u8>> {
        self.requests()
            .into_iter()
            .filter_map(|r| match r {
                Request::Release { bundle, .. } => Some(bundle),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept(listener: UnixListener, enclave: PathBuf, recordings: Recordings) {
    while let Ok((parent, _)) = listener.accept().await {
        let Ok(upstream) = UnixStream::connect(&enclave).await else {
            // As if the enclave were down: the parent's connection closes.
            continue;
        };
        let index = {
            let mut all = recordings.lock().unwrap();
            all.push(Recorded::default());
            all.len() - 1
        };
        let (parent_read, parent_write) = parent.into_split();
        let (enclave_read, enclave_write) = upstream.into_split();
        tokio::spawn(pump(
            parent_read,
            enclave_write,
            recordings.clone(),
            index,
            true,
        ));
        tokio::spawn(pump(
            enclave_read,
            parent_write,
            recordings.clone(),
            index,
            false,
        ));
    }
}

/// Copies `from` to `to`, recording each chunk first; on end of stream,
/// shuts `to` down so the other side sees it too.
async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    recordings: Recordings,
    index: usize,
    to_enclave: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut all = recordings.lock().unwrap();
            let record = &mut all[index];
            let stream = if to_enclave {
                &mut record.to_enclave
            } else {
                &mut record.from_enclave
            };
            stream.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Decodes the complete frames of one direction of a connection
/// (`length:u32-be body`); a frame still in flight at the end is left out.
fn frames<M: serde::de::DeserializeOwned>(mut stream: &[u8]) -> Vec<M> {
    let mut out = Vec::new();
    while stream.len() >= 4 {
        let len = u32::from_be_bytes(stream[..4].try_into().unwrap()) as usize;
        let Some(body) = stream.get(4..4 + len) else {
            break;
        };
        let (_, message) = enclet_protocol::decode::<M>(body)
            .unwrap_or_else(|e| panic!("a recorded frame does not decode: {e}"));
        out.push(message);
        stream = &stream[4 + len..];
    }
    out
}
