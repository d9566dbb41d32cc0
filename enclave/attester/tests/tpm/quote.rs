//! A quote over two measured plugins verifies; each tampering is rejected with
//! its own error.

use enclet_attestation::Measurement;
use enclet_attestation::event_log::EventLog;
use enclet_attestation::event_log::PluginEvent;
use enclet_attestation::measurement::replay_sha256;
use enclet_attestation::tpm::{IMAGE_PCR, PLUGIN_PCR, TpmError};

use crate::support::{Fixture, PUBLIC_KEY, random, tpm_err, verify};

#[test]
fn quote_over_two_plugins_verifies_with_both_measurements_in_the_claims() {
    let f = Fixture::new();
    let activated = f.activated_ak();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);

    let claims = verify(&ev, &nonce, &f.log, Some(&activated)).unwrap();

    assert_eq!(claims.claims.plugins.replayed(), Some(&f.plugins[..]));
    assert_eq!(
        claims.claims.image,
        Some(replay_sha256([&f.image]).to_vec())
    );
    assert_eq!(claims.claims.nonce.as_deref(), Some(&nonce[..]));
    assert_eq!(claims.claims.public_key.as_deref(), Some(PUBLIC_KEY));
    let checked = claims.claims.checked;
    assert_eq!(claims.claims.trust_basis.as_str(), "activated_ak");
    assert!(checked.nonce && checked.pcrs && checked.event_log);
    assert_eq!(claims.ak_name, f.identity.ak_name);
    // The evidence carries both PCRs, ascending, with the values the log replays to.
    let indices: Vec<u8> = ev.pcrs.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [PLUGIN_PCR, IMAGE_PCR]);
    assert_eq!(ev.pcrs[0].1, replay_sha256(&f.plugins).to_vec());
}

#[test]
fn a_plugin_other_than_the_measured_one_does_not_replay() {
    let f = Fixture::new();
    let nonce = random::<32>();
    // The log claims plugin three where the TPM measured plugin two; the quote
    // even binds this log's digest, so only the replay can catch it.
    let mut swapped = EventLog::new();
    swapped.push_load(f.plugins[0]).unwrap();
    swapped
        .push_load(Measurement::of_plugin(b"plugin three component"))
        .unwrap();
    let ev = f.quote(&nonce, &swapped);

    let err = tpm_err(verify(&ev, &nonce, &swapped, None));
    assert!(matches!(err, TpmError::EventLog(_)), "{err}");
    // The honest log replays but is not the one the quote binds.
    let err = tpm_err(verify(&ev, &nonce, &f.log, None));
    assert!(matches!(err, TpmError::QualifyingData { .. }), "{err}");
}

#[test]
fn a_stale_nonce_is_rejected() {
    let f = Fixture::new();
    let old = random::<32>();
    let fresh = random::<32>();
    let ev = f.quote(&old, &f.log);
    assert!(verify(&ev, &old, &f.log, None).is_ok());

    let err = tpm_err(verify(&ev, &fresh, &f.log, None));
    assert!(matches!(err, TpmError::QualifyingData { .. }), "{err}");
}

#[test]
fn a_pcr_value_edited_in_transit_is_rejected() {
    let f = Fixture::new();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);
    for which in 0..ev.pcrs.len() {
        let mut edited = ev.clone();
        edited.pcrs[which].1[0] ^= 1;
        let err = tpm_err(verify(&edited, &nonce, &f.log, None));
        assert_eq!(err, TpmError::PcrDigest, "PCR {}", ev.pcrs[which].0);
    }
}

#[test]
fn truncated_structures_are_rejected() {
    let f = Fixture::new();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);
    for cut in [0, 1, ev.attest.len() / 2, ev.attest.len() - 1] {
        let mut t = ev.clone();
        t.attest.truncate(cut);
        let err = tpm_err(verify(&t, &nonce, &f.log, None));
        assert!(
            matches!(err, TpmError::Truncated { .. }),
            "attest cut at {cut}: {err}"
        );
    }
    for cut in [0, 3, ev.signature.len() - 1] {
        let mut t = ev.clone();
        t.signature.truncate(cut);
        let err = tpm_err(verify(&t, &nonce, &f.log, None));
        assert!(
            matches!(err, TpmError::Truncated { .. }),
            "signature cut at {cut}: {err}"
        );
    }
    // The AK as a bare TPMT_PUBLIC (the TPM2B without its size), cut short.
    let tpmt = ev.ak_public[2..].to_vec();
    for cut in [0, 1, tpmt.len() / 2, tpmt.len() - 1] {
        let mut t = ev.clone();
        t.ak_public = tpmt[..cut].to_vec();
        let err = tpm_err(verify(&t, &nonce, &f.log, None));
        assert!(
            matches!(err, TpmError::Truncated { .. }),
            "AK cut at {cut}: {err}"
        );
    }
    // A TPM2B_PUBLIC whose size no longer matches is read as a bare
    // TPMT_PUBLIC, so the field that breaks first names the error.
    for cut in [1, 10, ev.ak_public.len() - 1] {
        let mut t = ev.clone();
        t.ak_public.truncate(cut);
        assert!(verify(&t, &nonce, &f.log, None).is_err(), "AK cut at {cut}");
    }
}

#[test]
fn a_flipped_bit_in_the_quote_or_signature_breaks_the_signature() {
    let f = Fixture::new();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);
    // The last byte of TPMS_ATTEST is inside pcrDigest; the last of the
    // signature inside s.
    let mut t = ev.clone();
    *t.attest.last_mut().unwrap() ^= 1;
    assert!(matches!(
        tpm_err(verify(&t, &nonce, &f.log, None)),
        TpmError::Signature(_)
    ));
    let mut t = ev.clone();
    *t.signature.last_mut().unwrap() ^= 1;
    assert!(matches!(
        tpm_err(verify(&t, &nonce, &f.log, None)),
        TpmError::Signature(_)
    ));
}

#[test]
fn plugins_loaded_after_a_quote_show_in_the_next_one() {
    let f = Fixture::new();
    let third = Measurement::of_plugin(b"plugin three component");
    f.attester
        .record_plugin_event(&PluginEvent::Load(third))
        .unwrap();
    let mut log = f.log.clone();
    log.push_load(third).unwrap();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &log);
    let claims = verify(&ev, &nonce, &log, None).unwrap();
    assert_eq!(claims.claims.plugins.replayed().map(<[_]>::len), Some(3));
    // The two-plugin log no longer replays.
    let ev = f.quote(&nonce, &f.log);
    assert!(matches!(
        tpm_err(verify(&ev, &nonce, &f.log, None)),
        TpmError::EventLog(_)
    ));
}

#[test]
fn remeasuring_the_image_replaces_it() {
    let f = Fixture::new();
    let other = Measurement::of_plugin(b"another enclave binary");
    f.attester.measure_image(&other).unwrap();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);
    let claims = verify(&ev, &nonce, &f.log, None).unwrap();
    assert_eq!(claims.claims.image, Some(replay_sha256([&other]).to_vec()));
    assert_ne!(
        claims.claims.image,
        Some(replay_sha256([&f.image]).to_vec())
    );
}
