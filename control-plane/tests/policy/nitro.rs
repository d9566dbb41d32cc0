//! `verify_nitro` on real AWS documents at their own timestamps: each refusal
//! code, and for each a close variant that gets past that step.

use enclet_attestation::event_log::EventLog;
use enclet_attestation::nitro::NitroRoot;
use enclet_control_plane::reference::ReferenceValues;
use enclet_control_plane::verify::{Refusal, Verifier};

use crate::support::{PUBLIC_KEY, Vector, now, random, reference_nitro, vector};

fn verifier(v: &Vector, reference: ReferenceValues) -> Verifier {
    Verifier::new(reference, None, NitroRoot::aws_g1()).insecure_fixed_nitro_time_for_tests(v.at)
}

fn refuse(verifier: &Verifier, v: &Vector, nonce: &[u8]) -> Refusal {
    let log = EventLog::new().to_bytes();
    verifier
        .verify_nitro(&v.bytes, &log, PUBLIC_KEY, nonce, now())
        .unwrap_err()
}

#[test]
fn a_debug_enclave_is_refused_unless_debug_is_allowed() {
    let v = vector("03_");
    assert!(v.debug);
    let r = refuse(
        &verifier(&v, reference_nitro(&v.pcrs, true, false)),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "debug_enclave", "{r}");
    // Twin: debug allowed and its (zero) PCRs listed, it passes the debug and
    // image steps and stops at the nonce, which it does not carry.
    let r = refuse(
        &verifier(&v, reference_nitro(&v.pcrs, true, true)),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "nonce_mismatch", "{r}");
    assert!(r.message.starts_with("nitro.policy.nonce"), "{r}");
}

#[test]
fn a_listed_image_without_our_nonce_is_refused_as_another_nonce() {
    let v = vector("04_");
    assert!(!v.debug);
    let ours = random::<32>();
    let r = refuse(
        &verifier(&v, reference_nitro(&v.pcrs, true, false)),
        &v,
        &ours,
    );
    assert_eq!(r.code, "nonce_mismatch", "{r}");
    assert!(r.message.starts_with("nitro.policy.nonce"), "{r}");
    assert!(r.message.contains(&hex::encode(ours)), "{r}");
    // Twin: with the document's own nonce the nonce step passes; the next
    // binding (user_data = the event log's digest) is what fails.
    let theirs = v.nonce.clone().unwrap();
    let r = refuse(
        &verifier(&v, reference_nitro(&v.pcrs, true, false)),
        &v,
        &theirs,
    );
    assert_eq!(r.code, "event_log_unbound", "{r}");
    assert!(r.message.starts_with("nitro.policy.user_data"), "{r}");
}

#[test]
fn an_unlisted_image_is_refused() {
    let v = vector("11_");
    let other = vector("12_");
    let r = refuse(
        &verifier(&v, reference_nitro(&other.pcrs, false, false)),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "image_not_allowed", "{r}");
    assert!(r.message.contains(&v.pcrs[0]), "{r}");
    // Twin: the same document with its own PCRs listed gets past the image.
    let r = refuse(
        &verifier(&v, reference_nitro(&v.pcrs, false, false)),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "nonce_mismatch", "{r}");
    // (The nonce is the next step.)
    // PCR8 is compared when listed: 04 is a signed EIF.
    let v = vector("04_");
    let mut wrong8 = v.pcrs.clone();
    wrong8[3] = other.pcrs[3].clone();
    let r = refuse(
        &verifier(&v, reference_nitro(&wrong8, true, false)),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "image_not_allowed", "{r}");
    let r = refuse(
        &verifier(&v, reference_nitro(&wrong8, false, false)),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "nonce_mismatch", "{r}");
    // No Nitro image at all accepts nothing.
    let r = refuse(
        &verifier(&v, ReferenceValues::from_toml("").unwrap()),
        &v,
        &random::<32>(),
    );
    assert_eq!(r.code, "image_not_allowed", "{r}");
}

#[test]
fn at_todays_time_the_expired_chain_is_refused() {
    let v = vector("12_");
    let reference = reference_nitro(&v.pcrs, false, false);
    let today = Verifier::new(reference.clone(), None, NitroRoot::aws_g1());
    let r = refuse(&today, &v, &random::<32>());
    assert_eq!(r.code, "evidence_rejected", "{r}");
    assert!(r.message.starts_with("nitro.chain.expired"), "{r}");
    // Twin: at the document's own time the chain holds (the nonce fails).
    let r = refuse(&verifier(&v, reference), &v, &random::<32>());
    assert!(r.message.starts_with("nitro.policy.nonce"), "{r}");
}

#[test]
fn a_tampered_document_or_log_is_refused() {
    let mut v = vector("12_");
    let reference = reference_nitro(&v.pcrs, false, false);
    let verifier = verifier(&v, reference);
    // A malformed event log is not a log.
    let r = verifier
        .verify_nitro(&v.bytes, b"not a log", PUBLIC_KEY, &[1], now())
        .unwrap_err();
    assert_eq!(r.code, "event_log_mismatch", "{r}");
    // The last byte belongs to the COSE signature.
    let last = v.bytes.len() - 1;
    v.bytes[last] ^= 1;
    let r = refuse(&verifier, &v, &random::<32>());
    assert_eq!(r.code, "evidence_rejected", "{r}");
    assert!(r.message.starts_with("nitro.signature"), "{r}");
    // Not a document at all.
    let r = verifier
        .verify_nitro(
            b"\x84",
            &EventLog::new().to_bytes(),
            PUBLIC_KEY,
            &[1],
            now(),
        )
        .unwrap_err();
    assert_eq!(r.code, "evidence_rejected", "{r}");
}
