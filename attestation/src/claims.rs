//! The backend-neutral claims model.
//!
//! Every verifier in this crate ends by producing [`Claims`] (inside its own
//! richer claims type, e.g. `NitroClaims` or `TpmClaims`), so that the control
//! plane's policy works the same whichever evidence an enclave presented.
//!
//! Claims say not only *what* the evidence binds but *how far* it was checked,
//! so that a relying party's policy can require a check instead of assuming it:
//!
//! * [`Claims::trust_basis`] — why the key that signed the evidence is trusted
//!   (a TPM AK activated against a certified EK, or merely given by the caller;
//!   a Nitro chain to the pinned root). Its values can only be made by this
//!   crate's verifiers: see [`TrustBasis`].
//! * [`Claims::checked`] — which of nonce, PCR values and event log were
//!   compared with what the verifier expected.
//! * [`Claims::plugins`] — [`Plugins::NotChecked`] when no event log was
//!   replayed, which is not the same as [`Plugins::Replayed`] with no plugins.
//!
//! `Claims` is `#[non_exhaustive]`: code outside this crate reads claims but
//! cannot build them, and a [`crate::Verified<Claims>`] comes only from a verifier.
//!
//! ```compile_fail,E0639
//! use enclet_attestation::claims::Checked;
//! // Neither claims nor their check flags can be assembled outside the crate.
//! let c = Checked { nonce: true, pcrs: true, event_log: true };
//! ```
//!
//! ## Serialized form
//!
//! A future control plane evaluates policy over the JSON of these claims; the
//! field names and tags below are stable (`snake_case`, hex for bytes):
//!
//! ```json
//! {
//!   "evidence": "tpm",
//!   "trust_basis": { "kind": "activated_ak", "ak_name": "000b…", "ek_name": "000b…" },
//!   "checked": { "nonce": true, "pcrs": true, "event_log": true },
//!   "image": "f348…",
//!   "plugins": { "status": "replayed", "measurements": ["9f86…"] },
//!   "plugin_events": [ { "event": "load", "measurement": "9f86…" } ],
//!   "public_key": "04…",
//!   "nonce": "6e6f6e6365",
//!   "user_data": "a1b2…"
//! }
//! ```
//!
//! `image`, `public_key`, `nonce` and `user_data` are `null` when absent;
//! `plugins` is `{ "status": "not_checked" }` when no event log was replayed;
//! it lists the plugins live when the evidence was made, while `plugin_events`
//! is the whole replayed history of loads and unloads (empty when not checked).

mod basis;

pub use basis::TrustBasis;

use crate::event_log::{EventLog, PluginEvent};
use crate::measurement::Measurement;

/// Which kind of evidence the claims came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An AWS Nitro Enclaves attestation document signed by the NSM.
    Nitro,
    /// A TPM 2.0 quote signed by an attestation key.
    Tpm,
}

/// What verified evidence says about the enclave that produced it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Claims {
    /// The kind of evidence (`"nitro"` or `"tpm"`).
    pub evidence: EvidenceKind,
    /// Why the key that signed the evidence is trusted. A TPM quote verified
    /// against a caller-supplied AK says so here
    /// ([`TrustBasis::CallerPinnedAk`]); policy that releases anything should
    /// require [`TrustBasis::ActivatedAk`] or [`TrustBasis::AwsNitroRoot`].
    pub trust_basis: TrustBasis,
    /// Which parts of the evidence were compared with the verifier's
    /// expectations.
    pub checked: Checked,
    /// Measurement of the enclave image: PCR0 for Nitro, the SHA-256 image PCR
    /// for TPM. `None` when the evidence does not carry it or (TPM) its value
    /// was not checked against the quote.
    #[serde(with = "hex_opt")]
    pub image: Option<Vec<u8>>,
    /// The plugins the evidence attests as live, from a replayed event log.
    pub plugins: Plugins,
    /// Every load and unload of the replayed event log, in order: which code
    /// was live when. Empty when no event log was replayed.
    pub plugin_events: Vec<PluginEvent>,
    /// The enclave's public key bound into the evidence, if any.
    #[serde(with = "hex_opt")]
    pub public_key: Option<Vec<u8>>,
    /// The verifier's nonce bound into the evidence. TPM: present only when
    /// `extraData` was compared (`checked.nonce`). Nitro: the document's nonce,
    /// compared with an expected one only when `checked.nonce` is true.
    #[serde(with = "hex_opt")]
    pub nonce: Option<Vec<u8>>,
    /// Application data bound into the evidence (the event-log digest), if any.
    #[serde(with = "hex_opt")]
    pub user_data: Option<Vec<u8>>,
}

/// Which parts of the evidence the verifier compared with its expectations.
///
/// Each flag is set only by the verifier that made the check; a `false` means
/// the claim it guards was not established, whatever the evidence contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Checked {
    /// The verifier's nonce (TPM: `extraData`, raw or as enclet's qualifying
    /// data; Nitro: the policy's expected nonce) matched. When false the
    /// evidence may be a replay.
    pub nonce: bool,
    /// The PCR values in the claims are the ones the evidence signs. TPM: the
    /// claimed values hash to the quote's `pcrDigest`; Nitro: always, as the
    /// document carries its PCR values.
    pub pcrs: bool,
    /// An event log was replayed to the plugin PCR: exactly when
    /// [`Claims::plugins`] is [`Plugins::Replayed`].
    pub event_log: bool,
}

/// The plugins the evidence attests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "measurements", rename_all = "snake_case")]
pub enum Plugins {
    /// No event log was replayed against the evidence: nothing is known about
    /// which plugins were loaded (Nitro evidence, or a quote verified without
    /// an event log). Not the same as an empty [`Plugins::Replayed`].
    NotChecked,
    /// The event log replayed to the evidence's plugin PCR: exactly these
    /// plugins were live (loaded and not unloaded), in load order (possibly
    /// none).
    Replayed(Vec<Measurement>),
}

impl Plugins {
    /// The replayed measurements, or `None` when no event log was checked.
    #[must_use]
    pub fn replayed(&self) -> Option<&[Measurement]> {
        match self {
            Self::NotChecked => None,
            Self::Replayed(m) => Some(m),
        }
    }
}

impl Claims {
    /// Assembles claims; `checked.event_log` follows from `plugins`, so the
    /// two cannot disagree.
    pub(crate) fn new(
        evidence: EvidenceKind,
        trust_basis: TrustBasis,
        nonce_checked: bool,
        pcrs_checked: bool,
        plugins: Plugins,
    ) -> Self {
        Self {
            evidence,
            trust_basis,
            checked: Checked {
                nonce: nonce_checked,
                pcrs: pcrs_checked,
                event_log: matches!(plugins, Plugins::Replayed(_)),
            },
            image: None,
            plugins,
            plugin_events: Vec::new(),
            public_key: None,
            nonce: None,
            user_data: None,
        }
    }
}

impl Claims {
    /// Claims whose plugins come from a log that replayed.
    pub(crate) fn with_replayed_log(mut self, log: &EventLog) -> Self {
        self.plugins = Plugins::Replayed(log.live());
        self.plugin_events = log.events().to_vec();
        self.checked.event_log = true;
        self
    }
}

pub(crate) mod hex_bytes {
    pub(crate) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

mod hex_opt {
    #[allow(clippy::ref_option, reason = "serde's `with` passes `&Option<T>`")]
    pub(super) fn serialize<S: serde::Serializer>(
        v: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
}
