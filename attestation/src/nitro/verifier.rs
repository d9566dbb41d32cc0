//! Verification of a parsed document into `Verified<NitroClaims>`.

use super::cert_cache::CertCache;
use super::chain::{self, At};
use super::claims::NitroClaims;
use super::cose;
use super::document::UnverifiedNitroDocument;
use super::error::NitroError;
use super::policy::NitroPolicy;
use super::root::NitroRoot;
use crate::time::UnixTime;
use crate::verified::Verified;

/// Verifies Nitro attestation documents against a pinned root.
#[derive(Debug, Clone)]
pub struct NitroVerifier {
    root: NitroRoot,
    skew_secs: u64,
}

impl NitroVerifier {
    /// A verifier anchored at `root`, with no clock-skew allowance.
    #[must_use]
    pub fn new(root: NitroRoot) -> Self {
        Self { root, skew_secs: 0 }
    }

    /// A verifier anchored at the AWS Nitro Enclaves Root-G1 shipped with this crate.
    #[must_use]
    pub fn aws() -> Self {
        Self::new(NitroRoot::aws_g1())
    }

    /// Tolerates clocks that differ by up to `secs` seconds: certificate
    /// validity is widened by `secs` at both ends, and the document timestamp
    /// may be up to `secs` ahead of the verification time.
    #[must_use]
    pub fn with_clock_skew(mut self, secs: u64) -> Self {
        self.skew_secs = secs;
        self
    }

    /// Verifies `doc` at time `now` and checks it against `policy`.
    ///
    /// # Errors
    ///
    /// [`NitroError::Chain`] naming the certificate and the check that failed,
    /// [`NitroError::Signature`] if the COSE signature does not verify,
    /// [`NitroError::FromTheFuture`] if the document postdates `now`, and
    /// [`NitroError::Policy`] if the verified claims do not meet `policy`.
    pub fn verify(
        &self,
        doc: &UnverifiedNitroDocument,
        policy: &NitroPolicy,
        now: UnixTime,
    ) -> Result<Verified<NitroClaims>, NitroError> {
        self.verify_inner(doc, policy, now, None)
    }

    /// As [`Self::verify`], reusing and filling `cache` so that certificates
    /// already verified for an earlier document are not verified again.
    ///
    /// # Errors
    ///
    /// As for [`Self::verify`].
    pub fn verify_cached(
        &self,
        doc: &UnverifiedNitroDocument,
        policy: &NitroPolicy,
        now: UnixTime,
        cache: &mut CertCache,
    ) -> Result<Verified<NitroClaims>, NitroError> {
        self.verify_inner(doc, policy, now, Some(cache))
    }

    fn verify_inner(
        &self,
        doc: &UnverifiedNitroDocument,
        policy: &NitroPolicy,
        now: UnixTime,
        cache: Option<&mut CertCache>,
    ) -> Result<Verified<NitroClaims>, NitroError> {
        let p = &doc.payload;
        let at = At {
            now,
            skew_secs: self.skew_secs,
        };
        // Step 1: the chain, from the pinned root to the leaf key.
        let chain = chain::verify(&self.root, &p.cabundle, &p.certificate, at, cache)?;
        // Step 2: the COSE signature over the received bytes, with the leaf key.
        cose::verify_signature(&doc.envelope, &chain.leaf_key.point)?;
        // Step 3: the document does not postdate the verification time.
        let timestamp_secs = p.timestamp_ms / 1000;
        if timestamp_secs > now.saturating_add(self.skew_secs).as_secs() {
            return Err(NitroError::FromTheFuture {
                timestamp_secs,
                now: now.as_secs(),
                skew_secs: self.skew_secs,
            });
        }
        let claims = NitroClaims {
            certificates: chain.certificates,
            root_sha256: self.root.sha256_fingerprint().to_vec(),
            nonce_checked: policy.checks_nonce(),
            ..doc.unverified_claims()
        };
        // Step 4: the caller's policy.
        policy.check(&claims, now)?;
        Ok(Verified::new(claims))
    }
}

/// Parses and verifies `bytes` with `verifier` and `policy` at `now`.
///
/// # Errors
///
/// As for [`UnverifiedNitroDocument::parse`] and [`NitroVerifier::verify`].
pub fn verify(
    bytes: &[u8],
    verifier: &NitroVerifier,
    policy: &NitroPolicy,
    now: UnixTime,
) -> Result<Verified<NitroClaims>, NitroError> {
    let doc = UnverifiedNitroDocument::parse(bytes)?;
    verifier.verify(&doc, policy, now)
}
