//! The TPM's key derivation functions (TPM 2.0 Part 1, §11.4.10).

use aws_lc_rs::hmac;

use super::TpmError;
use super::alg::HashAlg;

/// The HMAC of `hash`.
pub(crate) fn hmac_alg(hash: HashAlg) -> hmac::Algorithm {
    match hash {
        HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    }
}

/// `KDFa` (TPM 2.0 Part 1, §11.4.10.2; SP 800-108 counter mode with HMAC):
/// `HMAC(key, u32 i || label || 0x00 || contextU || contextV || u32 bits)` for
/// i = 1, 2, … truncated to `bits` (a multiple of 8).
pub(crate) fn kdfa(
    hash: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Result<Vec<u8>, TpmError> {
    let len = byte_len(bits)?;
    let key = hmac::Key::new(hmac_alg(hash), key);
    let mut out = Vec::with_capacity(len.saturating_add(hash.digest_len()));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        for part in [
            &counter.to_be_bytes()[..],
            label,
            &[0],
            context_u,
            context_v,
            &bits.to_be_bytes(),
        ] {
            ctx.update(part);
        }
        out.extend_from_slice(ctx.sign().as_ref());
        counter = counter
            .checked_add(1)
            .ok_or(TpmError::Credential("KDFa length"))?;
    }
    out.truncate(len);
    Ok(out)
}

/// `KDFe` (TPM 2.0 Part 1, §11.4.10.3; SP 800-56A concatenation KDF):
/// `H(u32 i || Z || label || 0x00 || partyU || partyV)` for i = 1, 2, …
/// truncated to `bits` (a multiple of 8).
pub(crate) fn kdfe(
    hash: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
) -> Result<Vec<u8>, TpmError> {
    let len = byte_len(bits)?;
    let mut out = Vec::with_capacity(len.saturating_add(hash.digest_len()));
    let mut counter: u32 = 1;
    while out.len() < len {
        out.extend(hash.digest(&[&counter.to_be_bytes(), z, label, &[0], party_u, party_v]));
        counter = counter
            .checked_add(1)
            .ok_or(TpmError::Credential("KDFe length"))?;
    }
    out.truncate(len);
    Ok(out)
}

fn byte_len(bits: u32) -> Result<usize, TpmError> {
    if !bits.is_multiple_of(8) || bits > 8 * 1024 {
        return Err(TpmError::Credential("KDF output length"));
    }
    usize::try_from(bits / 8).map_err(|_| TpmError::Credential("KDF output length"))
}
