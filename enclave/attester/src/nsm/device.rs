//! The seam between the attester and the hardware: [`NsmDevice`], and its one
//! real implementation over `/dev/nsm`.
//!
//! The seam carries the driver crate's typed `Request` / `Response`, not raw
//! CBOR: the real device is exactly `nsm_process_request`, which encodes the
//! request, bounds the response buffer (12 KiB) and decodes the answer, so a
//! byte-level seam would only move that encoding into our code. Tests then
//! see the exact requests the attester builds, field by field, and answer
//! with recorded documents as `Response::Attestation`.

use std::path::Path;

use aws_nitro_enclaves_nsm_api::api::{Request, Response};
use aws_nitro_enclaves_nsm_api::driver::{nsm_exit, nsm_init, nsm_process_request};

use super::error::NsmError;

/// The NSM device node.
pub const NSM_DEVICE: &str = "/dev/nsm";

/// Something that answers NSM requests: the device, or a test double.
///
/// Calls block until the NSM answers.
pub trait NsmDevice: Send + Sync {
    /// Sends one request and returns the answer (errors are
    /// `Response::Error`).
    fn process(&self, request: Request) -> Response;
}

/// The NSM through its Linux driver, `/dev/nsm` (`ioctl` in the driver
/// crate; no `unsafe` here). Closed when dropped.
#[derive(Debug)]
pub struct DevNsm {
    fd: i32,
}

impl DevNsm {
    /// Opens `/dev/nsm`.
    ///
    /// # Errors
    /// [`NsmError::NoDevice`] when the node does not exist (not a Nitro
    /// Enclave); [`NsmError::Open`] when it cannot be opened read-write.
    pub fn open() -> Result<Self, NsmError> {
        // The driver only says "-1"; find out why first, for the operator.
        if let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(Path::new(NSM_DEVICE))
        {
            return Err(match e.kind() {
                std::io::ErrorKind::NotFound => NsmError::NoDevice { path: NSM_DEVICE },
                _ => NsmError::Open {
                    path: NSM_DEVICE,
                    reason: e.to_string(),
                },
            });
        }
        let fd = nsm_init();
        if fd < 0 {
            return Err(NsmError::Open {
                path: NSM_DEVICE,
                reason: "the NSM driver could not open it".into(),
            });
        }
        Ok(Self { fd })
    }
}

impl NsmDevice for DevNsm {
    fn process(&self, request: Request) -> Response {
        nsm_process_request(self.fd, request)
    }
}

impl Drop for DevNsm {
    fn drop(&mut self) {
        nsm_exit(self.fd);
    }
}
