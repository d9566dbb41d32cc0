//! Plugin PCR epochs: an attestation that follows plugin events locks the
//! current plugin PCR, later events go to the next one, and the sixteenth
//! locked PCR ends plugin changes until a restart.

use super::*;

fn doc() -> Response {
    Response::Attestation {
        document: RECORDED.to_vec(),
    }
}

fn attestation(r: &AttestationRequest) -> Seen {
    Seen::Attestation {
        user_data: Some(r.event_log_digest.to_vec()),
        nonce: Some(r.nonce.clone()),
        public_key: Some(r.public_key.clone()),
    }
}

#[test]
fn attest_binds_nonce_key_and_log_and_locks_only_a_pcr_that_changed() {
    let (attester, fake) = opened();
    let r = request(vec![7; 32], vec![9; 32]);
    // Nothing loaded yet: nothing to lock, the document is asked for at once.
    fake.answer(doc());
    let Evidence::Nitro { document } = attester.attest(&r).unwrap() else {
        panic!("Nitro evidence expected");
    };
    assert_eq!(document, RECORDED);
    assert!(UnverifiedNitroDocument::parse(&document).is_ok());
    assert_eq!(fake.seen(), [attestation(&r)]);

    // A load, then an attestation: PCR16 is locked first (a document carries
    // only locked PCRs); a second attestation locks nothing more.
    let a = Measurement::of_plugin(b"a");
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&a]).to_vec(),
    });
    attester.measure_plugin(&a).unwrap();
    fake.answer(Response::LockPCR).answer(doc());
    attester.attest(&r).unwrap();
    assert_eq!(
        fake.seen(),
        [
            Seen::Extend(16, a.as_bytes().to_vec()),
            Seen::LockPcr(16),
            attestation(&r)
        ]
    );
    fake.answer(doc());
    attester.attest(&r).unwrap();
    assert_eq!(fake.seen(), [attestation(&r)]);

    // The next event (an unload) starts PCR17 from zero.
    let unload = PluginEvent::Unload(a);
    let value = unload.extend_value();
    let pcr17: [u8; 48] = Sha384::new()
        .chain_update([0u8; 48])
        .chain_update(value)
        .finalize()
        .into();
    fake.answer(Response::ExtendPCR {
        data: pcr17.to_vec(),
    });
    attester.record_plugin_event(&unload).unwrap();
    fake.answer(Response::LockPCR).answer(doc());
    attester.attest(&r).unwrap();
    assert_eq!(
        fake.seen(),
        [
            Seen::Extend(17, value.to_vec()),
            Seen::LockPcr(17),
            attestation(&r)
        ]
    );
}

#[test]
fn after_the_last_plugin_pcr_is_locked_events_are_refused_without_the_device() {
    let (attester, fake) = opened();
    let r = request(vec![7; 32], vec![9; 32]);
    for index in 16..=31u16 {
        let m = Measurement::of_plugin(&index.to_be_bytes());
        fake.answer(Response::ExtendPCR {
            data: replay_sha384([&m]).to_vec(),
        });
        attester.measure_plugin(&m).unwrap();
        fake.answer(Response::LockPCR).answer(doc());
        attester.attest(&r).unwrap();
        assert_eq!(fake.seen()[1], Seen::LockPcr(index));
    }
    let err = attester
        .measure_plugin(&Measurement::of_plugin(b"late"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AttesterError::Nsm(NsmError::PluginPcrsExhausted {
                first: 16,
                last: 31
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("restart the enclave"), "{err}");
    assert!(fake.seen().is_empty());
    // Attesting still works: every event is in a locked PCR.
    fake.answer(doc());
    attester.attest(&r).unwrap();
    assert_eq!(fake.seen(), [attestation(&r)]);
}

#[test]
fn a_next_pcr_that_did_not_start_at_zero_is_reported() {
    let (attester, fake) = opened();
    let a = Measurement::of_plugin(b"a");
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&a]).to_vec(),
    });
    attester.measure_plugin(&a).unwrap();
    fake.answer(Response::LockPCR).answer(doc());
    attester.attest(&request(vec![7; 32], vec![9; 32])).unwrap();
    // PCR17 had been extended by something else before.
    let b = Measurement::of_plugin(b"b");
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&a, &b]).to_vec(),
    });
    let err = attester.measure_plugin(&b).unwrap_err();
    assert!(
        matches!(
            err,
            AttesterError::Nsm(NsmError::PcrDiverged { index: 17, .. })
        ),
        "{err}"
    );
}
