//! The `--attester` configuration string.
//!
//! ```text
//! tpm:host=127.0.0.1,port=2321   a TPM simulator (swtpm) on TCP; the control port is port+1
//! tpm:device=/dev/tpmrm0         a TPM character device (kernel resource manager)
//! nsm                            the AWS Nitro Secure Module
//! ```
//!
//! Values are checked here so that nothing the operator types can smuggle
//! extra options into the TSS's TCTI configuration string.

use core::fmt;
use core::str::FromStr;

use crate::AttesterError;

/// Which attester backend to open, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttesterConfig {
    /// A TPM 2.0.
    Tpm(TpmConfig),
    /// The AWS Nitro Secure Module.
    Nsm,
}

/// How to reach a TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmConfig {
    /// The transport.
    pub transport: TpmTransport,
}

/// A TPM transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TpmTransport {
    /// swtpm's TCP protocol: commands on `port`, control on `port + 1`.
    Swtpm {
        /// Host name or address.
        host: String,
        /// Command port.
        port: u16,
    },
    /// A TPM character device such as `/dev/tpmrm0`.
    Device {
        /// Path of the device.
        path: String,
    },
}

impl TpmConfig {
    /// A swtpm on `host:port`.
    #[must_use]
    pub fn swtpm(host: impl Into<String>, port: u16) -> Self {
        Self {
            transport: TpmTransport::Swtpm {
                host: host.into(),
                port,
            },
        }
    }

    /// The TSS TCTI configuration string for this transport
    /// (`swtpm:host=…,port=…` or `device:/dev/…`).
    #[must_use]
    pub fn tcti(&self) -> String {
        match &self.transport {
            TpmTransport::Swtpm { host, port } => format!("swtpm:host={host},port={port}"),
            TpmTransport::Device { path } => format!("device:{path}"),
        }
    }
}

/// Parses an `--attester` value (see the module documentation).
///
/// # Errors
/// [`AttesterError::Config`] naming the part that is not understood.
pub fn parse_attester_config(s: &str) -> Result<AttesterConfig, AttesterError> {
    s.parse()
}

impl FromStr for AttesterConfig {
    type Err = AttesterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        match kind {
            "nsm" if rest.is_empty() => Ok(Self::Nsm),
            "nsm" => Err(config_error("`nsm` takes no options")),
            "tpm" => parse_tpm(rest).map(Self::Tpm),
            other => Err(config_error(&format!(
                "unknown attester `{other}` (expected `tpm:host=…,port=…`, `tpm:device=…` or `nsm`)"
            ))),
        }
    }
}

impl fmt::Display for AttesterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nsm => f.write_str("nsm"),
            Self::Tpm(TpmConfig {
                transport: TpmTransport::Swtpm { host, port },
            }) => write!(f, "tpm:host={host},port={port}"),
            Self::Tpm(TpmConfig {
                transport: TpmTransport::Device { path },
            }) => write!(f, "tpm:device={path}"),
        }
    }
}

fn config_error(msg: &str) -> AttesterError {
    AttesterError::Config(msg.to_owned())
}

fn parse_tpm(options: &str) -> Result<TpmConfig, AttesterError> {
    let mut host = None;
    let mut port = None;
    let mut device = None;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| config_error(&format!("tpm option `{option}` is not key=value")))?;
        let slot = match key {
            "host" => &mut host,
            "port" => &mut port,
            "device" => &mut device,
            _ => return Err(config_error(&format!("unknown tpm option `{key}`"))),
        };
        if slot.replace(value).is_some() {
            return Err(config_error(&format!("tpm option `{key}` given twice")));
        }
    }
    let transport = match (host, port, device) {
        (Some(host), Some(port), None) => TpmTransport::Swtpm {
            host: checked_host(host)?,
            port: checked_port(port)?,
        },
        (None, None, Some(path)) => TpmTransport::Device {
            path: checked_path(path)?,
        },
        _ => {
            return Err(config_error(
                "tpm needs either `host=…,port=…` or `device=…`",
            ));
        }
    };
    Ok(TpmConfig { transport })
}

fn checked_host(host: &str) -> Result<String, AttesterError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if ok {
        Ok(host.to_owned())
    } else {
        Err(config_error(&format!(
            "tpm host `{host}` is not a host name or address"
        )))
    }
}

fn checked_port(port: &str) -> Result<u16, AttesterError> {
    match port.parse::<u16>() {
        // The control channel is port + 1.
        Ok(p) if p != 0 && p != u16::MAX => Ok(p),
        _ => Err(config_error(&format!(
            "tpm port `{port}` is not a number from 1 to 65534"
        ))),
    }
}

fn checked_path(path: &str) -> Result<String, AttesterError> {
    let ok = path.starts_with('/')
        && path.len() <= 4096
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'));
    if ok {
        Ok(path.to_owned())
    } else {
        Err(config_error(&format!(
            "tpm device `{path}` is not an absolute device path"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_swtpm_device_and_nsm() {
        let c = parse_attester_config("tpm:host=127.0.0.1,port=2321").unwrap();
        assert_eq!(c, AttesterConfig::Tpm(TpmConfig::swtpm("127.0.0.1", 2321)));
        assert_eq!(c.to_string(), "tpm:host=127.0.0.1,port=2321");
        let AttesterConfig::Tpm(tpm) = &c else {
            panic!()
        };
        assert_eq!(tpm.tcti(), "swtpm:host=127.0.0.1,port=2321");
        // Order of options does not matter.
        assert_eq!(
            parse_attester_config("tpm:port=2321,host=127.0.0.1").unwrap(),
            c
        );

        let d = parse_attester_config("tpm:device=/dev/tpmrm0").unwrap();
        let AttesterConfig::Tpm(tpm) = &d else {
            panic!()
        };
        assert_eq!(tpm.tcti(), "device:/dev/tpmrm0");
        assert_eq!(d.to_string(), "tpm:device=/dev/tpmrm0");

        assert_eq!(parse_attester_config("nsm").unwrap(), AttesterConfig::Nsm);
    }

    #[test]
    fn rejects_malformed_configurations() {
        for bad in [
            "",
            "tpm",
            "tpm:",
            "sim",
            "nsm:x=1",
            "tpm:host=127.0.0.1",
            "tpm:port=2321",
            "tpm:host=127.0.0.1,port=0",
            "tpm:host=127.0.0.1,port=65535",
            "tpm:host=127.0.0.1,port=70000",
            "tpm:host=127.0.0.1,port=x",
            "tpm:host=127.0.0.1,port=1,port=2",
            "tpm:host=127.0.0.1,port=1,device=/dev/tpm0",
            "tpm:host=,port=1",
            "tpm:host=a b,port=1",
            "tpm:host=127.0.0.1;x,port=1",
            "tpm:bogus=1",
            "tpm:host",
            "tpm:device=tpmrm0",
            "tpm:device=/dev/tpm rm0",
        ] {
            let err = parse_attester_config(bad).unwrap_err();
            assert!(
                matches!(err, AttesterError::Config(_)),
                "{bad:?} gave {err}"
            );
        }
    }
}
