//! Quote verification: from wire bytes and expectations to [`Verified<TpmClaims>`].

use crate::claims::{EvidenceKind, Plugins, TrustBasis};
use crate::event_log::EventLog;
use crate::{Claims, Error, Verified};

use super::alg::HashAlg;
use super::attest::UnverifiedQuote;
use super::claims::{QuotedPcr, TpmClaims};
use super::credential::ActivatedAk;
use super::pcr::{PcrValues, pcr_digest};
use super::public::TpmPublic;
use super::signature::TpmSignature;
use super::{IMAGE_PCR, PLUGIN_PCR, TpmError, qualifying_data};

/// A quote as the prover sent it: raw TPM wire structures.
#[derive(Debug, Clone, Copy)]
pub struct QuoteEvidence<'a> {
    /// `TPMS_ATTEST` (or `TPM2B_ATTEST`) bytes.
    pub attest: &'a [u8],
    /// `TPMT_SIGNATURE` over the `TPMS_ATTEST`.
    pub signature: &'a [u8],
    /// The AK's `TPMT_PUBLIC` (or `TPM2B_PUBLIC`).
    pub ak_public: &'a [u8],
}

/// What the quote's `extraData` must be.
#[derive(Debug, Clone, Copy)]
pub enum ExpectedExtraData<'a> {
    /// Not checked. The claims carry `extraData` but `claims.checked.nonce` is
    /// false and no nonce is claimed: replay is possible. For inspection only.
    Unchecked,
    /// Exactly these bytes (a raw nonce; empty for none).
    Exact(&'a [u8]),
    /// enclet's binding: [`qualifying_data`]`(nonce, public_key,
    /// event_log.digest())`. Needs [`TpmExpectations::event_log`].
    Enclet {
        /// The verifier's fresh nonce.
        nonce: &'a [u8],
        /// The enclave's public key.
        public_key: &'a [u8],
    },
}

/// What the verifier expects of a quote.
#[derive(Debug, Clone, Copy)]
pub struct TpmExpectations<'a> {
    /// The expected `extraData`.
    pub extra_data: ExpectedExtraData<'a>,
    /// Claimed values of the quoted PCRs; `None` skips the `pcrDigest` check.
    pub pcrs: Option<&'a PcrValues>,
    /// The plugin event log, replayed to the SHA-256 [`PLUGIN_PCR`] (needs `pcrs`).
    pub event_log: Option<&'a EventLog>,
    /// The AK proven by credential activation; when set, the quote's AK must be
    /// it and the claims' trust basis is `activated_ak`. When `None`, the AK in
    /// the evidence is taken as given and the basis is `caller_pinned_ak`.
    pub activated_ak: Option<&'a Verified<ActivatedAk>>,
}

/// Verifies a TPM quote.
///
/// Steps: (1) parse the AK, the signature and the quote (magic
/// `TPM_GENERATED_VALUE`, type `TPM_ST_ATTEST_QUOTE`); (2) require a restricted
/// signing AK, and the activated AK if one is given; (3) verify the signature over
/// the `TPMS_ATTEST` bytes; (4) recompute `pcrDigest` from the claimed values
/// with the signature's hash; (5) replay the event log to the plugin PCR;
/// (6) compare `extraData`; (7) build the claims.
///
/// # Errors
/// [`Error::Tpm`] naming the first failed step (see [`TpmError::code`]).
pub fn verify_quote(
    ev: &QuoteEvidence<'_>,
    exp: &TpmExpectations<'_>,
) -> Result<Verified<TpmClaims>, Error> {
    // Step 1: syntax.
    let ak = TpmPublic::parse(ev.ak_public)?;
    let sig = TpmSignature::parse(ev.signature)?;
    let quote = UnverifiedQuote::parse(ev.attest)?;
    // Step 2: the AK.
    if !ak.attributes().is_restricted_signing() {
        return Err(TpmError::AkAttributes(ak.attributes().0).into());
    }
    if let Some(activated) = exp.activated_ak
        && activated.ak_public() != ak.tpmt_bytes()
    {
        return Err(TpmError::AkNotActivated.into());
    }
    // Step 3: the signature over the exact TPMS_ATTEST bytes.
    sig.verify(&ak, &quote.raw)?;
    // Step 4: pcrDigest.
    let hash = sig.hash();
    let pcrs = check_pcrs(&quote, exp.pcrs, hash)?;
    // Step 5: event log. Before extraData, which also binds the log's digest, so
    // that a log other than the measured one is reported as such.
    let plugins = check_event_log(&quote, exp)?;
    // Step 6: extraData.
    let (nonce, public_key, user_data) = check_extra_data(&quote, exp)?;
    // Step 7: claims.
    let image = exp
        .pcrs
        .filter(|_| quote.selection.contains(HashAlg::Sha256, IMAGE_PCR))
        .and_then(|v| v.get(HashAlg::Sha256, IMAGE_PCR))
        .map(<[u8]>::to_vec);
    let basis = match exp.activated_ak {
        Some(activated) => TrustBasis::activated(activated),
        None => TrustBasis::caller_pinned_ak(ak.name()),
    };
    let nonce_checked = !matches!(exp.extra_data, ExpectedExtraData::Unchecked);
    let common = Claims {
        image,
        public_key,
        nonce,
        user_data,
        ..Claims::new(
            EvidenceKind::Tpm,
            basis,
            nonce_checked,
            exp.pcrs.is_some(),
            Plugins::NotChecked,
        )
    };
    let claims = TpmClaims {
        claims: match plugins {
            Some(log) => common.with_replayed_log(log),
            None => common,
        },
        ak_name: ak.name(),
        signature_hash: hash,
        qualified_signer: quote.qualified_signer.clone(),
        extra_data: quote.extra_data.clone(),
        clock: quote.clock,
        firmware_version: quote.firmware_version,
        pcrs,
        pcr_digest: quote.pcr_digest.clone(),
    };
    Ok(Verified::new(claims))
}

type Bound = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// Step 6: returns the claimed (nonce, public key, user data).
fn check_extra_data(quote: &UnverifiedQuote, exp: &TpmExpectations<'_>) -> Result<Bound, TpmError> {
    match exp.extra_data {
        ExpectedExtraData::Unchecked => Ok((None, None, None)),
        ExpectedExtraData::Exact(nonce) if quote.extra_data == nonce => {
            Ok((Some(nonce.to_vec()), None, None))
        }
        ExpectedExtraData::Exact(nonce) => Err(TpmError::Nonce {
            expected: hex::encode(nonce),
            actual: hex::encode(&quote.extra_data),
        }),
        ExpectedExtraData::Enclet { nonce, public_key } => {
            let log = exp.event_log.ok_or_else(|| {
                TpmError::EventLog("the enclet binding needs the event log".into())
            })?;
            let digest = log.digest();
            let expected = qualifying_data(nonce, public_key, &digest);
            // A hash cannot say which input differs: the nonce is stale, or
            // the enclave's public key or event log is not the one the quote
            // binds. Hence one code for all three.
            if quote.extra_data != expected {
                return Err(TpmError::QualifyingData {
                    expected: hex::encode(expected),
                    actual: hex::encode(&quote.extra_data),
                });
            }
            Ok((
                Some(nonce.to_vec()),
                Some(public_key.to_vec()),
                Some(digest.to_vec()),
            ))
        }
    }
}

/// Step 4: the quoted PCRs, with values when they were checked.
fn check_pcrs(
    quote: &UnverifiedQuote,
    values: Option<&PcrValues>,
    hash: HashAlg,
) -> Result<Vec<QuotedPcr>, TpmError> {
    if let Some(values) = values {
        let digest = pcr_digest(&quote.selection, values, hash)?;
        if digest != quote.pcr_digest {
            return Err(TpmError::PcrDigest);
        }
    }
    Ok(quote
        .selection
        .iter()
        .map(|(bank, index)| QuotedPcr {
            bank,
            index,
            value: values.and_then(|v| v.get(bank, index)).map(<[u8]>::to_vec),
        })
        .collect())
}

/// Step 5: the plugins, when an event log was given and replays.
fn check_event_log<'a>(
    quote: &UnverifiedQuote,
    exp: &TpmExpectations<'a>,
) -> Result<Option<&'a EventLog>, TpmError> {
    let Some(log) = exp.event_log else {
        return Ok(None);
    };
    let values = exp.pcrs.ok_or_else(|| {
        TpmError::EventLog("replaying the event log needs the quoted PCR values".into())
    })?;
    if !quote.selection.contains(HashAlg::Sha256, PLUGIN_PCR) {
        return Err(TpmError::EventLog(format!(
            "the quote does not cover sha256:{PLUGIN_PCR}"
        )));
    }
    let quoted = values
        .get(HashAlg::Sha256, PLUGIN_PCR)
        .ok_or(TpmError::PcrMissing {
            bank: "sha256",
            index: PLUGIN_PCR,
        })?;
    if log.replay_sha256() != quoted {
        return Err(TpmError::EventLog(format!(
            "{} event(s) do not replay to sha256:{PLUGIN_PCR}",
            log.len()
        )));
    }
    Ok(Some(log))
}
