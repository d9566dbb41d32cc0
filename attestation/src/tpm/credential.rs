//! Credential activation, verifier side: `TPM2_MakeCredential` in pure Rust.
//!
//! To learn that an AK lives in the same TPM as a certified EK, the verifier
//! encrypts a secret so that only that TPM can recover it, and only if it holds
//! an object with the AK's *name* (TPM 2.0 Part 1, §24 "Credential Protection"):
//!
//! ```text
//! seed            = random, |H_ek| bytes            (H_ek = the EK's nameAlg)
//! encryptedSecret = RSA-OAEP(EK, seed, H_ek, label "IDENTITY\0")
//! symKey          = KDFa(H_ek, seed, "STORAGE", akName, "", EK symmetric key bits)
//! encIdentity     = AES-CFB(symKey, IV = 0, u16 |secret| || secret)
//! hmacKey         = KDFa(H_ek, seed, "INTEGRITY", "", "", |H_ek| * 8)
//! idObject        = u16 |h| || h  where h = HMAC(hmacKey, encIdentity || akName), then encIdentity
//! ```
//!
//! For an ECC EK, the seed is instead derived by ECDH with an ephemeral key and
//! `KDFe`, and `encryptedSecret` is the ephemeral public point (see `secret`).
//! The TPM's `TPM2_ActivateCredential` reverses this and returns `secret` only if
//! the named AK is loaded next to the EK. This module is pure: all randomness
//! comes from the caller.

use aws_lc_rs::cipher::{AES_128, AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use crate::{Error, Verified};

use super::TpmError;
use super::alg::{ALG_AES, ALG_CFB, HashAlg};
use super::ek::EkIdentity;
use super::kdf::{hmac_alg, kdfa};
use super::public::{ObjectAttributes, TpmPublic};
use super::secret::share_seed;

/// Bytes of caller randomness [`make_credential`] takes.
pub const CREDENTIAL_RANDOM_LEN: usize = 128;
/// Bytes of caller randomness [`challenge`] takes.
pub const CHALLENGE_RANDOM_LEN: usize = CREDENTIAL_RANDOM_LEN + SECRET_LEN;
/// Length of the secret [`challenge`] makes.
const SECRET_LEN: usize = 32;

/// The output of `MakeCredential`, ready for `TPM2_ActivateCredential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The `TPM2B_ID_OBJECT` *buffer* (without its size): the integrity HMAC as a
    /// `TPM2B_DIGEST`, then the encrypted identity. tss-esapi: `IdObject::try_from`.
    pub id_object: Vec<u8>,
    /// The `TPM2B_ENCRYPTED_SECRET` *buffer* (without its size): the seed
    /// encrypted to the EK. tss-esapi: `EncryptedSecret::try_from`.
    pub encrypted_secret: Vec<u8>,
}

impl Credential {
    /// `id_object` as a size-prefixed `TPM2B_ID_OBJECT` (as tpm2-tools writes it).
    #[must_use]
    pub fn id_object_tpm2b(&self) -> Vec<u8> {
        tpm2b(&self.id_object)
    }

    /// `encrypted_secret` as a size-prefixed `TPM2B_ENCRYPTED_SECRET`.
    #[must_use]
    pub fn encrypted_secret_tpm2b(&self) -> Vec<u8> {
        tpm2b(&self.encrypted_secret)
    }
}

fn tpm2b(b: &[u8]) -> Vec<u8> {
    let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
    [&len.to_be_bytes()[..], b].concat()
}

/// The AK's name, `nameAlg || H_nameAlg(TPMT_PUBLIC)`, from a `TPMT_PUBLIC` or
/// `TPM2B_PUBLIC`.
///
/// # Errors
/// [`Error::Tpm`] if the public area does not parse.
pub fn ak_name(ak_public: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(TpmPublic::parse(ak_public)?.name())
}

/// `TPM2_MakeCredential`: protects `secret` (at most the EK nameAlg's digest
/// length) for the TPM holding `ek_public` and an object named `ak_name`.
///
/// `random` must be fresh output of a CSPRNG; it supplies the seed and the OAEP
/// randomness (the first and second halves).
///
/// # Errors
/// [`TpmError::Credential`] if the EK is not an RSA storage key with AES-CFB,
/// the secret is too long or empty, or `ak_name` is not a name.
pub fn make_credential(
    ek_public: &[u8],
    ak_name: &[u8],
    secret: &[u8],
    random: &[u8; CREDENTIAL_RANDOM_LEN],
) -> Result<Credential, Error> {
    let ek = TpmPublic::parse(ek_public)?;
    Ok(make(&ek, ak_name, secret, random)?)
}

fn make(
    ek: &TpmPublic,
    name: &[u8],
    secret: &[u8],
    random: &[u8; CREDENTIAL_RANDOM_LEN],
) -> Result<Credential, TpmError> {
    let hash = ek.name_alg();
    if secret.is_empty() || secret.len() > hash.digest_len() {
        return Err(TpmError::Credential("secret must be 1 to |nameAlg| bytes"));
    }
    let name_ok = name
        .split_first_chunk::<2>()
        .and_then(|(alg, digest)| {
            HashAlg::from_id(u16::from_be_bytes(*alg)).map(|h| h.digest_len() == digest.len())
        })
        .unwrap_or(false);
    if !name_ok {
        return Err(TpmError::Credential("the AK name is not nameAlg || digest"));
    }
    let attrs = ek.attributes();
    if !attrs.has(ObjectAttributes::RESTRICTED | ObjectAttributes::DECRYPT) {
        return Err(TpmError::Credential(
            "the EK is not a restricted decryption key",
        ));
    }
    let (sym_bits, aes) = match ek.symmetric() {
        Some((ALG_AES, 128, ALG_CFB)) => (128, &AES_128),
        Some((ALG_AES, 256, ALG_CFB)) => (256, &AES_256),
        _ => {
            return Err(TpmError::Credential(
                "the EK's symmetric scheme is not AES-CFB",
            ));
        }
    };
    let (seed, encrypted_secret) = share_seed(ek.key(), hash, random)?;
    let seed = seed.as_slice();
    let sym_key = kdfa(hash, seed, b"STORAGE", name, &[], sym_bits)?;
    let mut enc_identity = tpm2b(secret);
    let key = UnboundCipherKey::new(aes, &sym_key).map_err(|_| TpmError::Credential("AES key"))?;
    EncryptingKey::cfb128(key)
        .and_then(|k| {
            k.less_safe_encrypt(
                &mut enc_identity,
                EncryptionContext::Iv128(FixedLength::from([0u8; 16])),
            )
        })
        .map_err(|_| TpmError::Credential("AES-CFB encryption failed"))?;
    let hmac_bits = u32::try_from(hash.digest_len().saturating_mul(8)).unwrap_or(u32::MAX);
    let hmac_key = kdfa(hash, seed, b"INTEGRITY", &[], &[], hmac_bits)?;
    let integrity = hmac::sign(
        &hmac::Key::new(hmac_alg(hash), &hmac_key),
        &[&enc_identity[..], name].concat(),
    );
    let mut id_object = tpm2b(integrity.as_ref());
    id_object.extend_from_slice(&enc_identity);
    Ok(Credential {
        id_object,
        encrypted_secret,
    })
}

/// An AK proven, by credential activation, to live in a certified EK's TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivatedAk {
    ak_public: Vec<u8>,
    ak_name: Vec<u8>,
    ek_name: Vec<u8>,
}

impl ActivatedAk {
    /// The AK's `TPMT_PUBLIC` bytes.
    #[must_use]
    pub fn ak_public(&self) -> &[u8] {
        &self.ak_public
    }

    /// The AK's name.
    #[must_use]
    pub fn ak_name(&self) -> &[u8] {
        &self.ak_name
    }

    /// The name of the EK it was activated against.
    #[must_use]
    pub fn ek_name(&self) -> &[u8] {
        &self.ek_name
    }
}

/// A pending credential-activation challenge: keep it, send the [`Credential`]
/// to the TPM, then [`CredentialChallenge::finish`] with what the TPM returned.
///
/// It holds the secret that proves activation, so its `Debug` output leaves
/// the secret out: anyone who saw it in a log could answer the challenge
/// without the TPM.
pub struct CredentialChallenge {
    ak: ActivatedAk,
    secret: Vec<u8>,
}

impl core::fmt::Debug for CredentialChallenge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CredentialChallenge")
            .field("ak", &self.ak)
            .field(
                "secret",
                &format_args!("<{} bytes, redacted>", self.secret.len()),
            )
            .finish()
    }
}

/// Starts credential activation of `ak_public` against a verified EK.
///
/// `random` must be fresh CSPRNG output (the secret, seed and OAEP randomness).
///
/// # Errors
/// [`TpmError::AkAttributes`] if the AK is not a restricted signing key bound to
/// its TPM (`fixedTPM`); [`TpmError::Credential`] as for [`make_credential`].
pub fn challenge(
    ek: &Verified<EkIdentity>,
    ak_public: &[u8],
    random: &[u8; CHALLENGE_RANDOM_LEN],
) -> Result<(CredentialChallenge, Credential), Error> {
    let ak = TpmPublic::parse(ak_public)?;
    let attrs = ak.attributes();
    if !attrs.is_restricted_signing() || !attrs.has(ObjectAttributes::FIXED_TPM) {
        return Err(TpmError::AkAttributes(attrs.0).into());
    }
    let (secret, rest) = random
        .split_first_chunk::<SECRET_LEN>()
        .ok_or(TpmError::Credential("randomness"))?;
    let rest: &[u8; CREDENTIAL_RANDOM_LEN] = rest
        .try_into()
        .map_err(|_| TpmError::Credential("randomness"))?;
    let ek_public = TpmPublic::parse(ek.ek_public())?;
    let name = ak.name();
    let secret = secret
        .get(..ek_public.name_alg().digest_len().min(SECRET_LEN))
        .unwrap_or(secret);
    let credential = make(&ek_public, &name, secret, rest)?;
    let pending = CredentialChallenge {
        ak: ActivatedAk {
            ak_public: ak.tpmt_bytes().to_vec(),
            ak_name: name,
            ek_name: ek_public.name(),
        },
        secret: secret.to_vec(),
    };
    Ok((pending, credential))
}

impl CredentialChallenge {
    /// Completes activation: `activated` is what `TPM2_ActivateCredential` returned.
    ///
    /// # Errors
    /// [`TpmError::Credential`] if it is not the secret (compared in constant time).
    pub fn finish(self, activated: &[u8]) -> Result<Verified<ActivatedAk>, Error> {
        if verify_slices_are_equal(&self.secret, activated).is_err() {
            return Err(TpmError::Credential(
                "the TPM did not recover the secret: the AK is not in the EK's TPM",
            )
            .into());
        }
        Ok(Verified::new(self.ak))
    }
}
