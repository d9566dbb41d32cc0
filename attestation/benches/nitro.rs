//! Cost of verifying one AWS Nitro attestation document, next to the raw
//! ECDSA P-384 verifications it needs (one COSE signature, four certificate
//! signatures), measured in the same run.
//!
//! `cargo bench -p enclet-attestation --bench nitro`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use ciborium::Value;
use coset::{CborSerializable, CoseSign1};
use criterion::{Criterion, criterion_group, criterion_main};
use enclet_attestation::UnixTime;
use enclet_attestation::nitro::{CertCache, NitroPolicy, NitroVerifier, UnverifiedNitroDocument};
use x509_parser::prelude::{FromDer, X509Certificate};

const DOC: &[u8] = include_bytes!("../testdata/nitro/12_base_2026-01-03_prod_indefinite_map.cose");
const AT: UnixTime = UnixTime::from_secs(1_767_472_867);

/// One signature check: (algorithm is FIXED for COSE, ASN.1 for certificates).
struct Check {
    key: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
    fixed: bool,
}

impl Check {
    fn run(&self) {
        let alg = if self.fixed {
            &ECDSA_P384_SHA384_FIXED
        } else {
            &ECDSA_P384_SHA384_ASN1
        };
        UnparsedPublicKey::new(alg, &self.key)
            .verify(&self.message, &self.signature)
            .unwrap();
    }
}

fn bytes_field<'a>(map: &'a [(Value, Value)], key: &str) -> &'a Value {
    &map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .unwrap()
        .1
}

/// Extracts the five signature checks independently of the library under test.
fn checks() -> (Check, Vec<Check>) {
    let sign1 = CoseSign1::from_slice(DOC).unwrap();
    let payload = sign1.payload.clone().unwrap();
    let map: Value = ciborium::from_reader(payload.as_slice()).unwrap();
    let map = map.as_map().unwrap();
    let mut ders: Vec<Vec<u8>> = bytes_field(map, "cabundle")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bytes().unwrap().clone())
        .collect();
    ders.push(bytes_field(map, "certificate").as_bytes().unwrap().clone());
    let certs: Vec<X509Certificate<'_>> = ders
        .iter()
        .map(|d| X509Certificate::from_der(d).unwrap().1)
        .collect();
    let chain = certs
        .windows(2)
        .map(|w| Check {
            key: w[0].public_key().subject_public_key.data.to_vec(),
            message: w[1].tbs_certificate.as_ref().to_vec(),
            signature: w[1].signature_value.data.to_vec(),
            fixed: false,
        })
        .collect();
    let cose = Check {
        key: certs
            .last()
            .unwrap()
            .public_key()
            .subject_public_key
            .data
            .to_vec(),
        message: sign1.tbs_data(&[]),
        signature: sign1.signature.clone(),
        fixed: true,
    };
    (cose, chain)
}

/// Median of `f`'s run time over interleaved rounds.
fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Interleaves each verification with the raw ECDSA work it needs, so that
/// both see the same machine load, and prints the median ratio. Criterion's
/// separate groups below give the absolute figures.
fn paired(cose: &Check, chain: &[Check], verifier: &NitroVerifier, policy: &NitroPolicy) {
    const ROUNDS: usize = 300;
    let mut cache = CertCache::new();
    let (mut raw1, mut warm, mut raw5, mut cold) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        cose.run();
        raw1.push(t.elapsed());
        let t = Instant::now();
        let doc = UnverifiedNitroDocument::parse(black_box(DOC)).unwrap();
        verifier
            .verify_cached(&doc, policy, AT, &mut cache)
            .unwrap();
        warm.push(t.elapsed());
        let t = Instant::now();
        cose.run();
        chain.iter().for_each(Check::run);
        raw5.push(t.elapsed());
        let t = Instant::now();
        let doc = UnverifiedNitroDocument::parse(black_box(DOC)).unwrap();
        verifier.verify(&doc, policy, AT).unwrap();
        cold.push(t.elapsed());
    }
    let (raw1, warm) = (median(&mut raw1), median(&mut warm));
    let (raw5, cold) = (median(&mut raw5), median(&mut cold));
    println!(
        "paired medians over {ROUNDS} rounds: cold verify {cold:?} / 5 x P-384 {raw5:?} = {:.2}; \
         warm-cache verify {warm:?} / 1 x P-384 {raw1:?} = {:.2}",
        cold.as_secs_f64() / raw5.as_secs_f64(),
        warm.as_secs_f64() / raw1.as_secs_f64(),
    );
}

fn bench(c: &mut Criterion) {
    let (cose, chain) = checks();
    assert_eq!(chain.len(), 4);
    let verifier = NitroVerifier::aws();
    let policy = NitroPolicy::insecure_any_image();
    paired(&cose, &chain, &verifier, &policy);
    let mut g = c.benchmark_group("nitro");

    g.bench_function("p384_cose_signature", |b| b.iter(|| cose.run()));
    g.bench_function("p384_chain_signatures_x4", |b| {
        b.iter(|| chain.iter().for_each(Check::run));
    });
    g.bench_function("p384_all_five", |b| {
        b.iter(|| {
            cose.run();
            chain.iter().for_each(Check::run);
        });
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| UnverifiedNitroDocument::parse(black_box(DOC)).unwrap());
    });
    g.bench_function("verify_cold_no_cache", |b| {
        b.iter(|| {
            let doc = UnverifiedNitroDocument::parse(black_box(DOC)).unwrap();
            verifier.verify(&doc, &policy, AT).unwrap()
        });
    });
    let mut cache = CertCache::new();
    g.bench_function("verify_warm_cache", |b| {
        b.iter(|| {
            let doc = UnverifiedNitroDocument::parse(black_box(DOC)).unwrap();
            verifier
                .verify_cached(&doc, &policy, AT, &mut cache)
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
