//! Frame I/O over a connected socket, shaped for low latency.
//!
//! [`split`] turns a connected [`RawSocket`] into a [`FrameReader`] and a
//! [`FrameWriter`]:
//!
//! ```text
//!            ┌── FrameReader (one task): wait readable ─▶ read into a buffer ─▶ frames
//!  socket ───┤
//!            └── FrameWriter (any thread): write now, non-blocking
//!                  └─ what the socket does not take yet ─▶ backlog ─▶ flush task
//! ```
//!
//! [`split_blocking`] gives a [`BlockingFrameReader`] instead, for a server
//! whose threads wait on the socket themselves and answer on the thread that
//! read the request.
//!
//! Two properties matter for latency on a busy path:
//!
//! * **Read interest only.** The socket is registered with the reactor for
//!   readability alone. A socket registered for writability too is woken
//!   every time the peer consumes data ("write space available"), which costs
//!   a context switch per message on both ends. Writability is watched only
//!   while a backlog exists, through a second registration that is dropped as
//!   soon as the backlog is empty.
//! * **Writes from the producing thread.** [`FrameWriter::send`] writes on the
//!   calling thread (a plugin invocation's blocking thread, say) instead of
//!   handing the frame to a writer task, so answering does not wake the
//!   executor. Frames are never interleaved: a frame goes straight to the
//!   socket only when nothing is queued before it.
//!
//! Backpressure: a frame sent with a *hold* (e.g. a semaphore permit) keeps it
//! until the frame has been written completely, so a peer that stops reading
//! eventually stops the producer rather than growing the backlog without bound.

mod blocking;
mod reader;
mod registered;
mod writer;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;

pub use blocking::{BlockingFrameReader, Next};
pub use reader::FrameReader;
pub use registered::Registered;
pub(crate) use registered::register;
pub use writer::{FrameWriter, Sent, Ticket};

/// A connected stream socket that can be read and written without blocking.
///
/// Sealed: implemented for `std::os::unix::net::UnixStream` and
/// `vsock::VsockStream`, types that own their descriptor for their whole life
/// and never change it through `&self` (which the reactor registration in
/// [`Registered`] relies on).
pub trait RawSocket: sealed::Sealed + AsFd + Send + Sync + 'static {
    /// Puts the socket in non-blocking mode.
    ///
    /// # Errors
    /// The OS error.
    fn set_nonblocking(&self) -> io::Result<()>;
    /// One `read`; `WouldBlock` when nothing is available.
    ///
    /// # Errors
    /// The OS error.
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// One `write`; `WouldBlock` when the socket buffer is full.
    ///
    /// # Errors
    /// The OS error.
    fn write_now(&self, buf: &[u8]) -> io::Result<usize>;
    /// Shuts down the write direction (the peer reads end of stream).
    ///
    /// # Errors
    /// The OS error.
    fn shutdown_write(&self) -> io::Result<()>;
}

/// Both stream types have the same inherent methods and implement `Read` and
/// `Write` for shared references; one body serves both.
macro_rules! raw_socket {
    ($stream:ty) => {
        impl RawSocket for $stream {
            fn set_nonblocking(&self) -> io::Result<()> {
                <$stream>::set_nonblocking(self, true)
            }
            fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
                (&mut &*self).read(buf)
            }
            fn write_now(&self, buf: &[u8]) -> io::Result<usize> {
                (&mut &*self).write(buf)
            }
            fn shutdown_write(&self) -> io::Result<()> {
                self.shutdown(Shutdown::Write)
            }
        }
    };
}

raw_socket!(std::os::unix::net::UnixStream);
raw_socket!(vsock::VsockStream);

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::os::unix::net::UnixStream {}
    impl Sealed for vsock::VsockStream {}
}

/// Splits a connected socket into its frame reader and writer. Must be called
/// inside a Tokio runtime (the writer's flush task runs there).
///
/// # Errors
/// The OS error when the socket cannot be made non-blocking or registered
/// with the reactor.
pub fn split<S: RawSocket>(socket: S) -> io::Result<(FrameReader, FrameWriter)> {
    let (socket, writer) = writer_for(socket)?;
    Ok((FrameReader::new(socket)?, writer))
}

/// Like [`split`], with a reader for a thread that waits on the socket
/// itself ([`BlockingFrameReader`]). Must be called inside a Tokio runtime
/// (the writer's flush task runs there).
///
/// # Errors
/// The OS error when the socket cannot be made non-blocking.
pub fn split_blocking<S: RawSocket>(socket: S) -> io::Result<(BlockingFrameReader, FrameWriter)> {
    let (socket, writer) = writer_for(socket)?;
    Ok((BlockingFrameReader::new(socket), writer))
}

/// Makes `socket` non-blocking and builds its writer on the current runtime;
/// returns the shared socket for the reader.
fn writer_for<S: RawSocket>(socket: S) -> io::Result<(Arc<dyn RawSocket>, FrameWriter)> {
    socket.set_nonblocking()?;
    let socket: Arc<dyn RawSocket> = Arc::new(socket);
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    Ok((Arc::clone(&socket), FrameWriter::new(socket, runtime)))
}

#[cfg(test)]
mod tests;
