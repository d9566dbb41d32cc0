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
fn a_document_without_plugin_pcrs_replays_only_the_empty_log() {
    let empty = EventLog::new();
    let mut c = verified_12().into_inner();
    c.user_data = Some(empty.digest().to_vec());
    assert!(c.pcr(PLUGIN_PCR).is_none());
    let claims = Verified::new(c.clone())
        .into_claims_with_event_log(&empty)
        .unwrap();
    assert_eq!(claims.plugins, Plugins::Replayed(vec![]));
    // A log with events needs the locked PCRs they went into.
    let log = log_of(&[b"one"]);
    c.user_data = Some(log.digest().to_vec());
    let e = Verified::new(c.clone())
        .into_claims_with_event_log(&log)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.event_log", "{e}");
    assert!(
        e.to_string().contains("replay to no locked plugin PCR"),
        "{e}"
    );
    // A zero PCR16 is not an empty run: no event replays to zero.
    c.pcrs.insert(PLUGIN_PCR, vec![0; 48]);
    c.user_data = Some(empty.digest().to_vec());
    let e = Verified::new(c)
        .into_claims_with_event_log(&empty)
        .unwrap_err();
    assert!(
        e.to_string().contains("ends before it replays to PCR16"),
        "{e}"
    );
}

/// Document 12 with the plugin PCRs an enclave that locked after each run
/// of `runs` would have, and `user_data` bound to all of them.
fn epochs(runs: &[&[crate::event_log::PluginEvent]]) -> (EventLog, NitroClaims) {
    let mut log = EventLog::new();
    let mut c = verified_12().into_inner();
    for (i, run) in runs.iter().enumerate() {
        for e in *run {
            log.push(*e).unwrap();
        }
        // A run replays from zero like a log of its own events (loads and
        // unloads alike), computed from their extend values.
        let value = run.iter().fold([0u8; 48], |pcr, e| {
            use sha2::Digest as _;
            sha2::Sha384::new()
                .chain_update(pcr)
                .chain_update(e.extend_value())
                .finalize()
                .into()
        });
        c.pcrs
            .insert(PLUGIN_PCR + u8::try_from(i).unwrap(), value.to_vec());
    }
    c.user_data = Some(log.digest().to_vec());
    (log, c)
}

#[test]
fn events_split_across_locked_plugin_pcrs_replay_in_turn() {
    use crate::event_log::PluginEvent::{Load, Unload};
    let (a, b) = (Measurement::of_plugin(b"a"), Measurement::of_plugin(b"b"));
    let (log, c) = epochs(&[&[Load(a), Load(b)], &[Unload(a)], &[Load(a)]]);
    let claims = Verified::new(c.clone())
        .into_claims_with_event_log(&log)
        .unwrap();
    assert_eq!(claims.plugins, Plugins::Replayed(vec![b, a]));
    assert_eq!(claims.plugin_events.len(), 4);

    // A gap in the plugin PCRs is refused.
    let mut gap = c.clone();
    let pcr17 = gap.pcrs.remove(&17).unwrap();
    gap.pcrs.insert(20, pcr17);
    let e = Verified::new(gap)
        .into_claims_with_event_log(&log)
        .unwrap_err();
    assert!(e.to_string().contains("not PCR17"), "{e}");
    // Dropping the last run's PCR leaves its event unaccounted for.
    let mut short = c.clone();
    short.pcrs.remove(&18);
    let e = Verified::new(short)
        .into_claims_with_event_log(&log)
        .unwrap_err();
    assert!(e.to_string().contains("1 event(s) from entry 3"), "{e}");
    // A log that stops before the unload, bound by user_data, does not
    // replay: PCR17 and PCR18 have no events left.
    let (hiding, _) = epochs(&[&[Load(a), Load(b)]]);
    let mut lying = c;
    lying.user_data = Some(hiding.digest().to_vec());
    let e = Verified::new(lying)
        .into_claims_with_event_log(&hiding)
        .unwrap_err();
    assert_eq!(e.code(), "nitro.event_log", "{e}");
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
