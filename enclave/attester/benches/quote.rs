//! Quote generation latency on a private swtpm, plus the steps around it.
//!
//! `cargo bench -p enclet-attester --bench quote`. Each figure is one call of
//! the public [`Attester`] API: `attest` is `TPM2_Quote` plus the PCR read that
//! accompanies it. Pure-Rust verification of the same quote is measured for
//! comparison. The enclave attests once per session (after its plugins are
//! loaded, per verifier challenge), never per plugin invocation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use enclet_attestation::Measurement;
use enclet_attestation::event_log::EventLog;
use enclet_attestation::event_log::PluginEvent;
use enclet_attestation::tpm::{
    self, ExpectedExtraData, HashAlg, PcrValues, QuoteEvidence, TpmExpectations,
};
use enclet_attester::tpm::TpmAttester;
use enclet_attester::{AttestationRequest, Attester, Evidence};
use enclet_swtpm::Swtpm;

fn bench(c: &mut Criterion) {
    let swtpm = Swtpm::start().unwrap();
    let attester = TpmAttester::open(&swtpm.tpm_config()).unwrap();
    attester
        .measure_image(&Measurement::of_plugin(b"enclave"))
        .unwrap();
    let mut log = EventLog::new();
    for p in [&b"plugin one"[..], b"plugin two"] {
        let m = Measurement::of_plugin(p);
        attester.record_plugin_event(&PluginEvent::Load(m)).unwrap();
        log.push_load(m).unwrap();
    }
    let request = AttestationRequest {
        nonce: vec![7; 32],
        public_key: vec![9; 65],
        event_log_digest: log.digest(),
    };

    let mut g = c.benchmark_group("tpm");
    g.bench_function("attest (quote + PCR read)", |b| {
        b.iter(|| attester.attest(&request).unwrap());
    });

    let Evidence::Tpm(ev) = attester.attest(&request).unwrap() else {
        panic!("TPM evidence expected");
    };
    let mut pcrs = PcrValues::new();
    for (i, v) in &ev.pcrs {
        pcrs.insert(HashAlg::Sha256, *i, v.clone()).unwrap();
    }
    let quote = QuoteEvidence {
        attest: &ev.attest,
        signature: &ev.signature,
        ak_public: &ev.ak_public,
    };
    let expectations = TpmExpectations {
        extra_data: ExpectedExtraData::Enclet {
            nonce: &request.nonce,
            public_key: &request.public_key,
        },
        pcrs: Some(&pcrs),
        event_log: Some(&log),
        activated_ak: None,
    };
    g.bench_function("verify quote (pure Rust)", |b| {
        b.iter(|| tpm::verify_quote(&quote, &expectations).unwrap());
    });

    let m = Measurement::of_plugin(b"plugin three");
    g.bench_function("record_plugin_event (PCR extend)", |b| {
        b.iter(|| attester.record_plugin_event(&PluginEvent::Load(m)).unwrap());
    });
    // swtpm serves one connection at a time, and a TPM without a resource
    // manager holds few transient objects: close this attester first.
    drop(attester);
    g.sample_size(10);
    g.bench_function("open (EK + AK create, PCR reset)", |b| {
        b.iter(|| drop(TpmAttester::open(&swtpm.tpm_config()).unwrap()));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
