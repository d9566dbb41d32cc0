//! Size-bounded reads of untrusted input files and stdin.
//!
//! The CLI never reads a file whole before knowing it fits: a verifier may be
//! handed a multi-gigabyte "document", and `/dev/zero` has no size at all. So
//! each read takes at most `max + 1` bytes and refuses the input when that
//! extra byte arrives, which also covers pipes and special files whose
//! metadata reports no length.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// Why a bounded read failed. The message names the input and, for
/// [`ReadError::TooLarge`], the bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The input could not be opened or read.
    Io {
        /// The file (or `stdin`).
        what: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The input holds more than `max` bytes.
    TooLarge {
        /// The file (or `stdin`).
        what: String,
        /// The bound, in bytes.
        max: u64,
    },
}

impl ReadError {
    /// Stable code: `read_failed` or `input_too_large`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "read_failed",
            Self::TooLarge { .. } => "input_too_large",
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, reason } => write!(f, "cannot read {what}: {reason}"),
            Self::TooLarge { what, max } => {
                write!(f, "{what} is larger than {max} bytes: refused unread")
            }
        }
    }
}

/// Reads `path` whole if it holds at most `max` bytes.
///
/// # Errors
/// [`ReadError::Io`] if it cannot be opened or read, [`ReadError::TooLarge`]
/// if it is bigger than `max` (checked from the metadata first, then while
/// reading).
pub fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let what = path.display().to_string();
    let io = |e: std::io::Error| ReadError::Io {
        what: what.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_file() && meta.len() > max {
        return Err(ReadError::TooLarge { what, max });
    }
    read_bounded(file, what, max)
}

/// Reads standard input to its end if it holds at most `max` bytes.
///
/// # Errors
/// As [`read_file`], naming `stdin`.
pub fn read_stdin(max: u64) -> Result<Vec<u8>, ReadError> {
    read_bounded(std::io::stdin().lock(), "stdin".to_owned(), max)
}

/// Reads `reader` to its end if it yields at most `max` bytes.
///
/// # Errors
/// As [`read_file`].
pub fn read_bounded(reader: impl Read, what: String, max: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io {
            what: what.clone(),
            reason: e.to_string(),
        })?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max) {
        return Err(ReadError::TooLarge { what, max });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn reads_up_to_the_bound_and_refuses_one_byte_more() {
        let exact = read_bounded(&b"abcd"[..], "x".to_owned(), 4).unwrap();
        assert_eq!(exact, b"abcd");
        let err = read_bounded(&b"abcde"[..], "x".to_owned(), 4).unwrap_err();
        assert_eq!(
            err,
            ReadError::TooLarge {
                what: "x".to_owned(),
                max: 4
            }
        );
        assert_eq!(err.code(), "input_too_large");
        assert!(err.to_string().contains("larger than 4 bytes"));
    }

    #[test]
    fn files_are_checked_by_size_and_special_files_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc");
        std::fs::write(&path, [7u8; 10]).unwrap();
        assert_eq!(read_file(&path, 10).unwrap(), [7u8; 10]);
        let err = read_file(&path, 9).unwrap_err();
        assert_eq!(err.code(), "input_too_large");
        assert!(err.to_string().contains(&path.display().to_string()));
        // No length in its metadata: refused after max + 1 bytes, not read forever.
        let err = read_file(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err.code(), "input_too_large");
        let err = read_file(&dir.path().join("missing"), 10).unwrap_err();
        assert_eq!(err.code(), "read_failed");
    }
}
