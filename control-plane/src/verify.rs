//! TEMP stand-in (dropped once the real module is merged): the verifier.

use enclet_attestation::nitro::NitroRoot;
use enclet_attestation::tpm::{ActivatedAk, EkIdentity};
use enclet_attestation::{Claims, UnixTime, Verified};

use crate::reference::ReferenceValues;

/// Stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Code.
    pub code: &'static str,
    /// Message.
    pub message: String,
}

/// Stand-in.
#[derive(Debug, Clone)]
pub struct TpmTrust {
    /// Root.
    pub root: Vec<u8>,
    /// Intermediates.
    pub intermediates: Vec<Vec<u8>>,
}

/// Stand-in.
#[derive(Debug)]
pub struct TpmEvidence<'a> {
    /// Attest.
    pub attest: &'a [u8],
    /// Signature.
    pub signature: &'a [u8],
    /// AK.
    pub ak_public: &'a [u8],
    /// PCRs.
    pub pcrs: &'a [(u8, Vec<u8>)],
}

/// Stand-in.
#[derive(Debug, Clone)]
pub struct VerifiedEnclave {
    /// Claims.
    pub claims: Verified<Claims>,
    /// Debug.
    pub debug: bool,
}

/// Stand-in.
#[derive(Debug)]
pub struct Verifier {
    tpm: Option<TpmTrust>,
}

impl Verifier {
    /// Stand-in.
    #[must_use]
    pub fn new(_reference: ReferenceValues, tpm: Option<TpmTrust>, _nitro_root: NitroRoot) -> Self {
        Self { tpm }
    }

    /// Stand-in.
    #[must_use]
    pub fn insecure_fixed_nitro_time_for_tests(self, _t: UnixTime) -> Self {
        self
    }

    /// Stand-in.
    ///
    /// # Errors
    /// Chain.
    pub fn check_ek(
        &self,
        ek_certificate: &[u8],
        ek_public: &[u8],
        now: UnixTime,
    ) -> Result<Verified<EkIdentity>, Refusal> {
        let refuse = |m: String| Refusal {
            code: "ek_certificate_rejected",
            message: m,
        };
        let trust = self.tpm.as_ref().ok_or_else(|| refuse("no TPM CA".to_owned()))?;
        let inter: Vec<&[u8]> = trust.intermediates.iter().map(Vec::as_slice).collect();
        enclet_attestation::tpm::verify_ek_certificate(
            ek_certificate,
            &inter,
            &trust.root,
            ek_public,
            now,
        )
        .map_err(|e| refuse(e.to_string()))
    }

    /// Stand-in.
    ///
    /// # Errors
    /// Always.
    pub fn verify_tpm(
        &self,
        _ak: &Verified<ActivatedAk>,
        _ev: &TpmEvidence<'_>,
        _event_log: &[u8],
        _public_key: &[u8],
        _nonce: &[u8],
    ) -> Result<VerifiedEnclave, Refusal> {
        Err(Refusal {
            code: "evidence_rejected",
            message: "stand-in".to_owned(),
        })
    }

    /// Stand-in.
    ///
    /// # Errors
    /// Always.
    pub fn verify_nitro(
        &self,
        _document: &[u8],
        _event_log: &[u8],
        _public_key: &[u8],
        _nonce: &[u8],
        _now: UnixTime,
    ) -> Result<VerifiedEnclave, Refusal> {
        Err(Refusal {
            code: "evidence_rejected",
            message: "stand-in".to_owned(),
        })
    }
}
