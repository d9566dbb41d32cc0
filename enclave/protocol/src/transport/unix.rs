//! Unix domain socket transport.

use std::io;
use std::path::PathBuf;

use std::os::unix::net::UnixStream;

use tokio::net::UnixListener;

use super::Transport;

/// A Unix domain socket at a filesystem path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixTransport {
    path: PathBuf,
}

impl UnixTransport {
    /// A transport for the socket at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The socket path.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Transport for UnixTransport {
    type Stream = UnixStream;
    type Listener = UnixListener;

    async fn connect(&self) -> io::Result<UnixStream> {
        tokio::net::UnixStream::connect(&self.path)
            .await?
            .into_std()
    }

    fn bind(&self) -> io::Result<UnixListener> {
        UnixListener::bind(&self.path)
    }

    async fn accept(listener: &UnixListener) -> io::Result<(UnixStream, String)> {
        let (stream, _) = listener.accept().await?;
        // Unix peers are anonymous; name them by their credentials when available.
        let peer = stream.peer_cred().map_or_else(
            |_| "unix".to_owned(),
            |c| format!("pid:{}", c.pid().unwrap_or(-1)),
        );
        Ok((stream.into_std()?, peer))
    }
}
