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
//! load(m)                 →  m                         (the plugin's SHA-384)
//! signed_load(m, k, d)    →  SHA-384("enclet-plugin-signed-load/v1" || m || k || d)
//! unload(m)               →  SHA-384("enclet-plugin-unload/v1" || m)
//! ```
//!
//! A signed load is the load of a plugin whose publisher manifest the enclave
//! verified before compiling it: `k` is the SHA-256 of the publisher's public
//! key (DER SPKI) and `d` the SHA-384 of the exact manifest bytes, so a
//! policy can say "any plugin signed by publisher P" as well as "exactly
//! this hash".
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
//! "enclet-event-log/v2" || u32-be count || count × entry
//! entry: 1 || measurement (48)                                   load
//!        2 || measurement (48)                                   unload
//!        3 || measurement (48) || key (32) || manifest digest (48) signed load
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

/// Domain separator of the signed-load extend value.
const SIGNED_LOAD_DOMAIN: &[u8] = b"enclet-plugin-signed-load/v1";

const ENTRY_LEN: usize = 1 + MEASUREMENT_LEN;
const SIGNED_ENTRY_LEN: usize = ENTRY_LEN + 32 + 48;
const KIND_LOAD: u8 = 1;
const KIND_UNLOAD: u8 = 2;
const KIND_SIGNED_LOAD: u8 = 3;

/// One entry of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginEvent {
    /// The plugin with this measurement became invocable.
    Load(Measurement),
    /// The plugin became invocable after its publisher's signed manifest
    /// was verified.
    SignedLoad(SignedLoad),
    /// The plugin with this measurement stopped being invocable.
    Unload(Measurement),
}

/// What a signed load records besides the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedLoad {
    /// The plugin's SHA-384.
    pub measurement: Measurement,
    /// SHA-256 of the publisher's public key (DER SPKI).
    pub publisher_key: [u8; 32],
    /// SHA-384 of the exact manifest bytes.
    pub manifest_digest: [u8; 48],
}

impl serde::Serialize for PluginEvent {
    /// `{"event": "load"|"signed_load"|"unload", "measurement": hex}`, and
    /// for a signed load `"publisher_key"` and `"manifest_sha384"` (hex).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let (event, signed) = match self {
            Self::Load(_) => ("load", None),
            Self::SignedLoad(l) => ("signed_load", Some(l)),
            Self::Unload(_) => ("unload", None),
        };
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("event", event)?;
        map.serialize_entry("measurement", self.measurement())?;
        if let Some(l) = signed {
            map.serialize_entry("publisher_key", &hex::encode(l.publisher_key))?;
            map.serialize_entry("manifest_sha384", &hex::encode(l.manifest_digest))?;
        }
        map.end()
    }
}

impl PluginEvent {
    /// The plugin the event is about.
    #[must_use]
    pub const fn measurement(&self) -> &Measurement {
        match self {
            Self::Load(m) | Self::Unload(m) => m,
            Self::SignedLoad(l) => &l.measurement,
        }
    }

    /// Whether the event makes its plugin live (a load, signed or not).
    #[must_use]
    pub const fn is_load(&self) -> bool {
        !matches!(self, Self::Unload(_))
    }

    /// The 48 bytes extended into the plugin PCR for this event (see the
    /// module documentation).
    #[must_use]
    pub fn extend_value(&self) -> [u8; 48] {
        match self {
            Self::Load(m) => *m.as_bytes(),
            Self::SignedLoad(l) => Sha384::new()
                .chain_update(SIGNED_LOAD_DOMAIN)
                .chain_update(l.measurement.as_bytes())
                .chain_update(l.publisher_key)
                .chain_update(l.manifest_digest)
                .finalize()
                .into(),
            Self::Unload(m) => Sha384::new()
                .chain_update(UNLOAD_DOMAIN)
                .chain_update(m.as_bytes())
                .finalize()
                .into(),
        }
    }

    const fn kind(&self) -> u8 {
        match self {
            Self::Load(_) => KIND_LOAD,
            Self::Unload(_) => KIND_UNLOAD,
            Self::SignedLoad(_) => KIND_SIGNED_LOAD,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind());
        out.extend_from_slice(self.measurement().as_bytes());
        if let Self::SignedLoad(l) = self {
            out.extend_from_slice(&l.publisher_key);
            out.extend_from_slice(&l.manifest_digest);
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
            if e.is_load() {
                live.push(*e.measurement());
            } else {
                live.retain(|l| l != e.measurement());
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
            .is_some_and(PluginEvent::is_load)
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
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + self.events.len() * SIGNED_ENTRY_LEN);
        out.extend_from_slice(MAGIC);
        // MAX_EVENTS fits in u32, and push() enforces it.
        let count = u32::try_from(self.events.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for e in &self.events {
            e.encode(&mut out);
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
        // Every entry is at least ENTRY_LEN bytes: bound the count first.
        let least = count_usize * ENTRY_LEN;
        if entries.len() < least {
            return Err(EventLogError::Length {
                expected: least,
                actual: entries.len(),
            });
        }
        let mut live = std::collections::HashSet::new();
        let mut events = Vec::with_capacity(count_usize);
        let mut rest = entries;
        for index in 0..count_usize {
            let (event, after) = parse_entry(index, rest)?;
            rest = after;
            check_event(index, &event, live.contains(event.measurement()))?;
            if event.is_load() {
                live.insert(*event.measurement());
            } else {
                live.remove(event.measurement());
            }
            events.push(event);
        }
        if !rest.is_empty() {
            return Err(EventLogError::Length {
                expected: entries.len() - rest.len(),
                actual: entries.len(),
            });
        }
        Ok(Self { events })
    }
}

/// One entry from the front of `bytes`, and what follows it.
fn parse_entry(index: usize, bytes: &[u8]) -> Result<(PluginEvent, &[u8]), EventLogError> {
    let short = |expected: usize| EventLogError::Length {
        expected,
        actual: bytes.len(),
    };
    let (&kind, rest) = bytes.split_first().ok_or(short(ENTRY_LEN))?;
    let (m, rest) = rest
        .split_first_chunk::<MEASUREMENT_LEN>()
        .ok_or(short(ENTRY_LEN))?;
    let m = Measurement::from_bytes(*m);
    match kind {
        KIND_LOAD => Ok((PluginEvent::Load(m), rest)),
        KIND_UNLOAD => Ok((PluginEvent::Unload(m), rest)),
        KIND_SIGNED_LOAD => {
            let (key, rest) = rest
                .split_first_chunk::<32>()
                .ok_or(short(SIGNED_ENTRY_LEN))?;
            let (digest, rest) = rest
                .split_first_chunk::<48>()
                .ok_or(short(SIGNED_ENTRY_LEN))?;
            let load = SignedLoad {
                measurement: m,
                publisher_key: *key,
                manifest_digest: *digest,
            };
            Ok((PluginEvent::SignedLoad(load), rest))
        }
        kind => Err(EventLogError::Kind { index, kind }),
    }
}

/// Whether `event`, at `index`, keeps the log well formed given whether its
/// plugin is live before it.
fn check_event(index: usize, event: &PluginEvent, live: bool) -> Result<(), EventLogError> {
    let measurement = *event.measurement();
    match (event.is_load(), live) {
        (true, true) => Err(EventLogError::AlreadyLoaded { index, measurement }),
        (false, false) => Err(EventLogError::NotLoaded { index, measurement }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
