//! The operator API address: `unix:PATH` (default) or `tcp:127.0.0.1:PORT`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the operator API listens (parent) or is reached (CLI).
///
/// TCP is accepted on loopback addresses only: the operator API has no
/// authentication of its own and relies on the socket's reachability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAddr {
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A loopback TCP address.
    Tcp(SocketAddr),
}

/// Why an operator address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid operator address {input:?}: {reason}")]
pub struct OperatorAddrError {
    input: String,
    reason: &'static str,
}

impl FromStr for OperatorAddr {
    type Err = OperatorAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| OperatorAddrError {
            input: s.to_owned(),
            reason,
        };
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(err("empty socket path"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            let addr: SocketAddr = addr.parse().map_err(|_| err("expected tcp:IP:PORT"))?;
            if !addr.ip().is_loopback() {
                return Err(err("TCP is allowed on loopback addresses only"));
            }
            return Ok(Self::Tcp(addr));
        }
        Err(err("expected unix:PATH or tcp:127.0.0.1:PORT"))
    }
}

impl fmt::Display for OperatorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_and_loopback_tcp() {
        assert_eq!(
            "unix:/tmp/p.sock".parse(),
            Ok(OperatorAddr::Unix("/tmp/p.sock".into()))
        );
        assert_eq!(
            "tcp:127.0.0.1:8080".parse(),
            Ok(OperatorAddr::Tcp("127.0.0.1:8080".parse().unwrap()))
        );
        assert!("tcp:[::1]:80".parse::<OperatorAddr>().is_ok());
    }

    #[test]
    fn rejects_non_loopback_and_garbage() {
        for bad in [
            "tcp:0.0.0.0:80",
            "tcp:10.0.0.1:80",
            "tcp:localhost:80",
            "unix:",
            "/tmp/p.sock",
            "http://127.0.0.1",
        ] {
            let e = bad.parse::<OperatorAddr>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
