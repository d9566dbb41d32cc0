//! TPM 2.0 quotes, attestation-key trust and the plugin event log, verified in
//! pure Rust (no TPM software stack needed by verifiers).
//!
//! ```text
//!  EK cert ──verify_ek_certificate(CA, now)──▶ Verified<EkIdentity>
//!                                                   │ challenge(AK public, randomness)
//!                          Credential ──▶ TPM2_ActivateCredential ──▶ secret
//!                                                   │ finish(secret)
//!                                                   ▼
//!  TPMS_ATTEST + TPMT_SIGNATURE + AK ──verify_quote(expectations)──▶ Verified<TpmClaims>
//!      (PCR values, event log, nonce)          ▲ Verified<ActivatedAk> (optional)
//! ```
//!
//! * `reader` — bounded big-endian reads, every field named in errors.
//! * `attest` — `TPMS_ATTEST` of a quote → [`UnverifiedQuote`].
//! * `public` — `TPMT_PUBLIC` / `TPM2B_PUBLIC` (RSA, ECC) and object names.
//! * `signature` — `TPMT_SIGNATURE`: RSASSA SHA-1/SHA-256/…, ECDSA P-256.
//! * `pcr` — selections, claimed [`PcrValues`] and the `pcrDigest`.
//! * `credential` — `MakeCredential` and the activation challenge; `secret` and
//!   `kdf` share its seed with the EK (RSA-OAEP, or ECDH + `KDFe`).
//! * `ek` — EK certificate chain to a configured CA.
//! * `verify` — [`verify_quote`], producing [`TpmClaims`].
//!
//! A `Verified<TpmClaims>` proves that the AK signed this quote and — as far
//! as its `claims.checked` says — that `extraData` is the expected value and
//! that the claimed PCR values and the event log are the quoted ones. The
//! signature alone does not prove a TPM made the quote: anyone can create a
//! software key with the restricted attribute. The AK is trusted only after
//! credential activation ([`challenge`], done once per AK) against an EK whose
//! certificate chains to the verifier's CA; a quote verified with the resulting
//! `Verified<ActivatedAk>` has `claims.trust_basis` = `activated_ak`, any other
//! `caller_pinned_ak`. Quotes are then verified once per attestation session
//! (about 0.1 ms each, see `benches/tpm.rs`).
//!
//! ## Measurement layout (shared with the enclave's TPM attester)
//!
//! | PCR | bank | holds |
//! |---|---|---|
//! | [`IMAGE_PCR`] (23) | SHA-256 | the enclave binary: reset at enclave start, then extended once with `SHA-256(SHA-384(binary))` |
//! | [`PLUGIN_PCR`] (16) | SHA-256 | plugins: reset at enclave start, then `SHA-256(measurement)` extended per newly loaded plugin, in event-log order |
//!
//! Both are PCRs that locality 0 may reset, so each enclave start replays from
//! zero and the verifier can recompute both values. On the TPM path the host OS
//! is inside the trusted computing base (it could reset these PCRs); see the
//! threat model.

use sha2::{Digest, Sha256};

mod alg;
mod attest;
mod claims;
mod credential;
mod ek;
mod error;
mod kdf;
mod pcr;
mod public;
mod reader;
mod secret;
mod signature;
mod verify;

pub use alg::HashAlg;
pub use attest::{ClockInfo, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE, UnverifiedQuote};
pub use claims::{QuotedPcr, TpmClaims};
pub use credential::{
    ActivatedAk, CHALLENGE_RANDOM_LEN, CREDENTIAL_RANDOM_LEN, Credential, CredentialChallenge,
    ak_name, challenge, make_credential,
};
pub use ek::{EkIdentity, verify_ek_certificate};
pub use error::TpmError;
pub use pcr::{MAX_PCR_INDEX, PcrSelection, PcrValues};
pub use public::{ObjectAttributes, PublicKey, Scheme, TpmPublic};
pub use signature::TpmSignature;
pub use verify::{ExpectedExtraData, QuoteEvidence, TpmExpectations, verify_quote};

/// PCR holding the enclave image measurement (SHA-256 bank).
pub const IMAGE_PCR: u8 = 23;
/// PCR holding the plugin measurements (SHA-256 bank).
pub const PLUGIN_PCR: u8 = 16;

/// The TPM quote's qualifying data (`extraData`) binding a verifier's nonce, the
/// enclave's public key and the event-log digest:
/// `SHA-256("enclet-tpm-quote/v1" || u32-be len || nonce || u32-be len || public_key || event_log_digest)`.
#[must_use]
pub fn qualifying_data(nonce: &[u8], public_key: &[u8], event_log_digest: &[u8; 48]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"enclet-tpm-quote/v1");
    for part in [nonce, public_key] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(part);
    }
    h.update(event_log_digest);
    h.finalize().into()
}

#[cfg(test)]
mod tests;
