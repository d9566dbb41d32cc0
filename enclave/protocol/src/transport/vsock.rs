//! `AF_VSOCK` transport (production: parent instance ↔ Nitro Enclave).
//!
//! Built and unit-tested only on development machines; never dialled there.
//!
//! The listener is registered with the reactor for readability (incoming
//! connections) and handed out as a [`Registered`] listener, which offers no
//! way to replace its descriptor; accepted streams are plain non-blocking
//! sockets that [`socket::split`](crate::socket::split) registers itself.

use std::io;

use tokio::io::Interest;
use vsock::{VMADDR_CID_ANY, VsockAddr, VsockListener, VsockStream};

use super::Transport;
use crate::socket::Registered;

/// A vsock address: `cid` (`None` = any, for listening) and `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsockTransport {
    cid: Option<u32>,
    port: u32,
}

impl VsockTransport {
    /// A transport for `cid:port`; `cid = None` listens on any CID.
    #[must_use]
    pub fn new(cid: Option<u32>, port: u32) -> Self {
        Self { cid, port }
    }

    /// The address to listen on (`VMADDR_CID_ANY` when no CID was given).
    #[must_use]
    pub fn listen_addr(&self) -> VsockAddr {
        VsockAddr::new(self.cid.unwrap_or(VMADDR_CID_ANY), self.port)
    }

    /// The address to connect to.
    ///
    /// # Errors
    /// `InvalidInput` when no CID was given (`vsock:PORT` is listen-only).
    pub fn connect_addr(&self) -> io::Result<VsockAddr> {
        let cid = self.cid.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "connecting over vsock needs a CID: vsock:CID:PORT",
            )
        })?;
        Ok(VsockAddr::new(cid, self.port))
    }
}

impl Transport for VsockTransport {
    type Stream = VsockStream;
    type Listener = Registered<VsockListener>;

    async fn connect(&self) -> io::Result<VsockStream> {
        let addr = self.connect_addr()?;
        // `connect(2)` on vsock blocks until the peer answers: keep it off
        // the executor.
        tokio::task::spawn_blocking(move || VsockStream::connect(&addr))
            .await
            .map_err(io::Error::other)?
    }

    fn bind(&self) -> io::Result<Registered<VsockListener>> {
        let listener = VsockListener::bind(&self.listen_addr())?;
        listener.set_nonblocking(true)?;
        crate::socket::register(listener, Interest::READABLE)
    }

    async fn accept(listener: &Registered<VsockListener>) -> io::Result<(VsockStream, String)> {
        let (stream, addr) = listener
            .async_io(Interest::READABLE, VsockListener::accept)
            .await?;
        Ok((stream, format!("vsock:{}:{}", addr.cid(), addr.port())))
    }
}
