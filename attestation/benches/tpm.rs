//! Cost of verifying TPM evidence: the real GCP quote (RSA-2048, SHA-1), an
//! swtpm ECDSA P-256 quote, parsing alone, the EK certificate chain and
//! `MakeCredential`. Criterion's median is the p50.
//!
//! `cargo bench -p enclet-attestation --bench tpm`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use enclet_attestation::UnixTime;
use enclet_attestation::tpm::{
    CREDENTIAL_RANDOM_LEN, ExpectedExtraData, PcrValues, QuoteEvidence, TpmExpectations,
    UnverifiedQuote, make_credential, verify_ek_certificate, verify_quote,
};

const GCP_QUOTE: &[u8] = include_bytes!("../testdata/tpm/gcp_quote.bin");
const GCP_SIG: &[u8] = include_bytes!("../testdata/tpm/gcp_signature.bin");
const GCP_AK: &[u8] = include_bytes!("../testdata/tpm/gcp_ak_public.bin");
const GCP_PCRS: &str = include_str!("../testdata/tpm/gcp_pcrs.txt");
const ECC_QUOTE: &[u8] = include_bytes!("../testdata/tpm/swtpm/ecc_quote.bin");
const ECC_SIG: &[u8] = include_bytes!("../testdata/tpm/swtpm/ecc_quote_sig.bin");
const ECC_AK: &[u8] = include_bytes!("../testdata/tpm/swtpm/ak_ecc_public.bin");
const SWTPM_PCRS: &str = include_str!("../testdata/tpm/swtpm/pcrs.txt");
const EK_PUBLIC: &[u8] = include_bytes!("../testdata/tpm/swtpm/ek_public.bin");
const EK_CERT: &[u8] = include_bytes!("../testdata/tpm/swtpm/ek_cert.der");
const LOCAL_CA: &[u8] = include_bytes!("../testdata/tpm/swtpm/localca.der");
const ROOT_CA: &[u8] = include_bytes!("../testdata/tpm/swtpm/rootca.der");
const AK_NAME: &[u8] = include_bytes!("../testdata/tpm/swtpm/ak_rsa_name.bin");

fn bench(c: &mut Criterion) {
    let gcp_pcrs = PcrValues::parse_text(GCP_PCRS).unwrap();
    let gcp = QuoteEvidence {
        attest: GCP_QUOTE,
        signature: GCP_SIG,
        ak_public: GCP_AK,
    };
    let gcp_exp = TpmExpectations {
        extra_data: ExpectedExtraData::Exact(&[]),
        pcrs: Some(&gcp_pcrs),
        event_log: None,
        activated_ak: None,
    };
    c.bench_function("tpm/verify_quote/gcp_rsa2048_sha1_24pcrs", |b| {
        b.iter(|| verify_quote(black_box(&gcp), black_box(&gcp_exp)).unwrap());
    });

    let swtpm_pcrs = PcrValues::parse_text(SWTPM_PCRS).unwrap();
    let ecc = QuoteEvidence {
        attest: ECC_QUOTE,
        signature: ECC_SIG,
        ak_public: ECC_AK,
    };
    let ecc_exp = TpmExpectations {
        extra_data: ExpectedExtraData::Exact(b"nonce"),
        pcrs: Some(&swtpm_pcrs),
        event_log: None,
        activated_ak: None,
    };
    c.bench_function("tpm/verify_quote/swtpm_ecdsa_p256_2pcrs", |b| {
        b.iter(|| verify_quote(black_box(&ecc), black_box(&ecc_exp)).unwrap());
    });

    c.bench_function("tpm/parse_quote/gcp", |b| {
        b.iter(|| UnverifiedQuote::parse(black_box(GCP_QUOTE)).unwrap());
    });

    let now = UnixTime::from_secs(1_800_000_000);
    c.bench_function("tpm/verify_ek_certificate/swtpm_2_levels", |b| {
        b.iter(|| {
            verify_ek_certificate(black_box(EK_CERT), &[LOCAL_CA], ROOT_CA, EK_PUBLIC, now).unwrap()
        });
    });

    let random = [7u8; CREDENTIAL_RANDOM_LEN];
    c.bench_function("tpm/make_credential/rsa2048_ek", |b| {
        b.iter(|| make_credential(black_box(EK_PUBLIC), AK_NAME, &[1; 32], &random).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
