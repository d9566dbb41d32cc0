//! Accept failures: retried with a pause, surfaced once persistent.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use enclet_protocol::{Request, Response, Transport, UnixTransport};
use tokio::net::UnixListener;

use super::super::{ACCEPT_FAILURE_LIMIT, Server};
use super::config;
use crate::Error;
use crate::runtime::{Runtime, RuntimeConfig};

/// A Unix transport whose `accept` fails (`EMFILE`) a given number of times
/// first; `u32::MAX` means always.
struct Flaky;

struct FlakyListener {
    failures: AtomicU32,
    inner: UnixListener,
}

impl Transport for Flaky {
    type Stream = UnixStream;
    type Listener = FlakyListener;

    async fn connect(&self) -> io::Result<UnixStream> {
        Err(io::Error::other("not used"))
    }

    fn bind(&self) -> io::Result<FlakyListener> {
        Err(io::Error::other("not used"))
    }

    async fn accept(listener: &FlakyListener) -> io::Result<(UnixStream, String)> {
        let left = listener.failures.load(Ordering::Relaxed);
        if left > 0 {
            if left != u32::MAX {
                listener.failures.store(left - 1, Ordering::Relaxed);
            }
            return Err(io::Error::from_raw_os_error(nix::libc::EMFILE));
        }
        let (stream, _) = UnixTransport::accept(&listener.inner).await?;
        Ok((stream, "flaky".to_owned()))
    }
}

fn flaky(failures: u32) -> (tempfile::TempDir, PathBuf, FlakyListener, Arc<Server>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    let inner = UnixListener::bind(&path).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let server = Arc::new(Server::new(runtime, None, config()).unwrap());
    let listener = FlakyListener {
        failures: AtomicU32::new(failures),
        inner,
    };
    (dir, path, listener, server)
}

/// A listener that never accepts again ends `serve` with `Error::Listen`
/// instead of retrying forever (after about 15 s of pauses).
#[tokio::test]
async fn persistent_accept_failures_end_serve_with_listen_failed() {
    let (_dir, _path, listener, server) = flaky(u32::MAX);
    let outcome = tokio::time::timeout(
        Duration::from_mins(5),
        server.serve::<Flaky>(listener, std::future::pending()),
    )
    .await
    .expect("serve gives up instead of retrying forever");
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, Error::Listen { failures, .. } if failures == ACCEPT_FAILURE_LIMIT),
        "{err:?}"
    );
    assert_eq!(err.code(), "listen_failed");
}

/// Failures that stop are retried through: the server goes on serving.
#[tokio::test]
async fn transient_accept_failures_are_retried() {
    let (_dir, path, listener, server) = flaky(5);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve::<Flaky>(listener, async {
        let _ = rx.await;
    }));
    let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (id, response) = tokio::time::timeout(
        Duration::from_mins(1),
        super::call(&mut stream, 3, &Request::Health),
    )
    .await
    .expect("served once accept works again");
    assert_eq!(id, 3);
    assert!(matches!(response, Response::Health(_)), "{response:?}");
    drop(stream);
    tx.send(()).unwrap();
    serving.await.unwrap().unwrap();
}
