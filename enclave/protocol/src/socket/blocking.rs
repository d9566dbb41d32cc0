//! The read side for a thread that waits on the socket itself.
//!
//! [`BlockingFrameReader`] is for a server that answers on the thread that
//! read the request: waiting in `poll(2)` on the socket (readability only)
//! and a stop descriptor, then reading, costs one wake-up per request and no
//! hand-off through a reactor. Bounds and errors are those of
//! [`codec::read_frame`](crate::codec::read_frame).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::RawSocket;
use crate::frame::{self, PREFIX_LEN};
use crate::{FrameLimits, ProtocolError};

/// Bytes the buffer starts with (several small frames per `read`).
const INITIAL_BYTES: usize = 64 * 1024;
/// Most the buffer grows ahead of bytes actually received.
const GROW_STEP: usize = 1024 * 1024;

/// What [`BlockingFrameReader::read`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// One frame body.
    Frame(Vec<u8>),
    /// The peer closed the connection between frames.
    Closed,
    /// The stop descriptor became readable.
    Stopped,
}

/// Reads frames on the calling thread, waiting with `poll(2)`.
pub struct BlockingFrameReader {
    socket: Arc<dyn RawSocket>,
    /// Received bytes not yet returned are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How long to check for data without sleeping before sleeping in `poll`.
    busy_poll: Duration,
}

impl std::fmt::Debug for BlockingFrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingFrameReader")
            .field("buffered", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

enum Ready {
    Socket,
    Stop,
    Timeout,
}

impl BlockingFrameReader {
    pub(super) fn new(socket: Arc<dyn RawSocket>) -> Self {
        Self {
            socket,
            buf: vec![0; INITIAL_BYTES],
            start: 0,
            end: 0,
            busy_poll: Duration::ZERO,
        }
    }

    /// Before sleeping on the socket, check it without sleeping for up to
    /// `budget` (default zero: sleep at once). Waking a sleeping thread takes
    /// tens of microseconds on some virtual machines, more than a short call;
    /// a reader that spins briefly answers the next request of a busy peer
    /// without that cost, at the price of up to `budget` of CPU per wait.
    pub fn set_busy_poll(&mut self, budget: Duration) {
        self.busy_poll = budget;
    }

    /// The socket being read (to watch it from elsewhere).
    #[must_use]
    pub fn socket(&self) -> Arc<dyn RawSocket> {
        Arc::clone(&self.socket)
    }

    /// Bytes of buffer held (for tests).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// True when received bytes are waiting to be returned (a whole frame or
    /// the start of one).
    #[must_use]
    pub fn has_buffered(&self) -> bool {
        self.end > self.start
    }

    /// Waits for and returns the next frame body, or why there is none.
    /// Once a length prefix has arrived, the rest of the frame must arrive
    /// within `body_timeout` (when given).
    ///
    /// # Errors
    /// [`ProtocolError::FrameTooLarge`], [`ProtocolError::FrameTooShort`],
    /// [`ProtocolError::Truncated`], [`ProtocolError::BodyTimeout`] or
    /// [`ProtocolError::Io`].
    pub fn read(
        &mut self,
        limits: FrameLimits,
        body_timeout: Option<Duration>,
        stop: BorrowedFd<'_>,
    ) -> Result<Next, ProtocolError> {
        let mut deadline = None;
        loop {
            let expected = match self.buffered_frame(limits)? {
                Buffered::Frame(body) => return Ok(Next::Frame(body)),
                Buffered::Need(total) => total,
            };
            if expected.is_some() && deadline.is_none() {
                deadline = body_timeout.map(|t| Instant::now() + t);
            }
            let received = (self.end - self.start) as u64;
            let timeout = deadline.map(|d: Instant| d.saturating_duration_since(Instant::now()));
            match self.wait(stop, timeout)? {
                Ready::Stop => return Ok(Next::Stopped),
                Ready::Timeout => {
                    return Err(ProtocolError::BodyTimeout {
                        expected: body_len(expected),
                        received: received.saturating_sub(PREFIX_LEN as u64),
                    });
                }
                Ready::Socket => {}
            }
            if self.fill(expected)? == Some(0) {
                return match expected {
                    None if received == 0 => Ok(Next::Closed),
                    None => Err(ProtocolError::Truncated {
                        expected: PREFIX_LEN as u64,
                        received,
                    }),
                    Some(_) => Err(ProtocolError::Truncated {
                        expected: body_len(expected),
                        received: received.saturating_sub(PREFIX_LEN as u64),
                    }),
                };
            }
        }
    }

    /// A complete frame from the buffer, or how many bytes the next frame
    /// takes in total (`None` while its prefix is incomplete).
    fn buffered_frame(&mut self, limits: FrameLimits) -> Result<Buffered, ProtocolError> {
        let unread = self.buf.get(self.start..self.end).unwrap_or_default();
        let Some(prefix) = unread.first_chunk::<PREFIX_LEN>() else {
            return Ok(Buffered::Need(None));
        };
        let total =
            PREFIX_LEN.saturating_add(frame::check_length(u32::from_be_bytes(*prefix), limits)?);
        let Some(body) = unread.get(PREFIX_LEN..total) else {
            return Ok(Buffered::Need(Some(total)));
        };
        let body = body.to_vec();
        self.start = self.start.saturating_add(total);
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            // A large frame (a plugin upload) does not keep its memory.
            if self.buf.len() > INITIAL_BYTES {
                self.buf.truncate(INITIAL_BYTES);
                self.buf.shrink_to_fit();
            }
        }
        Ok(Buffered::Frame(body))
    }

    /// Waits until the socket or `stop` is readable, or `timeout` passes:
    /// first checking without sleeping for up to the busy-poll budget, then
    /// sleeping in `poll(2)`.
    fn wait(&self, stop: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<Ready> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return Ok(Ready::Timeout);
        }
        let start = Instant::now();
        let budget = timeout.map_or(self.busy_poll, |t| t.min(self.busy_poll));
        while !budget.is_zero() {
            if let Some(ready) = self.poll_once(stop, PollTimeout::ZERO)? {
                return Ok(ready);
            }
            if start.elapsed() >= budget {
                break;
            }
            std::thread::yield_now();
        }
        let deadline = timeout.map(|t| start + t);
        loop {
            let sleep = match deadline {
                None => PollTimeout::NONE,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Ready::Timeout);
                    }
                    // Whole milliseconds, rounded up so a short wait is not
                    // a busy loop.
                    PollTimeout::try_from(left.saturating_add(Duration::from_micros(999)))
                        .unwrap_or(PollTimeout::MAX)
                }
            };
            if let Some(ready) = self.poll_once(stop, sleep)? {
                return Ok(ready);
            }
        }
    }

    /// One `poll(2)`: `None` if nothing is ready when it returns.
    fn poll_once(&self, stop: BorrowedFd<'_>, timeout: PollTimeout) -> io::Result<Option<Ready>> {
        let mut fds = [
            PollFd::new(self.socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop, PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(None),
            Ok(_) => {
                let [socket, stop] = fds;
                if stop.any().unwrap_or(false) {
                    return Ok(Some(Ready::Stop));
                }
                // Readable, hung up or in error: the read tells which.
                Ok(socket.any().unwrap_or(true).then_some(Ready::Socket))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads what is available into the buffer: `Some(0)` at end of stream,
    /// `None` if the readiness was spurious.
    fn fill(&mut self, expected: Option<usize>) -> io::Result<Option<usize>> {
        self.make_room(expected);
        let spare = self.buf.get_mut(self.end..).unwrap_or_default();
        loop {
            match self.socket.read_now(spare) {
                Ok(n) => {
                    self.end = self.end.saturating_add(n);
                    return Ok(Some(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Ensures room after `end`: first by moving unread bytes to the front,
    /// then by growing towards the frame's announced size, at most
    /// [`GROW_STEP`] beyond what has been received.
    fn make_room(&mut self, expected: Option<usize>) {
        let needed = expected.unwrap_or(PREFIX_LEN);
        if self.start > 0 && self.start.saturating_add(needed) > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grow = needed.saturating_sub(self.end).clamp(1, GROW_STEP);
            self.buf
                .resize(self.end.saturating_add(grow.max(INITIAL_BYTES)), 0);
        }
    }
}

enum Buffered {
    Frame(Vec<u8>),
    Need(Option<usize>),
}

fn body_len(total: Option<usize>) -> u64 {
    total.map_or(0, |t| t.saturating_sub(PREFIX_LEN) as u64)
}
