//! The certificate chain: pinned root = `cabundle[0]` → … → `cabundle[n-1]` → leaf.
//!
//! AWS's attestation process §3.2.3–3.2.4, walked from the root down so that
//! every key is trusted before it is used:
//!
//! 1. `cabundle[0]` equals the pinned root byte for byte.
//! 2. For each following certificate: its issuer name equals the previous
//!    subject and the previous key's signature over it verifies (ECDSA P-384 /
//!    SHA-384, or P-256 / SHA-256) — or the [`CertCache`] says so.
//! 3. Every certificate, the root included, is valid at the verification time,
//!    bounds inclusive, widened by the allowed clock skew.
//! 4. Every CA certificate has basicConstraints cA, keyUsage keyCertSign and a
//!    path length constraint that admits the CAs below it.
//! 5. The leaf is not a CA, has keyUsage digitalSignature and a P-384 key, the
//!    key that must verify the COSE signature.

use super::cert::{CaStatus, CertInfo, Curve, EcKey, Parsed};
use super::cert_cache::{CertCache, DerHash, der_hash};
use super::claims::CertificateSummary;
use super::error::{CertPosition, CertRef, ChainError, NitroError};
use super::root::NitroRoot;
use crate::time::UnixTime;

/// The outcome of a successful chain walk.
#[derive(Debug)]
pub(crate) struct VerifiedChain {
    /// The leaf's P-384 key.
    pub(crate) leaf_key: EcKey,
    /// Root first, leaf last.
    pub(crate) certificates: Vec<CertificateSummary>,
}

/// When certificates are judged: the instant and the allowed skew either way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    pub(crate) now: UnixTime,
    pub(crate) skew_secs: u64,
}

/// Verifies the chain of a document. See the module docs for the steps.
pub(crate) fn verify(
    root: &NitroRoot,
    cabundle: &[Vec<u8>],
    leaf: &[u8],
    at: At,
    mut cache: Option<&mut CertCache>,
) -> Result<VerifiedChain, NitroError> {
    // Step 1: the bundle starts at the pinned root.
    let Some((first, rest)) = cabundle.split_first() else {
        return Err(NitroError::field("cabundle", "no certificates"));
    };
    let root_hash = root.sha256_fingerprint();
    let mut issuer = root_info(root, first, root_hash, cache.as_deref_mut())?;
    let mut issuer_hash = root_hash;
    let mut certificates = Vec::with_capacity(cabundle.len().saturating_add(1));
    check_ca(&issuer, CertPosition::CaBundle(0), rest.len(), at)?;
    certificates.push(summary(&issuer));

    // Steps 2-4 for each intermediate CA.
    for (i, der) in rest.iter().enumerate() {
        let position = CertPosition::CaBundle(i.saturating_add(1));
        let (info, hash) = link(der, position, &issuer, issuer_hash, cache.as_deref_mut())?;
        let below = rest.len().saturating_sub(i.saturating_add(1));
        check_ca(&info, position, below, at)?;
        certificates.push(summary(&info));
        issuer = info;
        issuer_hash = hash;
    }

    // Step 5: the leaf.
    let (info, _) = link(leaf, CertPosition::Leaf, &issuer, issuer_hash, cache)?;
    check_leaf(&info, at)?;
    certificates.push(summary(&info));
    Ok(VerifiedChain {
        leaf_key: info.key,
        certificates,
    })
}

fn reference(position: CertPosition, info: &CertInfo) -> CertRef {
    CertRef {
        position,
        subject: info.subject.clone(),
    }
}

fn summary(info: &CertInfo) -> CertificateSummary {
    CertificateSummary {
        subject: info.subject.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
    }
}

/// The pinned root's facts, if `first` is the pinned root.
fn root_info(
    root: &NitroRoot,
    first: &[u8],
    root_hash: DerHash,
    cache: Option<&mut CertCache>,
) -> Result<CertInfo, NitroError> {
    let position = CertPosition::CaBundle(0);
    let malformed = |kind| {
        let subject = Parsed::parse(first)
            .map(|p| p.subject())
            .unwrap_or_default();
        NitroError::chain(CertRef { position, subject }, kind)
    };
    if first != root.der() {
        return Err(malformed(ChainError::UntrustedRoot));
    }
    if let Some(info) = cache.as_ref().and_then(|c| c.get(&root_hash, &root_hash)) {
        return Ok(info.clone());
    }
    let info = Parsed::parse(first)
        .and_then(|p| p.info())
        .map_err(malformed)?;
    if let Some(c) = cache {
        c.insert(root_hash, root_hash, info.clone());
    }
    Ok(info)
}

/// Step 2 for one certificate: name chaining and the issuer's signature.
fn link(
    der: &[u8],
    position: CertPosition,
    issuer: &CertInfo,
    issuer_hash: DerHash,
    cache: Option<&mut CertCache>,
) -> Result<(CertInfo, DerHash), NitroError> {
    let hash = der_hash(der);
    if let Some(info) = cache.as_ref().and_then(|c| c.get(&hash, &issuer_hash)) {
        return Ok((info.clone(), hash));
    }
    let unnamed = |kind| {
        NitroError::chain(
            CertRef {
                position,
                subject: String::new(),
            },
            kind,
        )
    };
    let parsed = Parsed::parse(der).map_err(unnamed)?;
    let named = |kind| {
        NitroError::chain(
            CertRef {
                position,
                subject: parsed.subject(),
            },
            kind,
        )
    };
    if parsed.issuer_raw() != issuer.subject_raw.as_slice() {
        return Err(named(ChainError::IssuerMismatch));
    }
    parsed.verify_signed_by(&issuer.key).map_err(named)?;
    let info = parsed.info().map_err(named)?;
    if let Some(c) = cache {
        c.insert(hash, issuer_hash, info.clone());
    }
    Ok((info, hash))
}

/// Step 3: validity at `at`, bounds inclusive.
fn check_validity(info: &CertInfo, position: CertPosition, at: At) -> Result<(), NitroError> {
    let now = i128::from(at.now.as_secs());
    let skew = i128::from(at.skew_secs);
    if now.saturating_add(skew) < i128::from(info.not_before) {
        return Err(NitroError::chain(
            reference(position, info),
            ChainError::NotYetValid {
                not_before: info.not_before,
                now: at.now.as_secs(),
            },
        ));
    }
    if now.saturating_sub(skew) > i128::from(info.not_after) {
        return Err(NitroError::chain(
            reference(position, info),
            ChainError::Expired {
                not_after: info.not_after,
                now: at.now.as_secs(),
            },
        ));
    }
    Ok(())
}

/// Steps 3 and 4 for a CA with `below` intermediate CAs under it.
fn check_ca(
    info: &CertInfo,
    position: CertPosition,
    below: usize,
    at: At,
) -> Result<(), NitroError> {
    check_validity(info, position, at)?;
    let fail = |kind| Err(NitroError::chain(reference(position, info), kind));
    let CaStatus::Ca { path_len } = info.ca else {
        return fail(ChainError::BasicConstraints(
            "a CA certificate without cA=true",
        ));
    };
    if !info.key_cert_sign {
        return fail(ChainError::KeyUsage("a CA certificate without keyCertSign"));
    }
    if let Some(allowed) = path_len
        && usize::try_from(allowed).is_ok_and(|a| below > a)
    {
        return fail(ChainError::PathLen { allowed, below });
    }
    Ok(())
}

/// Steps 3 and 5.
fn check_leaf(info: &CertInfo, at: At) -> Result<(), NitroError> {
    let position = CertPosition::Leaf;
    check_validity(info, position, at)?;
    let fail = |kind| Err(NitroError::chain(reference(position, info), kind));
    if info.ca != CaStatus::NotCa {
        return fail(ChainError::BasicConstraints("the leaf certificate is a CA"));
    }
    if !info.has_key_usage || !info.digital_signature {
        return fail(ChainError::KeyUsage(
            "the leaf certificate lacks digitalSignature",
        ));
    }
    if info.key.curve != Curve::P384 {
        return fail(ChainError::Algorithm(
            "the leaf key is not P-384 (ES384)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(position: usize) -> CertInfo {
        let doc = super::super::UnverifiedNitroDocument::parse(include_bytes!(
            "../../testdata/nitro/12_base_2026-01-03_prod_indefinite_map.cose"
        ))
        .unwrap();
        let der = match position {
            4 => doc.payload.certificate.clone(),
            i => doc.payload.cabundle[i].clone(),
        };
        Parsed::parse(&der).unwrap().info().unwrap()
    }

    const AT: At = At {
        now: UnixTime::from_secs(1_767_472_867),
        skew_secs: 0,
    };

    fn code(r: Result<(), NitroError>) -> &'static str {
        r.unwrap_err().code()
    }

    #[test]
    fn real_chain_meets_every_constraint() {
        for i in 0..4 {
            check_ca(&real(i), CertPosition::CaBundle(i), 3 - i, AT).unwrap();
        }
        check_leaf(&real(4), AT).unwrap();
    }

    #[test]
    fn path_length_constraints_are_enforced() {
        // cabundle[1] allows 2 CAs below it; cabundle[3] allows none.
        assert_eq!(real(1).ca, CaStatus::Ca { path_len: Some(2) });
        let e = check_ca(&real(1), CertPosition::CaBundle(1), 3, AT);
        assert_eq!(code(e), "nitro.chain.path_len");
        let e = check_ca(&real(3), CertPosition::CaBundle(3), 1, AT);
        assert_eq!(code(e), "nitro.chain.path_len");
    }

    #[test]
    fn ca_and_leaf_roles_are_enforced() {
        let mut not_ca = real(2);
        not_ca.ca = CaStatus::NotCa;
        let e = check_ca(&not_ca, CertPosition::CaBundle(2), 1, AT);
        assert_eq!(code(e), "nitro.chain.basic_constraints");
        let mut no_sign = real(2);
        no_sign.key_cert_sign = false;
        assert_eq!(
            code(check_ca(&no_sign, CertPosition::CaBundle(2), 1, AT)),
            "nitro.chain.key_usage"
        );
        // A CA certificate in the leaf position.
        assert_eq!(
            code(check_leaf(&real(3), AT)),
            "nitro.chain.basic_constraints"
        );
        let mut leaf = real(4);
        leaf.digital_signature = false;
        assert_eq!(code(check_leaf(&leaf, AT)), "nitro.chain.key_usage");
        let mut leaf = real(4);
        leaf.key.curve = Curve::P256;
        assert_eq!(code(check_leaf(&leaf, AT)), "nitro.chain.algorithm");
    }

    #[test]
    fn validity_is_inclusive_at_both_ends() {
        let leaf = real(4);
        let at = |s: i64| At {
            now: UnixTime::from_secs(u64::try_from(s).unwrap()),
            skew_secs: 0,
        };
        check_validity(&leaf, CertPosition::Leaf, at(leaf.not_before)).unwrap();
        check_validity(&leaf, CertPosition::Leaf, at(leaf.not_after)).unwrap();
        let e = check_validity(&leaf, CertPosition::Leaf, at(leaf.not_after + 1));
        assert_eq!(code(e), "nitro.chain.expired");
        let e = check_validity(&leaf, CertPosition::Leaf, at(leaf.not_before - 1));
        assert_eq!(code(e), "nitro.chain.not_yet_valid");
    }
}
