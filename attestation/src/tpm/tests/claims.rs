//! What the neutral claims say about how far a quote was checked: the trust
//! basis of the AK and whether an event log was replayed.

use super::*;

#[test]
fn claims_from_a_caller_pinned_ak_say_so_and_stay_distinct_from_activated() {
    // The same quote, verified with and without activation: only the basis
    // differs, and the neutral claims keep it.
    let q = enclet_quote();
    let pinned = verify_quote(&q.evidence(), &q.expect())
        .unwrap()
        .into_claims();
    assert_eq!(pinned.trust_basis.as_str(), "caller_pinned_ak");
    let activated = Verified::new(credential::activated_for(&q.ak));
    let mut exp = q.expect();
    exp.activated_ak = Some(&activated);
    let proven = verify_quote(&q.evidence(), &exp).unwrap().into_claims();
    assert_ne!(pinned, proven);
    assert_eq!(
        (pinned.plugins.clone(), pinned.image.clone()),
        (proven.plugins.clone(), proven.image.clone())
    );
    let json = serde_json::to_value(pinned.get()).unwrap();
    assert_eq!(json["trust_basis"]["kind"], "caller_pinned_ak");
    assert_eq!(
        json["trust_basis"]["ak_name"],
        hex::encode(ak_name(&q.ak).unwrap())
    );
    let json = serde_json::to_value(proven.get()).unwrap();
    assert_eq!(json["trust_basis"]["kind"], "activated_ak");
    assert_eq!(
        json["trust_basis"]["ek_name"],
        hex::encode(activated.ek_name())
    );
}

#[test]
fn claims_without_an_event_log_report_plugins_not_checked() {
    let q = enclet_quote();
    // PCR values checked, raw nonce, but no event log: the plugins are unknown.
    let exp = TpmExpectations {
        extra_data: ExpectedExtraData::Unchecked,
        pcrs: Some(&q.pcrs),
        event_log: None,
        activated_ak: None,
    };
    let c = verify_quote(&q.evidence(), &exp).unwrap().into_claims();
    assert_eq!(c.plugins, crate::claims::Plugins::NotChecked);
    assert!(c.checked.pcrs && !c.checked.event_log && !c.checked.nonce);
    assert_eq!(c.plugins.replayed(), None);
    // An empty log that replays (to a PCR 16 of zeros) is "replayed, none".
    let empty = EventLog::new();
    let zero16 = empty.replay_sha256();
    let mut pcrs = PcrValues::new();
    pcrs.insert(HashAlg::Sha256, 16, zero16.to_vec()).unwrap();
    pcrs.insert(HashAlg::Sha256, 23, vec![0x23; 32]).unwrap();
    let extra = qualifying_data(NONCE, ENCLAVE_KEY, &empty.digest());
    let attest = ecc_attest(&extra, &zero16, &[0x23; 32]);
    let sig = ecdsa_sig(&q.pair, &attest);
    let ev = QuoteEvidence {
        attest: &attest,
        signature: &sig,
        ak_public: &q.ak,
    };
    let exp = TpmExpectations {
        pcrs: Some(&pcrs),
        event_log: Some(&empty),
        ..q.expect()
    };
    let c = verify_quote(&ev, &exp).unwrap().into_claims();
    assert_eq!(c.plugins, crate::claims::Plugins::Replayed(Vec::new()));
    assert!(c.checked.event_log);
    // The serialized forms differ too.
    let json = serde_json::to_value(c.get()).unwrap();
    assert_eq!(json["plugins"]["status"], "replayed");
    assert_eq!(json["plugins"]["measurements"], serde_json::json!([]));
    assert_eq!(json["checked"]["event_log"], true);
}
