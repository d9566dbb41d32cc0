//! The enclave's plugin event log and its canonical digest.
//!
//! The log records, in order, every plugin *load* and *unload* in the
//! enclave's lifetime. Each event is extended into the plugin PCR as it
//! happens; evidence binds the log's digest (Nitro `user_data`; TPM qualifying
//! data), and verifiers replay the log against the quoted PCR, so the log
//! cannot be edited without detection. A verifier thus learns both which
//! plugins are live now ([`EventLog::live`]) and which code was live when.
//!
//! ## The extend rule (one rule, a hash per PCR bank)
//!
//! Every event has a 48-byte *extend value* ([`PluginEvent::extend_value`]):
//!
//! ```text
//! load(m)    →  m                                    (the plugin's SHA-384)
//! unload(m)  →  SHA-384("enclet-plugin-unload/v1" || m)
//! ```
//!
//! The value is extended into the plugin PCR from zero with the bank's hash:
//! a SHA-384 bank (Nitro NSM) computes `pcr = SHA-384(pcr || v)`
//! ([`EventLog::replay_sha384`]); a SHA-256 bank (TPM), which cannot hold 48
//! bytes, computes `pcr = SHA-256(pcr || SHA-256(v))` ([`EventLog::replay_sha256`]).
//! The unload value is domain-separated so that no load can be mistaken for an
//! unload, and a log of loads only replays exactly as the plain measurements.
//!
//! ## Canonical encoding (also the wire form)
//!
//! ```text
//! "enclet-event-log/v2" || u32-be count || count × (kind u8 || 48-byte measurement)
//! kind: 1 = load, 2 = unload
//! ```
//! Its digest is SHA-384 over that encoding. A log is well formed only if each
//! unload names a plugin live at that point and no load names one already live.

use sha2::{Digest, Sha256, Sha384};

use crate::measurement::{MEASUREMENT_LEN, Measurement};

const MAGIC: &[u8] = b"enclet-event-log/v2";

/// Domain separator of the unload extend value.
const UNLOAD_DOMAIN: &[u8] = b"enclet-plugin-unload/v1";

/// The most events one log may hold; bounds parsing of untrusted logs.
pub const MAX_EVENTS: usize = 4096;

const ENTRY_LEN: usize = 1 + MEASUREMENT_LEN;
const KIND_LOAD: u8 = 1;
const KIND_UNLOAD: u8 = 2;

/// One entry of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "event", content = "measurement", rename_all = "snake_case")]
pub enum PluginEvent {
    /// The plugin with this measurement became invocable.
    Load(Measurement),
    /// The plugin with this measurement stopped being invocable.
    Unload(Measurement),
}

impl PluginEvent {
    /// The plugin the event is about.
    #[must_use]
    pub const fn measurement(&self) -> &Measurement {
        match self {
            Self::Load(m) | Self::Unload(m) => m,
        }
    }

    /// The 48 bytes extended into the plugin PCR for this event (see the
    /// module documentation).
    #[must_use]
    pub fn extend_value(&self) -> [u8; 48] {
        match self {
            Self::Load(m) => *m.as_bytes(),
            Self::Unload(m) => {
                let mut h = Sha384::new();
                h.update(UNLOAD_DOMAIN);
                h.update(m.as_bytes());
                h.finalize().into()
            }
        }
    }

    const fn kind(&self) -> u8 {
        match self {
            Self::Load(_) => KIND_LOAD,
            Self::Unload(_) => KIND_UNLOAD,
        }
    }
}

/// Plugin loads and unloads in the order they happened (and were extended).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventLog {
    events: Vec<PluginEvent>,
}

/// Why bytes or an event are not a well-formed event log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventLogError {
    /// The encoding does not start with the expected magic.
    #[error("event log: missing or wrong magic (expected \"enclet-event-log/v2\")")]
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
    /// An entry's kind byte is neither load nor unload.
    #[error("event log: entry {index} has unknown kind {kind}")]
    Kind {
        /// Position of the entry (from 0).
        index: usize,
        /// The kind byte found.
        kind: u8,
    },
    /// A load names a plugin that is already live.
    #[error("event log: entry {index} loads {measurement}, which is already loaded")]
    AlreadyLoaded {
        /// Position of the entry (from 0).
        index: usize,
        /// The plugin.
        measurement: Measurement,
    },
    /// An unload names a plugin that is not live.
    #[error("event log: entry {index} unloads {measurement}, which is not loaded")]
    NotLoaded {
        /// Position of the entry (from 0).
        index: usize,
        /// The plugin.
        measurement: Measurement,
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

    /// Appends the load of `m`.
    ///
    /// # Errors
    /// [`EventLogError::Full`] when the log holds [`MAX_EVENTS`] entries;
    /// [`EventLogError::AlreadyLoaded`] when `m` is live.
    pub fn push_load(&mut self, m: Measurement) -> Result<(), EventLogError> {
        self.push(PluginEvent::Load(m))
    }

    /// Appends the unload of `m`.
    ///
    /// # Errors
    /// [`EventLogError::Full`] when the log holds [`MAX_EVENTS`] entries;
    /// [`EventLogError::NotLoaded`] when `m` is not live.
    pub fn push_unload(&mut self, m: Measurement) -> Result<(), EventLogError> {
        self.push(PluginEvent::Unload(m))
    }

    /// Appends `event` if the log stays well formed.
    ///
    /// # Errors
    /// As [`Self::push_load`] and [`Self::push_unload`].
    pub fn push(&mut self, event: PluginEvent) -> Result<(), EventLogError> {
        if self.events.len() >= MAX_EVENTS {
            return Err(EventLogError::Full);
        }
        let live = self.is_live(event.measurement());
        check_event(self.events.len(), &event, live)?;
        self.events.push(event);
        Ok(())
    }

    /// Whether a push of `event` would succeed, without appending it.
    ///
    /// # Errors
    /// As [`Self::push`].
    pub fn check(&self, event: &PluginEvent) -> Result<(), EventLogError> {
        if self.events.len() >= MAX_EVENTS {
            return Err(EventLogError::Full);
        }
        check_event(self.events.len(), event, self.is_live(event.measurement()))
    }

    /// Every event, in order.
    #[must_use]
    pub fn events(&self) -> &[PluginEvent] {
        &self.events
    }

    /// Number of events.
    #[must_use]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The plugins loaded and not since unloaded, in the order of their
    /// latest load.
    #[must_use]
    pub fn live(&self) -> Vec<Measurement> {
        let mut live: Vec<Measurement> = Vec::new();
        for e in &self.events {
            match e {
                PluginEvent::Load(m) => live.push(*m),
                PluginEvent::Unload(m) => live.retain(|l| l != m),
            }
        }
        live
    }

    /// Whether `m` is live at the end of the log.
    #[must_use]
    pub fn is_live(&self, m: &Measurement) -> bool {
        self.events
            .iter()
            .rev()
            .find(|e| e.measurement() == m)
            .is_some_and(|e| matches!(e, PluginEvent::Load(_)))
    }

    /// The plugin PCR of a SHA-384 bank (Nitro) after every event.
    #[must_use]
    pub fn replay_sha384(&self) -> [u8; 48] {
        self.events.iter().fold([0u8; 48], |pcr, e| {
            let mut h = Sha384::new();
            h.update(pcr);
            h.update(e.extend_value());
            h.finalize().into()
        })
    }

    /// The plugin PCR of a SHA-256 bank (TPM) after every event.
    #[must_use]
    pub fn replay_sha256(&self) -> [u8; 32] {
        self.events.iter().fold([0u8; 32], |pcr, e| {
            let mut h = Sha256::new();
            h.update(pcr);
            h.update(Sha256::digest(e.extend_value()));
            h.finalize().into()
        })
    }

    /// The canonical encoding.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + self.events.len() * ENTRY_LEN);
        out.extend_from_slice(MAGIC);
        // MAX_EVENTS fits in u32, and push() enforces it.
        let count = u32::try_from(self.events.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for e in &self.events {
            out.push(e.kind());
            out.extend_from_slice(e.measurement().as_bytes());
        }
        out
    }

    /// SHA-384 of the canonical encoding: the value evidence binds.
    #[must_use]
    pub fn digest(&self) -> [u8; 48] {
        Sha384::digest(self.to_bytes()).into()
    }

    /// Parses a canonical encoding, bounded by [`MAX_EVENTS`], and checks
    /// that it is well formed (see the module documentation).
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
        let expected = count_usize * ENTRY_LEN;
        if entries.len() != expected {
            return Err(EventLogError::Length {
                expected,
                actual: entries.len(),
            });
        }
        let mut live = std::collections::HashSet::new();
        let mut events = Vec::with_capacity(count_usize);
        for (index, entry) in entries.chunks_exact(ENTRY_LEN).enumerate() {
            let event = parse_entry(index, entry)?;
            check_event(index, &event, live.contains(event.measurement()))?;
            match event {
                PluginEvent::Load(m) => live.insert(m),
                PluginEvent::Unload(m) => live.remove(&m),
            };
            events.push(event);
        }
        Ok(Self { events })
    }
}

fn parse_entry(index: usize, entry: &[u8]) -> Result<PluginEvent, EventLogError> {
    let (kind, m) = entry
        .split_first()
        .and_then(|(k, m)| Some((*k, <[u8; MEASUREMENT_LEN]>::try_from(m).ok()?)))
        .ok_or(EventLogError::Length {
            expected: ENTRY_LEN,
            actual: entry.len(),
        })?;
    let m = Measurement::from_bytes(m);
    match kind {
        KIND_LOAD => Ok(PluginEvent::Load(m)),
        KIND_UNLOAD => Ok(PluginEvent::Unload(m)),
        kind => Err(EventLogError::Kind { index, kind }),
    }
}

/// Whether `event`, at `index`, keeps the log well formed given whether its
/// plugin is live before it.
fn check_event(index: usize, event: &PluginEvent, live: bool) -> Result<(), EventLogError> {
    match (event, live) {
        (PluginEvent::Load(m), true) => Err(EventLogError::AlreadyLoaded {
            index,
            measurement: *m,
        }),
        (PluginEvent::Unload(m), false) => Err(EventLogError::NotLoaded {
            index,
            measurement: *m,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
