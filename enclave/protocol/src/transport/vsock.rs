//! `AF_VSOCK` transport (production: parent instance ↔ Nitro Enclave).
//!
//! Built and unit-tested only on development machines; never dialled there.

use std::io;

use tokio_vsock::{VMADDR_CID_ANY, VsockAddr, VsockListener, VsockStream};

use super::Transport;

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
    type Listener = VsockListener;

    async fn connect(&self) -> io::Result<VsockStream> {
        VsockStream::connect(self.connect_addr()?).await
    }

    fn bind(&self) -> io::Result<VsockListener> {
        VsockListener::bind(self.listen_addr())
    }

    async fn accept(listener: &VsockListener) -> io::Result<(VsockStream, String)> {
        let (stream, addr) = listener.accept().await?;
        Ok((stream, format!("vsock:{}:{}", addr.cid(), addr.port())))
    }
}
