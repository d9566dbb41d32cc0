//! Sharing a credential's seed with the EK's TPM (`encryptedSecret`).
//!
//! * RSA EK: the seed is random and encrypted with RSAES-OAEP (hash = the EK's
//!   nameAlg, label `"IDENTITY\0"`).
//! * ECC EK: an ephemeral key pair `(d_e, Q_e)` is made from caller randomness;
//!   `seed = KDFe(nameAlg, x(d_e · Q_ek), "IDENTITY", x(Q_e), x(Q_ek))` and the
//!   encrypted secret is `Q_e` as a `TPMS_ECC_POINT`.

use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, PrivateKey, UnparsedPublicKey};
use num_bigint::BigUint;

use super::TpmError;
use super::alg::{ECC_NIST_P256, HashAlg};
use super::credential::CREDENTIAL_RANDOM_LEN;
use super::kdf::kdfe;
use super::public::PublicKey;

const LABEL: &[u8] = b"IDENTITY";
/// `TPM_ECC_NIST_P384`.
const ECC_NIST_P384: u16 = 0x0004;

/// Returns `(seed, encryptedSecret buffer)` for an EK's public key.
pub(crate) fn share_seed(
    key: &PublicKey,
    hash: HashAlg,
    random: &[u8; CREDENTIAL_RANDOM_LEN],
) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
    let (first, second) = random.split_at(CREDENTIAL_RANDOM_LEN / 2);
    let short = || TpmError::Credential("randomness too short");
    match key {
        PublicKey::Rsa { modulus, exponent } => {
            let seed = first.get(..hash.digest_len()).ok_or_else(short)?;
            let oaep_seed = second.get(..hash.digest_len()).ok_or_else(short)?;
            let label = [LABEL, &[0]].concat();
            let enc = rsa_oaep_encrypt(modulus, *exponent, hash, &label, seed, oaep_seed)?;
            Ok((seed.to_vec(), enc))
        }
        PublicKey::Ecc { curve, x, y } => ecdh_seed(*curve, x, y, hash, first),
    }
}

fn ecdh_seed(
    curve: u16,
    x: &[u8],
    y: &[u8],
    hash: HashAlg,
    random: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
    let (alg, size) = match curve {
        ECC_NIST_P256 => (&ECDH_P256, 32),
        ECC_NIST_P384 => (&ECDH_P384, 48),
        _ => {
            return Err(TpmError::Credential(
                "the EK's curve is not NIST P-256 or P-384",
            ));
        }
    };
    let scalar = random
        .get(..size)
        .ok_or(TpmError::Credential("randomness too short"))?;
    let ephemeral = PrivateKey::from_private_key(alg, scalar)
        .map_err(|_| TpmError::Credential("randomness is not a valid ECC scalar"))?;
    let qe = ephemeral
        .compute_public_key()
        .map_err(|_| TpmError::Credential("ephemeral ECC key"))?;
    // Uncompressed point: 0x04 || x || y.
    let qe = qe.as_ref();
    let (qe_x, qe_y) = qe
        .get(1..)
        .ok_or(TpmError::Credential("ephemeral ECC key"))?
        .split_at(size);
    let ek_x = pad(x, size)?;
    let ek_point = [&[0x04][..], &ek_x, &pad(y, size)?].concat();
    let seed = agreement::agree(
        &ephemeral,
        UnparsedPublicKey::new(alg, &ek_point),
        TpmError::Credential("the EK's point is not on its curve"),
        |z| kdfe(hash, z, LABEL, qe_x, &ek_x, hash_bits(hash)),
    )?;
    let mut enc = tpm2b(qe_x);
    enc.extend(tpm2b(qe_y));
    Ok((seed, enc))
}

fn hash_bits(hash: HashAlg) -> u32 {
    u32::try_from(hash.digest_len().saturating_mul(8)).unwrap_or(u32::MAX)
}

fn tpm2b(b: &[u8]) -> Vec<u8> {
    let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
    [&len.to_be_bytes()[..], b].concat()
}

/// Left-pads a big-endian coordinate to the curve size.
fn pad(v: &[u8], size: usize) -> Result<Vec<u8>, TpmError> {
    let trimmed = v
        .get(v.iter().take_while(|b| **b == 0).count()..)
        .unwrap_or(&[]);
    let zeros = size.checked_sub(trimmed.len()).ok_or(TpmError::Credential(
        "the EK's coordinate is longer than its curve",
    ))?;
    Ok([vec![0; zeros].as_slice(), trimmed].concat())
}

/// MGF1 (RFC 8017, B.2.1).
fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.saturating_add(hash.digest_len()));
    let mut counter: u32 = 0;
    while out.len() < len {
        out.extend(hash.digest(&[seed, &counter.to_be_bytes()]));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// RSAES-OAEP encryption (RFC 8017, 7.1.1) with caller-supplied OAEP seed.
fn rsa_oaep_encrypt(
    modulus: &[u8],
    exponent: u32,
    hash: HashAlg,
    label: &[u8],
    message: &[u8],
    oaep_seed: &[u8],
) -> Result<Vec<u8>, TpmError> {
    // A real modulus is odd and fills its length (so the encoded message, which
    // starts with a zero byte, is smaller than it); anything else is no RSA key.
    let well_formed = modulus.first().is_some_and(|b| *b != 0)
        && modulus.last().is_some_and(|b| b % 2 == 1)
        && exponent > 1
        && exponent % 2 == 1;
    if !well_formed {
        return Err(TpmError::Credential("the EK's RSA key is malformed"));
    }
    let k = modulus.len();
    let h = hash.digest_len();
    let ps_len = k
        .checked_sub(message.len())
        .and_then(|v| v.checked_sub(2 * h + 2))
        .ok_or(TpmError::Credential("the EK modulus is too small for OAEP"))?;
    let mut db = hash.digest(&[label]);
    db.resize(h.saturating_add(ps_len), 0);
    db.push(1);
    db.extend_from_slice(message);
    for (d, m) in db.iter_mut().zip(mgf1(hash, oaep_seed, k - h - 1)) {
        *d ^= m;
    }
    let mut masked_seed = oaep_seed.to_vec();
    for (s, m) in masked_seed.iter_mut().zip(mgf1(hash, &db, h)) {
        *s ^= m;
    }
    let em = [&[0u8][..], &masked_seed, &db].concat();
    let n = BigUint::from_bytes_be(modulus);
    let c = BigUint::from_bytes_be(&em).modpow(&BigUint::from(exponent), &n);
    let c = c.to_bytes_be();
    let mut out = vec![0u8; k.saturating_sub(c.len())];
    out.extend_from_slice(&c);
    Ok(out)
}
