//! Byte-stream transports and the addresses that select them.
//!
//! [`Transport`] is the seam: the enclave server is generic over it and the
//! parent's client connects through it. Two implementations:
//!
//! * [`UnixTransport`] — a Unix domain socket (local runs, all tests);
//! * [`VsockTransport`] — `AF_VSOCK` (production, inside a Nitro Enclave). It is
//!   built and its addresses are unit-tested, but nothing here ever dials it:
//!   on a machine without a Nitro hypervisor, CID 2 is the host's hypervisor.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use crate::ProtocolError;
use crate::socket::RawSocket;

mod unix;
mod vsock;

pub use unix::UnixTransport;
pub use vsock::VsockTransport;

/// A way to reach (or listen on) a peer.
pub trait Transport: Send + Sync + 'static {
    /// A connected stream socket, read and written through
    /// [`socket::split`](crate::socket::split).
    type Stream: RawSocket;
    /// A bound listener.
    type Listener: Send + 'static;

    /// Connects to the configured address.
    fn connect(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Binds a listener on the configured address.
    ///
    /// # Errors
    /// The OS error from binding.
    fn bind(&self) -> io::Result<Self::Listener>;

    /// Accepts one connection; returns the stream and a printable peer name.
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, String)>> + Send;
}

/// An operator-facing address: `unix:PATH`, `vsock:CID:PORT` or `vsock:PORT`.
///
/// `vsock:PORT` means "any CID" when listening (the enclave side) and is
/// rejected for connecting, which needs a CID. CID and port are decimal
/// `u32`s; the reserved CIDs 0 (hypervisor) and 1 (local) and the wildcard
/// value 4294967295 (`VMADDR_CID_ANY` / `VMADDR_PORT_ANY`) are refused. CID 2
/// is the host and 3 a Nitro Enclave's parent instance; enclaves get 4 and up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// An `AF_VSOCK` address; `cid` is `None` for `vsock:PORT`.
    Vsock {
        /// Context id, `None` for "any" (listening only).
        cid: Option<u32>,
        /// Port.
        port: u32,
    },
}

impl FromStr for Endpoint {
    type Err = ProtocolError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ProtocolError::Address {
            input: s.to_owned(),
            reason,
        };
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(err("empty socket path"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let Some(rest) = s.strip_prefix("vsock:") else {
            return Err(err("expected unix:PATH, vsock:CID:PORT or vsock:PORT"));
        };
        let number = |t: &str| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("vsock CID and port are decimal numbers"));
            }
            t.parse::<u32>()
                .map_err(|_| err("vsock number out of range"))
        };
        let (cid, port) = match rest.split_once(':') {
            Some((cid, port)) => (Some(number(cid)?), number(port)?),
            None => (None, number(rest)?),
        };
        match cid {
            Some(VSOCK_CID_HYPERVISOR | VSOCK_CID_LOCAL) => {
                return Err(err("vsock CIDs 0 (hypervisor) and 1 (local) are reserved"));
            }
            Some(VSOCK_ANY) => {
                return Err(err("vsock CID 4294967295 means any CID: write vsock:PORT"));
            }
            _ => {}
        }
        if port == VSOCK_ANY {
            return Err(err("vsock port 4294967295 means any port: name one"));
        }
        Ok(Self::Vsock { cid, port })
    }
}

/// `VMADDR_CID_HYPERVISOR`: reserved, never a peer.
const VSOCK_CID_HYPERVISOR: u32 = 0;
/// `VMADDR_CID_LOCAL`: the local loopback, reserved (and absent on these hosts).
const VSOCK_CID_LOCAL: u32 = 1;
/// `VMADDR_CID_ANY` and `VMADDR_PORT_ANY`: wildcards, not addresses.
const VSOCK_ANY: u32 = u32::MAX;

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Vsock {
                cid: Some(cid),
                port,
            } => write!(f, "vsock:{cid}:{port}"),
            Self::Vsock { cid: None, port } => write!(f, "vsock:{port}"),
        }
    }
}

#[cfg(test)]
mod tests;
