//! `secrets.key`: the 32-byte key that encrypts secret values at rest.
//!
//! Created on first open with mode 0600 (written to a temporary file, synced,
//! renamed into place, directory synced, so a crash leaves either no key or a
//! whole one). An existing key file must be a regular file of exactly 32 bytes
//! that neither group nor other may read or write; anything else refuses to
//! start with a message that says what to fix.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use zeroize::Zeroizing;

use super::StoreError;

/// Length of the key.
pub(crate) const KEY_LEN: usize = 32;

/// The key's bytes, wiped on drop.
pub(crate) type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

/// Reads the key file at `path`.
///
/// # Errors
/// [`StoreError::KeyFile`] naming the problem.
pub(crate) fn load(path: &Path) -> Result<KeyBytes, StoreError> {
    let bad = |reason: String| StoreError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let meta = fs::symlink_metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(bad("not a regular file".to_owned()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(bad(format!(
            "mode {mode:03o} lets group or other users access it: run `chmod 600` on it"
        )));
    }
    if meta.len() != KEY_LEN as u64 {
        return Err(bad(format!(
            "{} bytes, but a key file holds exactly {KEY_LEN}",
            meta.len()
        )));
    }
    let mut key = Zeroizing::new([0; KEY_LEN]);
    let mut file = File::open(path).map_err(|e| bad(e.to_string()))?;
    file.read_exact(key.as_mut_slice())
        .map_err(|e| bad(e.to_string()))?;
    Ok(key)
}

/// Creates a fresh random key file at `path` (which must not exist).
///
/// # Errors
/// [`StoreError::KeyFile`] when it cannot be written.
pub(crate) fn create(path: &Path) -> Result<KeyBytes, StoreError> {
    let bad = |reason: String| StoreError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let mut key = Zeroizing::new([0; KEY_LEN]);
    aws_lc_rs::rand::fill(key.as_mut_slice())
        .map_err(|_| bad("the random generator failed".to_owned()))?;
    let tmp = path.with_extension("key.new");
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bad(e.to_string())),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| bad(e.to_string()))?;
    file.write_all(key.as_slice())
        .and_then(|()| file.sync_all())
        .map_err(|e| bad(e.to_string()))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| bad(e.to_string()))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(key)
}

/// Makes a directory's entries (a new or renamed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, &e))
}
