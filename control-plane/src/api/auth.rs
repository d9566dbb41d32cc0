//! The admin bearer token.
//!
//! 32 random bytes as 64 hex characters in `<state dir>/admin.token`, made
//! with mode 0600 on first start and reused afterwards; a token file that
//! group or others can read is refused (the token would no longer be the
//! operator's alone). Requests carry it as `Authorization: Bearer <token>`;
//! the comparison is constant-time. The token never appears in a log, an
//! error or a `Debug` print.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use axum::http::HeaderValue;
use zeroize::Zeroizing;

use super::ApiError;
use crate::service::files::{read_bounded, write_new};

/// The token file in the state directory.
pub const TOKEN_FILE: &str = "admin.token";
/// Token length in hex characters.
const TOKEN_HEX_LEN: usize = 64;

/// The admin API's bearer token.
#[derive(Clone)]
pub struct AdminToken(Zeroizing<String>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// A fresh random token.
    ///
    /// # Errors
    /// The system CSPRNG failed.
    pub fn generate() -> Result<Self, crate::Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut())
            .map_err(|_| crate::Error::Io("the system CSPRNG failed".to_owned()))?;
        Ok(Self(Zeroizing::new(hex::encode(bytes.as_ref()))))
    }

    /// Reads the token in `state_dir`, or makes it (0600) if absent. Returns
    /// the token, its file and whether it was made now.
    ///
    /// # Errors
    /// [`crate::Error::Io`] when the file cannot be read or written, is
    /// readable by group or others, or is not 64 hex characters.
    pub fn load_or_create(state_dir: &Path) -> Result<(Self, PathBuf, bool), crate::Error> {
        let path = state_dir.join(TOKEN_FILE);
        let token = Self::generate()?;
        let io = |e: &dyn std::fmt::Display| crate::Error::Io(format!("{}: {e}", path.display()));
        let mut line = Zeroizing::new(token.0.as_bytes().to_vec());
        line.push(b'\n');
        match write_new(&path, &line, 0o600) {
            Ok(()) => return Ok((token, path, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&e)),
        }
        let mode = std::fs::metadata(&path)
            .map_err(|e| io(&e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(io(&format_args!(
                "mode {:o} lets group or others read the admin token; chmod 600 it",
                mode & 0o777
            )));
        }
        Ok((Self::read(&path)?, path, false))
    }

    /// Reads a token file (as the CLI does).
    ///
    /// # Errors
    /// [`crate::Error::Io`] unreadable, or not 64 hex characters.
    pub fn read(path: &Path) -> Result<Self, crate::Error> {
        let bytes = Zeroizing::new(
            read_bounded(path, 1024)
                .map_err(|e| crate::Error::Io(format!("{}: {e}", path.display())))?,
        );
        let text = std::str::from_utf8(&bytes).unwrap_or_default().trim();
        if text.len() != TOKEN_HEX_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(crate::Error::Io(format!(
                "{}: not an admin token (64 hex characters)",
                path.display()
            )));
        }
        Ok(Self(Zeroizing::new(text.to_owned())))
    }

    /// The token text, for a client's `Authorization` header.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks an `Authorization` header value: `Bearer <token>`.
    ///
    /// # Errors
    /// 401 `unauthorized` when absent, malformed or not the token.
    pub fn check(&self, header: Option<&HeaderValue>) -> Result<(), ApiError> {
        let denied = || ApiError::new("unauthorized", "admin routes need the admin bearer token");
        let given = header
            .map(HeaderValue::as_bytes)
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .ok_or_else(denied)?;
        aws_lc_rs::constant_time::verify_slices_are_equal(given, self.0.as_bytes())
            .map_err(|_| denied())
    }
}
