//! Unit tests of the TPM verifier: the real GCP vector and its mutations,
//! synthetic ECDSA quotes with enclet's binding, and credential activation.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use super::*;
use crate::Verified;
use crate::event_log::EventLog;
use crate::measurement::Measurement;

mod claims;
mod credential;
mod gcp;
mod swtpm;

pub(super) const GCP_QUOTE: &[u8] = include_bytes!("../../testdata/tpm/gcp_quote.bin");
pub(super) const GCP_SIG: &[u8] = include_bytes!("../../testdata/tpm/gcp_signature.bin");
pub(super) const GCP_AK: &[u8] = include_bytes!("../../testdata/tpm/gcp_ak_public.bin");
pub(super) const GCP_PCRS: &str = include_str!("../../testdata/tpm/gcp_pcrs.txt");

fn code<T: core::fmt::Debug>(r: Result<T, crate::Error>) -> &'static str {
    r.unwrap_err().code()
}

fn tpm2b(b: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(b.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// An ECC P-256 AK public area with these attributes.
fn ecc_ak(pair: &EcdsaKeyPair, attributes: u32) -> Vec<u8> {
    let point = pair.public_key().as_ref();
    let mut v = vec![0x00, 0x23, 0x00, 0x0b];
    v.extend(attributes.to_be_bytes());
    v.extend([
        0, 0, 0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10,
    ]);
    v.extend(tpm2b(&point[1..33]));
    v.extend(tpm2b(&point[33..65]));
    v
}

const AK_ATTRS: u32 = 0x0005_0072;

/// A quote over sha256 PCRs 16 and 23.
fn ecc_attest(extra: &[u8], pcr16: &[u8; 32], pcr23: &[u8; 32]) -> Vec<u8> {
    let mut v = TPM_GENERATED_VALUE.to_be_bytes().to_vec();
    v.extend(TPM_ST_ATTEST_QUOTE.to_be_bytes());
    v.extend(tpm2b(&[0x00, 0x0b, 1, 2, 3]));
    v.extend(tpm2b(extra));
    v.extend(1234u64.to_be_bytes());
    v.extend(5u32.to_be_bytes());
    v.extend(6u32.to_be_bytes());
    v.push(1);
    v.extend(0x2020_0101_u64.to_be_bytes());
    v.extend([0, 0, 0, 1, 0x00, 0x0b, 3, 0x00, 0x00, 0x81]);
    v.extend(tpm2b(&HashAlg::Sha256.digest(&[pcr16, pcr23])));
    v
}

fn ecdsa_sig(pair: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
    let sig = pair.sign(&SystemRandom::new(), msg).unwrap();
    let rs = sig.as_ref();
    let mut v = vec![0x00, 0x18, 0x00, 0x0b];
    v.extend(tpm2b(&rs[..32]));
    v.extend(tpm2b(&rs[32..]));
    v
}

struct Enclet {
    pair: EcdsaKeyPair,
    log: EventLog,
    pcrs: PcrValues,
    attest: Vec<u8>,
    sig: Vec<u8>,
    ak: Vec<u8>,
}

const NONCE: &[u8] = b"fresh nonce";
const ENCLAVE_KEY: &[u8] = b"enclave public key";

fn enclet_quote() -> Enclet {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let mut log = EventLog::new();
    log.push_load(Measurement::of_plugin(b"plugin one"))
        .unwrap();
    log.push_load(Measurement::of_plugin(b"plugin two"))
        .unwrap();
    let pcr16 = log.replay_sha256();
    let pcr23 = [0x23; 32];
    let mut pcrs = PcrValues::new();
    pcrs.insert(HashAlg::Sha256, 16, pcr16.to_vec()).unwrap();
    pcrs.insert(HashAlg::Sha256, 23, pcr23.to_vec()).unwrap();
    let extra = qualifying_data(NONCE, ENCLAVE_KEY, &log.digest());
    let attest = ecc_attest(&extra, &pcr16, &pcr23);
    let sig = ecdsa_sig(&pair, &attest);
    let ak = ecc_ak(&pair, AK_ATTRS);
    Enclet {
        pair,
        log,
        pcrs,
        attest,
        sig,
        ak,
    }
}

impl Enclet {
    fn evidence(&self) -> QuoteEvidence<'_> {
        QuoteEvidence {
            attest: &self.attest,
            signature: &self.sig,
            ak_public: &self.ak,
        }
    }

    fn expect(&self) -> TpmExpectations<'_> {
        TpmExpectations {
            extra_data: ExpectedExtraData::Enclet {
                nonce: NONCE,
                public_key: ENCLAVE_KEY,
            },
            pcrs: Some(&self.pcrs),
            event_log: Some(&self.log),
            activated_ak: None,
        }
    }
}

#[test]
fn qualifying_data_binds_each_part_without_ambiguity() {
    let d = [7u8; 48];
    let base = qualifying_data(b"nonce", b"key", &d);
    assert_ne!(base, qualifying_data(b"nonc", b"ekey", &d));
    assert_ne!(base, qualifying_data(b"nonce", b"key", &[8u8; 48]));
    assert_ne!(base, qualifying_data(b"other", b"key", &d));
    assert_eq!(base, qualifying_data(b"nonce", b"key", &d));
}

#[test]
fn enclet_quote_verifies_into_common_claims() {
    let q = enclet_quote();
    let verified = verify_quote(&q.evidence(), &q.expect()).unwrap();
    let (v, c) = (&verified, &verified.claims);
    assert_eq!(c.evidence, crate::claims::EvidenceKind::Tpm);
    assert_eq!(c.image, Some(vec![0x23; 32]));
    assert_eq!(c.plugins.replayed(), Some(&q.log.live()[..]));
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
    assert_eq!(c.public_key.as_deref(), Some(ENCLAVE_KEY));
    assert_eq!(c.user_data.as_deref(), Some(&q.log.digest()[..]));
    assert!(c.checked.pcrs && c.checked.event_log && c.checked.nonce);
    assert_eq!(
        c.trust_basis,
        crate::claims::TrustBasis::CallerPinnedAk {
            ak_name: ak_name(&q.ak).unwrap()
        }
    );
    assert_eq!(v.signature_hash, HashAlg::Sha256);
    assert_eq!(v.clock.clock, 1234);
    assert_eq!(v.pcrs.len(), 2);
    assert_eq!(v.ak_name, ak_name(&q.ak).unwrap());
    // TPM2B-wrapped forms are accepted too.
    let (attest, ak) = (tpm2b(&q.attest), tpm2b(&q.ak));
    let ev = QuoteEvidence {
        attest: &attest,
        signature: &q.sig,
        ak_public: &ak,
    };
    assert!(verify_quote(&ev, &q.expect()).is_ok());
    // The backend-neutral view keeps the proof.
    let common: Verified<crate::Claims> = verified.into_claims();
    assert_eq!(common.plugins.replayed(), Some(&q.log.live()[..]));
}

#[test]
fn enclet_quote_rejects_each_tampering_with_its_own_error() {
    let q = enclet_quote();
    // A different plugin than the one measured: the log does not replay.
    let mut other = EventLog::new();
    other
        .push_load(Measurement::of_plugin(b"plugin one"))
        .unwrap();
    other
        .push_load(Measurement::of_plugin(b"evil plugin"))
        .unwrap();
    let mut exp = q.expect();
    exp.event_log = Some(&other);
    assert_eq!(code(verify_quote(&q.evidence(), &exp)), "tpm.event_log");
    // Stale nonce, or another public key than the one the quote binds: the
    // qualifying data differs (a hash cannot say which input did).
    let mut exp = q.expect();
    exp.extra_data = ExpectedExtraData::Enclet {
        nonce: b"old nonce",
        public_key: ENCLAVE_KEY,
    };
    assert_eq!(
        code(verify_quote(&q.evidence(), &exp)),
        "tpm.qualifying_data"
    );
    exp.extra_data = ExpectedExtraData::Enclet {
        nonce: NONCE,
        public_key: b"another enclave key",
    };
    let err = verify_quote(&q.evidence(), &exp).unwrap_err();
    assert_eq!(err.code(), "tpm.qualifying_data");
    assert!(err.to_string().contains("public key"), "{err}");
    // A raw nonce that differs is still `tpm.nonce`.
    exp.extra_data = ExpectedExtraData::Exact(NONCE);
    assert_eq!(code(verify_quote(&q.evidence(), &exp)), "tpm.nonce");
    // A PCR value edited in transit.
    let mut edited = q.pcrs.clone();
    edited =
        PcrValues::parse_text(&edited.to_text().replace("sha256:23=23", "sha256:23=24")).unwrap();
    let mut exp = q.expect();
    exp.pcrs = Some(&edited);
    assert_eq!(code(verify_quote(&q.evidence(), &exp)), "tpm.pcr_digest");
    // A quote signed by another (software) key under the same AK.
    let rogue = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let forged = ecdsa_sig(&rogue, &q.attest);
    let ev = QuoteEvidence {
        signature: &forged,
        ..q.evidence()
    };
    assert_eq!(code(verify_quote(&ev, &q.expect())), "tpm.signature");
    // An AK that is not a restricted signing key.
    let unrestricted = ecc_ak(&q.pair, AK_ATTRS & !ObjectAttributes::RESTRICTED);
    let ev = QuoteEvidence {
        ak_public: &unrestricted,
        ..q.evidence()
    };
    assert_eq!(code(verify_quote(&ev, &q.expect())), "tpm.ak_attributes");
    // Event log without PCR values, and the binding without the log.
    let mut exp = q.expect();
    exp.pcrs = None;
    assert_eq!(code(verify_quote(&q.evidence(), &exp)), "tpm.event_log");
    exp.event_log = None;
    assert_eq!(code(verify_quote(&q.evidence(), &exp)), "tpm.event_log");
}

#[test]
fn wrong_magic_and_type_are_named() {
    let q = enclet_quote();
    let mut a = q.attest.clone();
    a[0] = 0;
    assert_eq!(
        UnverifiedQuote::parse(&a),
        Err(TpmError::Magic(0x0054_4347))
    );
    let mut a = q.attest.clone();
    a[5] = 0x17;
    assert_eq!(UnverifiedQuote::parse(&a), Err(TpmError::NotAQuote(0x8017)));
}

#[test]
fn every_truncation_and_extension_is_a_typed_error() {
    let q = enclet_quote();
    for (bytes, parse) in [
        (
            &q.attest,
            (|b| UnverifiedQuote::parse(b).map(drop)) as fn(&[u8]) -> Result<(), TpmError>,
        ),
        (&q.sig, |b| TpmSignature::parse(b).map(drop)),
        (&q.ak, |b| TpmPublic::parse(b).map(drop)),
        (&GCP_AK.to_vec(), |b| TpmPublic::parse(b).map(drop)),
    ] {
        for len in 0..bytes.len() {
            let e = parse(&bytes[..len]).unwrap_err();
            assert!(e.code().starts_with("tpm."), "{len}: {e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(parse(&longer).unwrap_err().code(), "tpm.parse.trailing");
    }
}

#[test]
fn activated_ak_must_be_the_quotes_ak() {
    let q = enclet_quote();
    let other = enclet_quote();
    let activated = Verified::new(credential::activated_for(&other.ak));
    let mut exp = q.expect();
    exp.activated_ak = Some(&activated);
    assert_eq!(
        code(verify_quote(&q.evidence(), &exp)),
        "tpm.ak_not_activated"
    );
    let mine = Verified::new(credential::activated_for(&q.ak));
    exp.activated_ak = Some(&mine);
    let claims = verify_quote(&q.evidence(), &exp).unwrap().into_claims();
    assert_eq!(
        claims.trust_basis,
        crate::claims::TrustBasis::ActivatedAk {
            ak_name: ak_name(&q.ak).unwrap(),
            ek_name: mine.ek_name().to_vec(),
        }
    );
    assert_eq!(claims.trust_basis.as_str(), "activated_ak");
}

/// PKCS#8 of a fresh RSA-2048 key and its modulus, for EK tests.
pub(super) fn rsa_key() -> (Vec<u8>, Vec<u8>) {
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let modulus = kp
        .public_key()
        .modulus()
        .big_endian_without_leading_zero()
        .to_vec();
    (kp.as_der().unwrap().as_ref().to_vec(), modulus)
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = UnverifiedQuote::parse(&bytes);
        let _ = TpmSignature::parse(&bytes);
        let _ = TpmPublic::parse(&bytes);
        let _ = verify_quote(&QuoteEvidence { attest: &bytes, signature: &bytes, ak_public: &bytes }, &TpmExpectations {
            extra_data: ExpectedExtraData::Unchecked, pcrs: None, event_log: None, activated_ak: None });
    }

    #[test]
    fn mutated_gcp_inputs_never_panic(pos in 0usize..700, byte in proptest::num::u8::ANY, cut in 0usize..400) {
        let all = [GCP_QUOTE, GCP_SIG, GCP_AK].concat();
        let mut m = all.clone();
        let i = pos % m.len();
        m[i] = byte;
        let (q, rest) = m.split_at(GCP_QUOTE.len());
        let (s, a) = rest.split_at(GCP_SIG.len());
        let q = &q[..q.len().min(cut.max(1))];
        let pcrs = PcrValues::parse_text(GCP_PCRS).unwrap();
        let _ = verify_quote(&QuoteEvidence { attest: q, signature: s, ak_public: a }, &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(&[]), pcrs: Some(&pcrs), event_log: None, activated_ak: None });
        let _ = make_credential(a, &[0, 0x0b], &[1; 16], &[7; CREDENTIAL_RANDOM_LEN]);
    }
}
