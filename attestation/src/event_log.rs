//! The enclave's plugin event log and its canonical digest.
//!
//! The enclave appends each newly loaded plugin's [`Measurement`] to this log and
//! extends the same value into its plugin PCR. Evidence binds the log's digest
//! (Nitro `user_data`; TPM qualifying data), and verifiers replay the log against
//! the quoted PCR, so the log cannot be edited without detection.
//!
//! Canonical encoding (also the wire form):
//!
//! ```text
//! "enclet-event-log/v1" || u32-be count || count × 48-byte SHA-384 measurements
//! ```
//! Its digest is SHA-384 over that encoding.

use sha2::{Digest, Sha384};

use crate::measurement::{MEASUREMENT_LEN, Measurement};

const MAGIC: &[u8] = b"enclet-event-log/v1";

/// The most plugins one log may hold; bounds parsing of untrusted logs.
pub const MAX_EVENTS: usize = 4096;

/// Plugin measurements in the order they were loaded (and extended).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventLog {
    plugins: Vec<Measurement>,
}

/// Why bytes are not a canonical event log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventLogError {
    /// The encoding does not start with the expected magic.
    #[error("event log: missing or wrong magic")]
    Magic,
    /// More entries than [`MAX_EVENTS`].
    #[error("event log: {0} entries exceeds the maximum of {MAX_EVENTS}")]
    TooManyEntries(u64),
    /// The length does not match the count.
    #[error("event log: {expected} bytes of entries expected, {actual} present")]
    Length {
        /// Bytes the count calls for.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// Appending would exceed [`MAX_EVENTS`].
    #[error("event log is full ({MAX_EVENTS} entries)")]
    Full,
}

impl EventLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a measurement.
    ///
    /// # Errors
    /// [`EventLogError::Full`] when the log already holds [`MAX_EVENTS`] entries.
    pub fn push(&mut self, m: Measurement) -> Result<(), EventLogError> {
        if self.plugins.len() >= MAX_EVENTS {
            return Err(EventLogError::Full);
        }
        self.plugins.push(m);
        Ok(())
    }

    /// The measurements in load order.
    #[must_use]
    pub fn plugins(&self) -> &[Measurement] {
        &self.plugins
    }

    /// The canonical encoding.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + self.plugins.len() * MEASUREMENT_LEN);
        out.extend_from_slice(MAGIC);
        // MAX_EVENTS fits in u32, and push() enforces it.
        let count = u32::try_from(self.plugins.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for m in &self.plugins {
            out.extend_from_slice(m.as_bytes());
        }
        out
    }

    /// SHA-384 of the canonical encoding: the value evidence binds.
    #[must_use]
    pub fn digest(&self) -> [u8; 48] {
        Sha384::digest(self.to_bytes()).into()
    }

    /// Parses a canonical encoding, bounded by [`MAX_EVENTS`].
    ///
    /// # Errors
    /// An [`EventLogError`] naming what is wrong; trailing bytes are rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EventLogError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(EventLogError::Magic)?;
        let (count, entries) = rest.split_first_chunk::<4>().ok_or(EventLogError::Length {
            expected: 4,
            actual: rest.len(),
        })?;
        let count = u32::from_be_bytes(*count);
        let count_usize = usize::try_from(count).unwrap_or(usize::MAX);
        if count_usize > MAX_EVENTS {
            return Err(EventLogError::TooManyEntries(count.into()));
        }
        let expected = count_usize * MEASUREMENT_LEN;
        if entries.len() != expected {
            return Err(EventLogError::Length {
                expected,
                actual: entries.len(),
            });
        }
        let plugins = entries
            .chunks_exact(MEASUREMENT_LEN)
            .filter_map(|c| <[u8; MEASUREMENT_LEN]>::try_from(c).ok())
            .map(Measurement::from_bytes)
            .collect();
        Ok(Self { plugins })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(names: &[&[u8]]) -> EventLog {
        let mut log = EventLog::new();
        for n in names {
            log.push(Measurement::of_plugin(n)).unwrap();
        }
        log
    }

    #[test]
    fn round_trips_and_digest_binds_content_and_order() {
        let log = log_of(&[b"a", b"b"]);
        assert_eq!(EventLog::from_bytes(&log.to_bytes()).unwrap(), log);
        assert_ne!(log.digest(), log_of(&[b"b", b"a"]).digest());
        assert_ne!(log.digest(), log_of(&[b"a"]).digest());
        assert_eq!(
            EventLog::from_bytes(&EventLog::new().to_bytes())
                .unwrap()
                .plugins(),
            &[]
        );
    }

    #[test]
    fn rejects_malformed_encodings() {
        let bytes = log_of(&[b"a"]).to_bytes();
        assert_eq!(EventLog::from_bytes(&bytes[1..]), Err(EventLogError::Magic));
        assert!(matches!(
            EventLog::from_bytes(&bytes[..bytes.len() - 1]),
            Err(EventLogError::Length { .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            EventLog::from_bytes(&trailing),
            Err(EventLogError::Length { .. })
        ));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            EventLog::from_bytes(&huge),
            Err(EventLogError::TooManyEntries(u32::MAX.into()))
        );
    }
}
