//! What a verified Nitro attestation document says.

use std::collections::BTreeMap;

use super::error::{NitroError, PolicyError};
use crate::claims::{Claims, EvidenceKind, Plugins, TrustBasis};
use crate::event_log::EventLog;
use crate::verified::Verified;

/// The contents of a verified attestation document.
///
/// Obtained only as `Verified<NitroClaims>` from [`super::NitroVerifier`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NitroClaims {
    /// The NSM module that issued the document (`i-…-enc…`).
    pub module_id: String,
    /// Creation time, milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// The PCR digest algorithm; always `SHA384`.
    pub digest: String,
    /// PCR index → value (48 bytes for SHA-384).
    #[serde(serialize_with = "hex_map")]
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    /// The enclave's public key, if it asked for one to be included.
    #[serde(serialize_with = "hex_opt")]
    pub public_key: Option<Vec<u8>>,
    /// Application data, if any.
    #[serde(serialize_with = "hex_opt")]
    pub user_data: Option<Vec<u8>>,
    /// The verifier's nonce, if any.
    #[serde(serialize_with = "hex_opt")]
    pub nonce: Option<Vec<u8>>,
    /// The verified chain, root first, leaf last.
    pub certificates: Vec<CertificateSummary>,
    /// SHA-256 fingerprint of the chain's root (`cabundle[0]`). In a
    /// `Verified<NitroClaims>` it is the root the verifier pinned.
    #[serde(serialize_with = "hex")]
    pub root_sha256: Vec<u8>,
    /// Whether the policy compared `nonce` with an expected value.
    pub nonce_checked: bool,
}

/// A certificate of the verified chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateSummary {
    /// Subject distinguished name.
    pub subject: String,
    /// `notBefore`, seconds since the epoch.
    pub not_before: i64,
    /// `notAfter`, seconds since the epoch.
    pub not_after: i64,
}

impl NitroClaims {
    /// The value of PCR `index`, if the document has it.
    #[must_use]
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.pcrs.get(&index).map(Vec::as_slice)
    }

    /// Whether the enclave runs in debug mode: PCR0, PCR1 and PCR2 are all
    /// zero (or absent). Debug enclaves can be inspected by the parent.
    #[must_use]
    pub fn is_debug(&self) -> bool {
        (0..=2).all(|i| self.pcr(i).is_none_or(|v| v.iter().all(|b| *b == 0)))
    }
}

impl Verified<NitroClaims> {
    /// The backend-neutral claims, still marked as verified: image = PCR0, the
    /// trust basis is the pinned root, and plugins are [`Plugins::NotChecked`]
    /// (Nitro documents carry no event log; see
    /// [`Self::into_claims_with_event_log`]).
    #[must_use]
    pub fn into_claims(self) -> Verified<Claims> {
        self.map(|c| c.into_common(Plugins::NotChecked))
    }

    /// The backend-neutral claims with the plugins of `log`, after checking
    /// that the document binds that log:
    ///
    /// 1. `user_data` is the log's digest ([`EventLog::digest`]), else
    ///    [`PolicyError::UserData`];
    /// 2. the log splits into consecutive non-empty runs that replay (SHA-384,
    ///    from zero) to the document's plugin PCRs 16, 17, … in turn, every
    ///    event in one run and every plugin PCR present matched
    ///    ([`crate::nitro::PLUGIN_PCRS`]), else [`NitroError::EventLog`].
    ///
    /// On success `plugins` is [`Plugins::Replayed`] and `checked.event_log`
    /// is true.
    ///
    /// # Errors
    /// As listed in the steps above.
    pub fn into_claims_with_event_log(
        self,
        log: &EventLog,
    ) -> Result<Verified<Claims>, NitroError> {
        // Step 1: the document binds this log.
        let digest = log.digest();
        if self.user_data.as_deref() != Some(digest.as_slice()) {
            return Err(PolicyError::UserData {
                expected: digest.to_vec(),
                actual: self.user_data.clone(),
            }
            .into());
        }
        // Step 2: the log replays to the locked plugin PCRs, in turn.
        super::replay::check(log, &self.pcrs)?;
        Ok(self.map(|c| c.into_common(Plugins::NotChecked).with_replayed_log(log)))
    }
}

impl NitroClaims {
    fn into_common(self, plugins: Plugins) -> Claims {
        let basis = TrustBasis::nitro_root(&self.root_sha256);
        Claims {
            image: self.pcrs.get(&0).cloned(),
            public_key: self.public_key,
            nonce: self.nonce,
            user_data: self.user_data,
            ..Claims::new(
                EvidenceKind::Nitro,
                basis,
                self.nonce_checked,
                true,
                plugins,
            )
        }
    }
}

fn hex<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn hex_map<S: serde::Serializer>(v: &BTreeMap<u8, Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, v)| (k.to_string(), hex::encode(v))))
}

#[allow(
    clippy::ref_option,
    reason = "serde's `serialize_with` passes `&Option<T>`"
)]
fn hex_opt<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(&hex::encode(b)),
        None => s.serialize_none(),
    }
}
