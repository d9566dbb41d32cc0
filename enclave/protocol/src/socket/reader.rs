//! The read side: readable-only registration, a buffer, whole frames out.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncRead, BufReader, Interest, ReadBuf};

use super::RawSocket;
use super::registered::{Registered, SocketFd};
use crate::frame::{self, PREFIX_LEN};
use crate::{FrameLimits, ProtocolError, codec};

/// Bytes read from the socket at a time: several small frames per `read`.
const BUFFER_BYTES: usize = 64 * 1024;

/// Reads frames from a socket registered for readability only.
pub struct FrameReader {
    inner: BufReader<SocketRead>,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.inner.buffer().len())
            .finish_non_exhaustive()
    }
}

impl FrameReader {
    pub(super) fn new(socket: Arc<dyn RawSocket>) -> io::Result<Self> {
        let fd = super::register(SocketFd(socket), Interest::READABLE)?;
        Ok(Self {
            inner: BufReader::with_capacity(BUFFER_BYTES, SocketRead { fd }),
        })
    }

    /// Reads the next frame body, as [`codec::read_frame`] does (same bounds,
    /// same errors). A frame already complete in the buffer is returned
    /// without touching the socket or arming the body timer.
    ///
    /// # Errors
    /// As [`codec::read_frame`].
    pub async fn read(
        &mut self,
        limits: FrameLimits,
        body_timeout: Option<Duration>,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        if let Some(body) = self.buffered_frame(limits)? {
            return Ok(Some(body));
        }
        codec::read_frame(&mut self.inner, limits, body_timeout).await
    }

    /// The next frame if the buffer holds all of it.
    fn buffered_frame(&mut self, limits: FrameLimits) -> Result<Option<Vec<u8>>, ProtocolError> {
        let buffered = self.inner.buffer();
        let Some(prefix) = buffered.first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = frame::check_length(u32::from_be_bytes(*prefix), limits)?;
        let Some(body) = buffered.get(PREFIX_LEN..PREFIX_LEN.saturating_add(len)) else {
            return Ok(None);
        };
        let body = body.to_vec();
        Pin::new(&mut self.inner).consume(PREFIX_LEN.saturating_add(len));
        Ok(Some(body))
    }
}

/// `AsyncRead` over the readable-only registration.
struct SocketRead {
    fd: Registered<SocketFd>,
}

impl AsyncRead for SocketRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| fd.get_ref().0.read_now(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Would block: readiness was cleared, wait again.
                Err(_) => {}
            }
        }
    }
}
