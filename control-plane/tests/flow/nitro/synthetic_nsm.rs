//! A synthetic NSM for tests: the enclave's real NSM attester talks to it
//! through the attester's device seam, and it answers as the NSM would — PCRs
//! that only extend, locks, and attestation documents with the requested
//! nonce, public key and `user_data` — signed by a test CA instead of AWS.
//!
//! The CA is three P-384 certificates (root → intermediate → leaf) made with
//! rcgen; the document is a `COSE_Sign1` (ES384, untagged like the NSM's)
//! over the CBOR payload the AWS format defines. A verifier accepts it only
//! when it pins this root instead of the AWS root.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair};
use ciborium::Value;
use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, iana};
use enclet_attester::nsm::{Digest, ErrorCode, NsmDevice, Request, Response};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest as _, Sha384};

/// The test CA: a root to pin, an intermediate, and the leaf key that signs
/// documents.
pub struct TestNitroCa {
    pub root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key: EcdsaKeyPair,
}

fn params(name: &str, ca: bool) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "enclet tests");
    p.distinguished_name = dn;
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    p
}

impl TestNitroCa {
    pub fn new() -> Self {
        let alg = &rcgen::PKCS_ECDSA_P384_SHA384;
        let root_key = KeyPair::generate_for(alg).unwrap();
        let root_params = params("enclet test nitro root", true);
        let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
        let root = Issuer::new(root_params, root_key);

        let mid_key = KeyPair::generate_for(alg).unwrap();
        let mid_params = params("enclet test nitro intermediate", true);
        let intermediate_der = mid_params
            .signed_by(&mid_key, &root)
            .unwrap()
            .der()
            .to_vec();
        let mid = Issuer::new(mid_params, mid_key);

        // The leaf key must sign COSE with fixed-width r || s: make it with
        // aws-lc-rs and hand its PKCS#8 to rcgen for the certificate.
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let leaf_key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let leaf_public = KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let leaf_der = params("i-0123456789abcdef0-enc0123456789abcdef.test", false)
            .signed_by(&leaf_public, &mid)
            .unwrap()
            .der()
            .to_vec();
        Self {
            root_der,
            intermediate_der,
            leaf_der,
            leaf_key,
        }
    }

    /// A signed document over these PCRs and fields, made now.
    pub fn document(
        &self,
        pcrs: &BTreeMap<u16, [u8; 48]>,
        nonce: Option<Vec<u8>>,
        public_key: Option<Vec<u8>>,
        user_data: Option<Vec<u8>>,
    ) -> Vec<u8> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let bytes_or_null = |v: Option<Vec<u8>>| v.map_or(Value::Null, Value::Bytes);
        let text = |s: &str| Value::Text(s.to_owned());
        let payload = Value::Map(vec![
            (
                text("module_id"),
                text("i-0123456789abcdef0-enc0123456789abcdef"),
            ),
            (text("digest"), text("SHA384")),
            (
                text("timestamp"),
                Value::Integer(u64::try_from(now_ms).unwrap().into()),
            ),
            (
                text("pcrs"),
                Value::Map(
                    pcrs.iter()
                        .map(|(i, v)| (Value::Integer((*i).into()), Value::Bytes(v.to_vec())))
                        .collect(),
                ),
            ),
            (text("certificate"), Value::Bytes(self.leaf_der.clone())),
            (
                text("cabundle"),
                Value::Array(vec![
                    Value::Bytes(self.root_der.clone()),
                    Value::Bytes(self.intermediate_der.clone()),
                ]),
            ),
            (text("public_key"), bytes_or_null(public_key)),
            (text("user_data"), bytes_or_null(user_data)),
            (text("nonce"), bytes_or_null(nonce)),
        ]);
        let mut encoded = Vec::new();
        ciborium::into_writer(&payload, &mut encoded).unwrap();
        let rng = SystemRandom::new();
        CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES384)
                    .build(),
            )
            .payload(encoded)
            .create_signature(b"", |tbs| {
                self.leaf_key.sign(&rng, tbs).unwrap().as_ref().to_vec()
            })
            .build()
            .to_vec()
            .unwrap()
    }
}

/// The NSM's state: 32 SHA-384 PCRs and which are locked.
struct State {
    pcrs: BTreeMap<u16, [u8; 48]>,
    locked: BTreeSet<u16>,
}

/// An NSM whose documents `TestNitroCa` signs. Clones share state.
#[derive(Clone)]
pub struct SyntheticNsm {
    ca: Arc<TestNitroCa>,
    state: Arc<Mutex<State>>,
}

impl SyntheticNsm {
    /// A freshly launched enclave: the image in PCR0–2, PCRs 0–15 locked (as
    /// the NSM locks them at launch), 16–31 zero and unlocked.
    pub fn launched(ca: Arc<TestNitroCa>, image: [[u8; 48]; 3]) -> Self {
        let mut pcrs: BTreeMap<u16, [u8; 48]> = (0..32).map(|i| (i, [0; 48])).collect();
        for (i, value) in (0u16..).zip(image) {
            pcrs.insert(i, value);
        }
        Self {
            ca,
            state: Arc::new(Mutex::new(State {
                pcrs,
                locked: (0..16).collect(),
            })),
        }
    }
}

impl NsmDevice for SyntheticNsm {
    fn process(&self, request: Request) -> Response {
        let mut s = self.state.lock().unwrap();
        match request {
            Request::DescribeNSM => Response::DescribeNSM {
                version_major: 1,
                version_minor: 0,
                version_patch: 0,
                module_id: "i-0123456789abcdef0-enc0123456789abcdef".into(),
                max_pcrs: 32,
                locked_pcrs: s.locked.clone(),
                digest: Digest::SHA384,
            },
            Request::DescribePCR { index } => match s.pcrs.get(&index) {
                Some(v) => Response::DescribePCR {
                    lock: s.locked.contains(&index),
                    data: v.to_vec(),
                },
                None => Response::Error(ErrorCode::InvalidIndex),
            },
            Request::LockPCRs { range } => {
                s.locked.extend(0..range);
                Response::LockPCRs
            }
            Request::ExtendPCR { index, data } => {
                if s.locked.contains(&index) {
                    return Response::Error(ErrorCode::ReadOnlyIndex);
                }
                let Some(pcr) = s.pcrs.get_mut(&index) else {
                    return Response::Error(ErrorCode::InvalidIndex);
                };
                *pcr = Sha384::new()
                    .chain_update(*pcr)
                    .chain_update(&data)
                    .finalize()
                    .into();
                Response::ExtendPCR { data: pcr.to_vec() }
            }
            Request::LockPCR { index } => {
                // The NSM refuses to lock what is locked (AWS's NSM checks
                // expect an error for PCRs 0-15).
                if !s.pcrs.contains_key(&index) || !s.locked.insert(index) {
                    return Response::Error(ErrorCode::InvalidIndex);
                }
                Response::LockPCR
            }
            Request::Attestation {
                user_data,
                nonce,
                public_key,
            } => {
                // Like the NSM, the document carries only locked PCRs.
                let locked: BTreeMap<u16, [u8; 48]> = s
                    .pcrs
                    .iter()
                    .filter(|(i, _)| s.locked.contains(i))
                    .map(|(i, v)| (*i, *v))
                    .collect();
                Response::Attestation {
                    document: self.ca.document(
                        &locked,
                        nonce.map(|b| b.to_vec()),
                        public_key.map(|b| b.to_vec()),
                        user_data.map(|b| b.to_vec()),
                    ),
                }
            }
            _ => Response::Error(ErrorCode::InvalidOperation),
        }
    }
}
