//! The event-log binding of a verified document (`into_claims_with_event_log`)
//! and policies applied after verification (`NitroPolicy::check_verified`).
//!
//! No real document binds an enclet event log, so the positive cases take a
//! genuinely verified document and give it, inside the crate, the PCR16 and
//! `user_data` an enclet enclave would have produced; each has a negative twin.

use super::vectors::VECTORS;
use super::*;
use crate::Verified;
use crate::claims::Plugins;
use crate::event_log::EventLog;
use crate::measurement::Measurement;

fn verified_12() -> Verified<NitroClaims> {
    let v = &VECTORS[11];
    verify(
        v.bytes,
        &NitroVerifier::aws(),
        &NitroPolicy::insecure_any_image(),
        UnixTime::from_secs(v.at),
    )
    .unwrap()
}

fn log_of(names: &[&[u8]]) -> EventLog {
    let mut log = EventLog::new();
    for n in names {
        log.push_load(Measurement::of_plugin(n)).unwrap();
    }
    log
}

/// Document 12 as an enclet enclave that loaded `log` would have made it.
fn binding(log: &EventLog) -> Verified<NitroClaims> {
    let mut c = verified_12().into_inner();
    c.pcrs.insert(PLUGIN_PCR, log.replay_sha384().to_vec());
    c.user_data = Some(log.digest().to_vec());
    Verified::new(c)
}

#[test]
fn a_log_that_replays_to_pcr16_and_user_data_gives_replayed_plugins() {
    let log = log_of(&[b"one", b"two"]);
    let claims = binding(&log).into_claims_with_event_log(&log).unwrap();
    assert_eq!(claims.plugins, Plugins::Replayed(log.live()));
    assert!(claims.checked.event_log);
    assert!(claims.checked.pcrs);
    // Without the log nothing is known about plugins.
    let plain = binding(&log).into_claims();
    assert_eq!(plain.plugins, Plugins::NotChecked);
    assert!(!plain.checked.event_log);
}

#[test]
fn an_unload_leaves_the_plugin_out_of_the_live_set_but_in_the_history() {
    use crate::event_log::PluginEvent;
    let (one, two) = (
        Measurement::of_plugin(b"one"),
        Measurement::of_plugin(b"two"),
    );
    let mut log = log_of(&[b"one", b"two"]);
    log.push_unload(one).unwrap();
    let claims = binding(&log).into_claims_with_event_log(&log).unwrap();
    assert_eq!(claims.plugins, Plugins::Replayed(vec![two]));
    assert_eq!(
        claims.plugin_events,
        vec![
            PluginEvent::Load(one),
            PluginEvent::Load(two),
            PluginEvent::Unload(one)
        ]
    );
    // A log that hides the unload does not replay to the same PCR16.
    let hidden = log_of(&[b"one", b"two"]);
    let mut c = binding(&log).into_inner();
    c.user_data = Some(hidden.digest().to_vec());
    let e = Verified::new(c)
        .into_claims_with_event_log(&hidden)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.event_log", "{e}");
}

#[test]
fn a_reordered_or_other_log_does_not_replay() {
    let log = log_of(&[b"one", b"two"]);
    let other = log_of(&[b"two", b"one"]);
    // The document binds `log`'s digest: another log fails at user_data.
    let e = binding(&log)
        .into_claims_with_event_log(&other)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.policy.user_data", "{e}");
    // user_data bound to `other` but PCR16 to `log`: the replay fails.
    let mut c = binding(&log).into_inner();
    c.user_data = Some(other.digest().to_vec());
    let e = Verified::new(c)
        .into_claims_with_event_log(&other)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.event_log", "{e}");
    assert!(e.to_string().contains("PCR16"), "{e}");
}

#[test]
fn a_document_without_pcr16_has_no_plugins_to_replay() {
    let log = EventLog::new();
    let mut c = verified_12().into_inner();
    c.user_data = Some(log.digest().to_vec());
    assert!(c.pcr(PLUGIN_PCR).is_none());
    let e = Verified::new(c.clone())
        .into_claims_with_event_log(&log)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.event_log", "{e}");
    // The same document with a zero PCR16 replays the empty log.
    c.pcrs.insert(PLUGIN_PCR, vec![0; 48]);
    let claims = Verified::new(c).into_claims_with_event_log(&log).unwrap();
    assert_eq!(claims.plugins, Plugins::Replayed(vec![]));
}

#[test]
fn a_policy_applied_after_verification_checks_and_records_the_nonce() {
    let v = &VECTORS[3]; // 04: a 256-byte nonce.
    let now = UnixTime::from_secs(v.at);
    let claims = verify(
        v.bytes,
        &NitroVerifier::aws(),
        &NitroPolicy::insecure_any_image(),
        now,
    )
    .unwrap();
    assert!(!claims.nonce_checked);
    let nonce = claims.nonce.clone().unwrap();
    let checked = NitroPolicy::insecure_any_image()
        .nonce(nonce.clone())
        .check_verified(claims.clone(), now)
        .unwrap();
    assert!(checked.nonce_checked);
    assert!(checked.into_claims().checked.nonce);
    let mut other = nonce;
    other[0] ^= 1;
    let e = NitroPolicy::insecure_any_image()
        .nonce(other)
        .check_verified(claims, now)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.policy.nonce");
}
