//! Unit tests over the real AWS documents in `testdata/nitro`.

use super::*;
use crate::time::UnixTime;

mod event_log;
mod limits;
mod vectors;

use vectors::{VECTORS, Vector, Z};

fn any() -> NitroPolicy {
    NitroPolicy::insecure_any_image().allow_debug()
}

#[test]
fn all_vectors_verify_at_their_own_time() {
    for v in &VECTORS {
        let claims = verify(
            v.bytes,
            &NitroVerifier::aws(),
            &any(),
            UnixTime::from_secs(v.at),
        )
        .unwrap_or_else(|e| panic!("{}: {e} ({})", v.name, e.code()));
        assert_eq!(hex::encode(claims.pcr(0).unwrap()), v.pcr0, "{}", v.name);
        assert_eq!(claims.is_debug(), v.debug, "{}", v.name);
        assert_eq!(claims.pcr(0).unwrap() == hex::decode(Z).unwrap(), v.debug);
        assert_eq!(claims.timestamp_ms / 1000, v.at, "{}", v.name);
        assert_eq!(claims.certificates.len(), 5, "{}", v.name);
    }
}

/// 2026-11-22T00:00:00Z: long after every vector's certificates expired.
const LATER: UnixTime = UnixTime::from_secs(1_795_305_600);

fn parse(v: &Vector) -> UnverifiedNitroDocument {
    UnverifiedNitroDocument::parse(v.bytes).unwrap()
}

fn at(v: &Vector) -> UnixTime {
    UnixTime::from_secs(v.at)
}

fn err(v: &Vector, doc: &UnverifiedNitroDocument, policy: &NitroPolicy) -> NitroError {
    NitroVerifier::aws().verify(doc, policy, at(v)).unwrap_err()
}

#[test]
fn default_root_is_aws_root_g1_by_fingerprint() {
    let root = NitroRoot::aws_g1();
    assert_eq!(
        hex::encode(root.sha256_fingerprint()),
        "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    );
    let pem = include_bytes!("../../testdata/nitro/aws_nitro_enclaves_root_g1.pem");
    assert_eq!(
        NitroRoot::from_pem(pem).unwrap(),
        NitroRoot::from_der(root.der()).unwrap()
    );
    assert!(
        NitroRoot::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    assert!(NitroRoot::from_der(&root.der()[..100]).is_err());
}

#[test]
fn production_documents_pass_the_default_policy_and_debug_ones_do_not() {
    for v in &VECTORS {
        let doc = parse(v);
        let strict = NitroPolicy::expect_pcrs([(0, hex::decode(v.pcr0).unwrap())]).unwrap();
        let got = NitroVerifier::aws().verify(&doc, &strict, at(v));
        if v.debug {
            assert_eq!(got.unwrap_err().code(), "nitro.policy.debug", "{}", v.name);
            let ok = NitroVerifier::aws().verify(&doc, &strict.allow_debug(), at(v));
            assert!(ok.is_ok(), "{}", v.name);
        } else {
            assert!(got.is_ok(), "{}", v.name);
        }
    }
}

#[test]
fn every_vector_is_refused_today_naming_the_expired_certificate() {
    for v in &VECTORS {
        let e = NitroVerifier::aws()
            .verify(&parse(v), &any(), LATER)
            .unwrap_err();
        assert_eq!(e.code(), "nitro.chain.expired", "{}", v.name);
        let NitroError::Chain { cert, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(cert.position, CertPosition::CaBundle(1), "{}", v.name);
        assert!(cert.subject.contains("aws.nitro-enclaves"), "{e}");
        assert!(e.to_string().contains("expired"), "{e}");
    }
}

#[test]
fn validity_bounds_are_inclusive_and_skew_widens_them() {
    // Document 01 was created at the leaf's notBefore to the second.
    let v = &VECTORS[0];
    let doc = parse(v);
    let leaf = doc.payload.certificate.clone();
    let nb = cert::Parsed::parse(&leaf)
        .unwrap()
        .info()
        .unwrap()
        .not_before;
    assert_eq!(u64::try_from(nb).unwrap(), v.at);
    assert!(NitroVerifier::aws().verify(&doc, &any(), at(v)).is_ok());
    let early = UnixTime::from_secs(v.at - 1);
    let e = NitroVerifier::aws()
        .verify(&doc, &any(), early)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.chain.not_yet_valid");
    assert!(
        NitroVerifier::aws()
            .with_clock_skew(1)
            .verify(&doc, &any(), early)
            .is_ok()
    );
}

#[test]
fn the_published_corrupt_document_is_rejected_at_parse() {
    let bytes = include_bytes!(
        "../../testdata/nitro/negative/base_2026-01-03_as_published_truncated_key.cose"
    );
    let e = UnverifiedNitroDocument::parse(bytes).unwrap_err();
    assert!(e.code().starts_with("nitro.parse"), "{e}");
}

#[test]
fn tagged_documents_are_accepted_and_trailing_bytes_are_not() {
    for v in &VECTORS {
        let mut tagged = vec![0xd2];
        tagged.extend_from_slice(v.bytes);
        assert!(
            verify(&tagged, &NitroVerifier::aws(), &any(), at(v)).is_ok(),
            "{}",
            v.name
        );
        let mut trailing = v.bytes.to_vec();
        trailing.push(0);
        let e = UnverifiedNitroDocument::parse(&trailing).unwrap_err();
        assert_eq!(e.code(), "nitro.parse.cose");
    }
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let e = UnverifiedNitroDocument::parse(&vec![0x84; MAX_DOCUMENT_LEN + 1]).unwrap_err();
    assert_eq!(e.code(), "nitro.parse.too_large");
}

#[test]
fn wrong_root_is_refused() {
    let v = &VECTORS[11];
    let doc = parse(v);
    let other = NitroRoot::from_der(&doc.payload.cabundle[1]).unwrap();
    let e = NitroVerifier::new(other)
        .verify(&doc, &any(), at(v))
        .unwrap_err();
    assert_eq!(e.code(), "nitro.chain.untrusted_root");
    assert!(e.to_string().contains("cabundle[0]"), "{e}");
}

#[test]
fn truncated_or_reordered_chains_are_refused() {
    let v = &VECTORS[4];
    let mut doc = parse(v);
    doc.payload.cabundle.remove(2);
    let e = err(v, &doc, &any());
    assert_eq!(e.code(), "nitro.chain.issuer_mismatch", "{e}");

    let mut doc = parse(v);
    doc.payload.cabundle.truncate(1);
    let e = err(v, &doc, &any());
    assert_eq!(e.code(), "nitro.chain.issuer_mismatch", "{e}");
    assert!(e.to_string().contains("leaf certificate"), "{e}");

    let mut doc = parse(v);
    doc.payload.cabundle.swap(1, 2);
    let e = err(v, &doc, &any());
    assert_eq!(e.code(), "nitro.chain.issuer_mismatch");
    assert!(e.to_string().starts_with("cabundle[1]"), "{e}");

    let mut doc = parse(v);
    doc.payload.cabundle.swap(0, 1);
    assert_eq!(err(v, &doc, &any()).code(), "nitro.chain.untrusted_root");
}

#[test]
fn a_certificate_from_another_chain_fails_its_issuer_signature() {
    // Corrupt the last byte of cabundle[2]'s signature: names still chain.
    let v = &VECTORS[1];
    let mut doc = parse(v);
    let cert = &mut doc.payload.cabundle[2];
    let last = cert.len() - 1;
    cert[last] ^= 1;
    let e = err(v, &doc, &any());
    assert_eq!(e.code(), "nitro.chain.signature", "{e}");
    assert!(e.to_string().starts_with("cabundle[2]"), "{e}");
}

#[test]
fn cose_signature_is_checked_over_the_received_bytes() {
    let v = &VECTORS[2];
    let mut doc = parse(v);
    doc.envelope.signature[10] ^= 0x80;
    assert_eq!(err(v, &doc, &any()).code(), "nitro.signature");
    let mut doc = parse(v);
    doc.envelope.payload.push(0);
    assert_eq!(err(v, &doc, &any()).code(), "nitro.signature");
    // A leaf from another document does not chain to this document's CAs.
    let mut doc = parse(v);
    doc.payload.certificate = parse(&VECTORS[3]).payload.certificate;
    assert_eq!(err(v, &doc, &any()).code(), "nitro.chain.issuer_mismatch");
}

#[test]
fn pcr_mismatches_are_all_reported_by_index() {
    let v = &VECTORS[7];
    let doc = parse(v);
    let policy = NitroPolicy::expect_pcrs([
        (0, vec![0xaa; 48]),
        (1, doc.payload.pcrs[&1].clone()),
        (2, vec![1; 48]),
        (20, vec![2; 48]),
    ])
    .unwrap();
    let e = err(v, &doc, &policy);
    assert_eq!(e.code(), "nitro.policy.pcr_mismatch");
    let NitroError::Policy(PolicyError::PcrMismatch(list)) = &e else {
        panic!("{e}")
    };
    let indices: Vec<u8> = list.iter().map(|m| m.index).collect();
    assert_eq!(indices, [0, 2, 20]);
    assert_eq!(list[0].actual.as_deref(), Some(&doc.payload.pcrs[&0][..]));
    assert_eq!(list[0].expected, vec![0xaa; 48]);
    assert_eq!(list[2].actual, None);
    assert!(e.to_string().contains("PCR2"), "{e}");
    assert!(NitroPolicy::expect_pcrs([]).is_err());
}

#[test]
fn nonce_user_data_public_key_and_age_are_enforced() {
    let v = &VECTORS[8]; // all optional fields set
    let doc = parse(v);
    let p = &doc.payload;
    let ok = any()
        .nonce(p.nonce.clone().unwrap())
        .user_data(p.user_data.clone().unwrap())
        .public_key(p.public_key.clone().unwrap())
        .max_age(0);
    assert!(NitroVerifier::aws().verify(&doc, &ok, at(v)).is_ok());
    assert_eq!(
        err(v, &doc, &any().nonce(b"other".to_vec())).code(),
        "nitro.policy.nonce"
    );
    assert_eq!(
        err(v, &doc, &any().user_data(vec![])).code(),
        "nitro.policy.user_data"
    );
    assert_eq!(
        err(v, &doc, &any().public_key(vec![4])).code(),
        "nitro.policy.public_key"
    );
    let later = UnixTime::from_secs(v.at + 61);
    let e = NitroVerifier::aws()
        .verify(&doc, &any().max_age(60), later)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.policy.too_old");
    // An absent nonce never matches an expected one.
    let v0 = &VECTORS[0];
    assert_eq!(
        err(v0, &parse(v0), &any().nonce(vec![])).code(),
        "nitro.policy.nonce"
    );
}

#[test]
fn documents_from_the_future_are_refused() {
    let v = &VECTORS[0];
    let mut doc = parse(v);
    doc.payload.timestamp_ms += 10_000;
    let e = err(v, &doc, &any());
    assert_eq!(e.code(), "nitro.timestamp.future");
    let ok = NitroVerifier::aws()
        .with_clock_skew(10)
        .verify(&doc, &any(), at(v));
    assert!(ok.is_ok());
}

#[test]
fn cache_skips_nothing_that_matters() {
    let mut cache = CertCache::new();
    let verifier = NitroVerifier::aws();
    for v in &VECTORS {
        let doc = parse(v);
        let cold = verifier.verify(&doc, &any(), at(v)).unwrap();
        let first = verifier
            .verify_cached(&doc, &any(), at(v), &mut cache)
            .unwrap();
        let warm = verifier
            .verify_cached(&doc, &any(), at(v), &mut cache)
            .unwrap();
        assert_eq!(cold, first);
        assert_eq!(cold, warm);
        // Expiry still applies to cached certificates.
        let e = verifier
            .verify_cached(&doc, &any(), LATER, &mut cache)
            .unwrap_err();
        assert_eq!(e.code(), "nitro.chain.expired");
        // A tampered document is refused even with its chain cached.
        let mut bad = doc.clone();
        bad.envelope.signature[0] ^= 1;
        let e = verifier
            .verify_cached(&bad, &any(), at(v), &mut cache)
            .unwrap_err();
        assert_eq!(e.code(), "nitro.signature");
        // A cached certificate does not vouch for itself under another issuer.
        let mut swapped = doc.clone();
        swapped.payload.cabundle.swap(1, 2);
        let e = verifier
            .verify_cached(&swapped, &any(), at(v), &mut cache)
            .unwrap_err();
        assert_eq!(e.code(), "nitro.chain.issuer_mismatch");
    }
    // root + 12 × (3 CAs + leaf), minus CAs shared by 10 and 11 if any.
    assert!(
        cache.len() > 12 && cache.len() <= 1 + 12 * 4,
        "{}",
        cache.len()
    );
    let mut tiny = CertCache::with_capacity(0);
    let v = &VECTORS[0];
    assert!(
        verifier
            .verify_cached(&parse(v), &any(), at(v), &mut tiny)
            .is_ok()
    );
    assert!(tiny.is_empty());
}

#[test]
fn common_claims_use_pcr0_as_the_image() {
    let v = &VECTORS[8];
    let claims = verify(v.bytes, &NitroVerifier::aws(), &any(), at(v)).unwrap();
    let nitro = claims.get().clone();
    let common = claims.into_claims();
    assert_eq!(common.evidence, crate::claims::EvidenceKind::Nitro);
    assert_eq!(common.image.as_ref(), Some(&nitro.pcrs[&0]));
    // A document carries no event log: the plugins are unknown, not "none".
    assert_eq!(common.plugins, crate::claims::Plugins::NotChecked);
    assert!(!common.checked.event_log && common.checked.pcrs);
    assert_eq!(common.nonce, nitro.nonce);
    assert_eq!(common.user_data.as_deref(), Some(&b"Hello World!\n"[..]));
    // The chain ends at the shipped AWS root; the policy did not ask for a nonce.
    assert_eq!(
        common.trust_basis,
        crate::claims::TrustBasis::AwsNitroRoot {
            root_sha256: NitroRoot::aws_g1().sha256_fingerprint().to_vec()
        }
    );
    assert!(!common.checked.nonce);
    let json = serde_json::to_value(common.get()).unwrap();
    assert_eq!(json["trust_basis"]["kind"], "aws_nitro_root");
    assert_eq!(
        json["plugins"],
        serde_json::json!({"status": "not_checked"})
    );
    // With a nonce in the policy, the nonce counts as checked.
    let nonce = nitro.nonce.clone().unwrap();
    let checked = verify(v.bytes, &NitroVerifier::aws(), &any().nonce(nonce), at(v))
        .unwrap()
        .into_claims();
    assert!(checked.checked.nonce);
    // Another pinned root is named as such.
    assert_eq!(
        crate::claims::TrustBasis::nitro_root(&[7; 32]).as_str(),
        "caller_pinned_nitro_root"
    );
}

#[test]
fn only_es384_is_accepted() {
    let v = &VECTORS[0];
    // Protected header `a1 01 38 22` = {1: -35}; -36 is ES512.
    assert_eq!(&v.bytes[1..6], &[0x44, 0xa1, 0x01, 0x38, 0x22]);
    let mut es512 = v.bytes.to_vec();
    es512[5] = 0x23;
    let e = UnverifiedNitroDocument::parse(&es512).unwrap_err();
    assert_eq!(e.code(), "nitro.signature.algorithm", "{e}");
    // {} as protected header: no algorithm at all.
    let mut none = vec![0x84, 0x41, 0xa0];
    none.extend_from_slice(&v.bytes[6..]);
    let e = UnverifiedNitroDocument::parse(&none).unwrap_err();
    assert_eq!(e.code(), "nitro.signature.algorithm", "{e}");
}
