//! What a verified document must say to be accepted: reference values and
//! freshness, checked fail-closed.
//!
//! There is deliberately no `Default`: a policy either names the PCR values it
//! expects ([`NitroPolicy::expect_pcrs`]) or says loudly that any image will do
//! ([`NitroPolicy::insecure_any_image`]). Either way debug-mode enclaves are
//! refused unless [`NitroPolicy::allow_debug`] is called.

use std::collections::BTreeMap;

use super::claims::NitroClaims;
use super::error::{NitroError, PcrMismatch, PolicyError};
use crate::time::UnixTime;
use crate::verified::Verified;

/// Requirements on a verified document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NitroPolicy {
    pcrs: BTreeMap<u8, Vec<u8>>,
    allow_debug: bool,
    max_age_secs: Option<u64>,
    nonce: Option<Vec<u8>>,
    user_data: Option<Vec<u8>>,
    public_key: Option<Vec<u8>>,
}

impl NitroPolicy {
    /// A policy requiring these PCR values (any subset of indices).
    ///
    /// # Errors
    ///
    /// [`PolicyError::NoExpectedPcrs`] if `pcrs` is empty: accepting any image
    /// must be asked for with [`Self::insecure_any_image`].
    pub fn expect_pcrs(pcrs: impl IntoIterator<Item = (u8, Vec<u8>)>) -> Result<Self, PolicyError> {
        let pcrs: BTreeMap<u8, Vec<u8>> = pcrs.into_iter().collect();
        if pcrs.is_empty() {
            return Err(PolicyError::NoExpectedPcrs);
        }
        Ok(Self {
            pcrs,
            ..Self::insecure_any_image()
        })
    }

    /// **Insecure:** accepts a genuine document from *any* enclave image. Only
    /// the chain, signature and the other checks added with the builder
    /// methods apply (debug enclaves are still refused). Use it to inspect
    /// documents, never to release secrets.
    #[must_use]
    pub fn insecure_any_image() -> Self {
        Self {
            pcrs: BTreeMap::new(),
            allow_debug: false,
            max_age_secs: None,
            nonce: None,
            user_data: None,
            public_key: None,
        }
    }

    /// Also require PCR `index` to equal `value`.
    #[must_use]
    pub fn with_pcr(mut self, index: u8, value: Vec<u8>) -> Self {
        self.pcrs.insert(index, value);
        self
    }

    /// Accept debug-mode enclaves (PCR0/1/2 all zero), whose memory the parent
    /// instance can read. For development only.
    #[must_use]
    pub fn allow_debug(mut self) -> Self {
        self.allow_debug = true;
        self
    }

    /// Refuse documents created more than `secs` seconds before the
    /// verification time.
    #[must_use]
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age_secs = Some(secs);
        self
    }

    /// Require this nonce.
    #[must_use]
    pub fn nonce(mut self, nonce: Vec<u8>) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Require this `user_data`.
    #[must_use]
    pub fn user_data(mut self, user_data: Vec<u8>) -> Self {
        self.user_data = Some(user_data);
        self
    }

    /// Require this `public_key`.
    #[must_use]
    pub fn public_key(mut self, public_key: Vec<u8>) -> Self {
        self.public_key = Some(public_key);
        self
    }

    /// Whether the policy compares the document's nonce with an expected one.
    pub(crate) fn checks_nonce(&self) -> bool {
        self.nonce.is_some()
    }

    /// Applies this policy to claims a verifier already produced (typically
    /// under [`Self::insecure_any_image`] with debug allowed), so that a
    /// relying party can make its own checks — image allow-lists, debug —
    /// between the chain and the nonce. The checks are those of
    /// [`super::NitroVerifier::verify`]'s step 4; when this policy expects a
    /// nonce, the returned claims record that it was compared.
    ///
    /// # Errors
    /// [`NitroError::Policy`] as for [`super::NitroVerifier::verify`].
    pub fn check_verified(
        &self,
        claims: Verified<NitroClaims>,
        now: UnixTime,
    ) -> Result<Verified<NitroClaims>, NitroError> {
        self.check(&claims, now)?;
        let nonce_checked = claims.nonce_checked || self.checks_nonce();
        Ok(claims.map(|c| NitroClaims { nonce_checked, ..c }))
    }

    /// Checks verified claims against the policy at time `now`.
    pub(crate) fn check(&self, claims: &NitroClaims, now: UnixTime) -> Result<(), PolicyError> {
        let mismatches: Vec<PcrMismatch> = self
            .pcrs
            .iter()
            .filter(|(i, v)| claims.pcr(**i) != Some(v.as_slice()))
            .map(|(i, v)| PcrMismatch {
                index: *i,
                expected: v.clone(),
                actual: claims.pcr(*i).map(<[u8]>::to_vec),
            })
            .collect();
        if !mismatches.is_empty() {
            return Err(PolicyError::PcrMismatch(mismatches));
        }
        if claims.is_debug() && !self.allow_debug {
            return Err(PolicyError::Debug);
        }
        if let Some(max_age_secs) = self.max_age_secs {
            let age_secs = now.as_secs().saturating_sub(claims.timestamp_ms / 1000);
            if age_secs > max_age_secs {
                return Err(PolicyError::TooOld {
                    age_secs,
                    max_age_secs,
                });
            }
        }
        check_field(
            self.nonce.as_ref(),
            claims.nonce.as_ref(),
            |expected, actual| PolicyError::Nonce { expected, actual },
        )?;
        check_field(
            self.user_data.as_ref(),
            claims.user_data.as_ref(),
            |expected, actual| PolicyError::UserData { expected, actual },
        )?;
        check_field(
            self.public_key.as_ref(),
            claims.public_key.as_ref(),
            |expected, actual| PolicyError::PublicKey { expected, actual },
        )
    }
}

fn check_field(
    expected: Option<&Vec<u8>>,
    actual: Option<&Vec<u8>>,
    err: impl FnOnce(Vec<u8>, Option<Vec<u8>>) -> PolicyError,
) -> Result<(), PolicyError> {
    match expected {
        Some(e) if actual != Some(e) => Err(err(e.clone(), actual.cloned())),
        _ => Ok(()),
    }
}
