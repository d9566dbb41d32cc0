//! The endorsement key, its certificate, and the attestation key.

use tss_esapi::{
    Context,
    abstraction::{AsymmetricAlgorithmSelection, ak, ek},
    handles::KeyHandle,
    interface_types::{
        algorithm::{HashingAlgorithm, SignatureSchemeAlgorithm},
        ecc::EccCurve,
        key_bits::RsaKeyBits,
    },
    structures::{Public, PublicBuffer},
    traits::Marshall,
};

use super::device;
use crate::{AttesterError, TpmIdentity};

/// The EK algorithm whose certificate `swtpm_setup` (and most vendors) store at
/// NV index `0x01c00002`.
const EK_ALGORITHM: AsymmetricAlgorithmSelection =
    AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048);

/// Upper bound on an EK certificate; NV indices are far smaller in practice.
const MAX_CERT_LEN: usize = 16 * 1024;

/// Loaded keys and the public identity a verifier sees.
pub(super) struct Keys {
    pub(super) ek: KeyHandle,
    pub(super) ak: KeyHandle,
    pub(super) identity: TpmIdentity,
}

/// Derives the EK, reads its certificate, and creates and loads a new AK under it.
pub(super) fn create(ctx: &mut Context) -> Result<Keys, AttesterError> {
    let ek = ek::create_ek_object_2(ctx, EK_ALGORITHM, None)
        .map_err(|e| device("create the endorsement key", e))?;
    let (ek_public, _, _) = ctx
        .read_public(ek)
        .map_err(|e| device("read the endorsement key", e))?;
    let ek_certificate = ek::retrieve_ek_pubcert(ctx, EK_ALGORITHM)
        .map_err(|e| device("read the EK certificate from NV 0x01c00002", e))
        .and_then(|nv| der_prefix(&nv))?;

    let created = ak::create_ak_2(
        ctx,
        ek,
        HashingAlgorithm::Sha256,
        AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
        SignatureSchemeAlgorithm::EcDsa,
        None,
        None,
    )
    .map_err(|e| device("create the attestation key", e))?;
    let ak = ak::load_ak(ctx, ek, None, created.out_private, created.out_public)
        .map_err(|e| device("load the attestation key", e))?;
    let (ak_public, ak_name, _) = ctx
        .read_public(ak)
        .map_err(|e| device("read the attestation key", e))?;

    let identity = TpmIdentity {
        ek_public: tpm2b_public(ek_public)?,
        ek_certificate,
        ak_public: tpm2b_public(ak_public)?,
        ak_name: ak_name.value().to_vec(),
    };
    tracing::info!(ak_name = %hex_of(&identity.ak_name), "attestation key created");
    Ok(Keys { ek, ak, identity })
}

/// Marshals a public area as `TPM2B_PUBLIC`.
pub(super) fn tpm2b_public(public: Public) -> Result<Vec<u8>, AttesterError> {
    PublicBuffer::try_from(public)
        .and_then(|b| b.marshall())
        .map_err(|e| device("marshal a public area", e))
}

/// The DER certificate at the start of an NV index, without any padding the
/// provisioning tool left after it.
fn der_prefix(nv: &[u8]) -> Result<Vec<u8>, AttesterError> {
    let bad = |what: &str| AttesterError::Device(format!("EK certificate in NV: {what}"));
    let [0x30, first, rest @ ..] = nv else {
        return Err(bad("does not start with a DER SEQUENCE"));
    };
    let (header, body_len) = match *first {
        n @ 0..=0x7f => (2, usize::from(n)),
        0x81 => (
            3,
            usize::from(*rest.first().ok_or_else(|| bad("truncated length"))?),
        ),
        0x82 => {
            let [hi, lo, ..] = rest else {
                return Err(bad("truncated length"));
            };
            (4, usize::from(u16::from_be_bytes([*hi, *lo])))
        }
        _ => return Err(bad("unsupported length encoding")),
    };
    let total = header + body_len;
    if total > MAX_CERT_LEN {
        return Err(bad("longer than 16 KiB"));
    }
    nv.get(..total)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| bad("shorter than its DER length"))
}

fn hex_of(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_prefix_trims_padding_and_rejects_truncation() {
        let mut cert = vec![0x30, 0x82, 0x01, 0x00];
        cert.extend(std::iter::repeat_n(7u8, 0x100));
        let mut padded = cert.clone();
        padded.extend([0xff; 20]);
        assert_eq!(der_prefix(&padded).unwrap(), cert);
        assert_eq!(der_prefix(&cert).unwrap(), cert);
        assert!(der_prefix(&cert[..cert.len() - 1]).is_err());
        assert!(der_prefix(&[0x31, 0x00]).is_err());
        assert!(der_prefix(&[]).is_err());
        assert!(der_prefix(&[0x30, 0x83, 1, 2, 3]).is_err());
        assert_eq!(
            der_prefix(&[0x30, 0x01, 0x05, 0xff]).unwrap(),
            vec![0x30, 0x01, 0x05]
        );
    }
}
