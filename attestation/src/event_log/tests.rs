use super::*;

fn m(name: &[u8]) -> Measurement {
    Measurement::of_plugin(name)
}

fn log_of(events: &[PluginEvent]) -> EventLog {
    let mut log = EventLog::new();
    for e in events {
        log.push(*e).unwrap();
    }
    log
}

fn loads(names: &[&[u8]]) -> EventLog {
    let events: Vec<_> = names.iter().map(|n| PluginEvent::Load(m(n))).collect();
    log_of(&events)
}

#[test]
fn round_trips_and_digest_binds_content_and_order() {
    let log = loads(&[b"a", b"b"]);
    assert_eq!(EventLog::from_bytes(&log.to_bytes()).unwrap(), log);
    assert_ne!(log.digest(), loads(&[b"b", b"a"]).digest());
    assert_ne!(log.digest(), loads(&[b"a"]).digest());
    assert!(
        EventLog::from_bytes(&EventLog::new().to_bytes())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_unload_is_recorded_replayed_and_changes_what_is_live() {
    use PluginEvent::{Load, Unload};
    let (a, b) = (m(b"a"), m(b"b"));
    let log = log_of(&[Load(a), Load(b), Unload(a)]);
    assert_eq!(log.live(), vec![b]);
    assert!(!log.is_live(&a));
    assert_eq!(EventLog::from_bytes(&log.to_bytes()).unwrap(), log);
    // Every event moves both banks; loads-only is not the same history.
    let loaded = loads(&[b"a", b"b"]);
    assert_ne!(log.replay_sha384(), loaded.replay_sha384());
    assert_ne!(log.replay_sha256(), loaded.replay_sha256());
    assert_ne!(log.digest(), loaded.digest());
    // Reloading after an unload is a new event, and the plugin is live again.
    let again = log_of(&[Load(a), Load(b), Unload(a), Load(a)]);
    assert_eq!(again.live(), vec![b, a]);
}

#[test]
fn the_extend_rule_is_the_documented_one() {
    let a = m(b"a");
    // load(m) extends m itself.
    assert_eq!(PluginEvent::Load(a).extend_value(), *a.as_bytes());
    // unload(m) extends SHA-384("enclet-plugin-unload/v1" || m).
    let mut h = Sha384::new();
    h.update(b"enclet-plugin-unload/v1");
    h.update(a.as_bytes());
    let unload: [u8; 48] = h.finalize().into();
    assert_eq!(PluginEvent::Unload(a).extend_value(), unload);
    // SHA-384 bank: H(0^48 || v); SHA-256 bank: H(0^32 || SHA-256(v)).
    let log = log_of(&[PluginEvent::Load(a), PluginEvent::Unload(a)]);
    let first: [u8; 48] = Sha384::new()
        .chain_update([0u8; 48])
        .chain_update(a.as_bytes())
        .finalize()
        .into();
    let second: [u8; 48] = Sha384::new()
        .chain_update(first)
        .chain_update(unload)
        .finalize()
        .into();
    assert_eq!(log.replay_sha384(), second);
    let first: [u8; 32] = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update(Sha256::digest(a.as_bytes()))
        .finalize()
        .into();
    let second: [u8; 32] = Sha256::new()
        .chain_update(first)
        .chain_update(Sha256::digest(unload))
        .finalize()
        .into();
    assert_eq!(log.replay_sha256(), second);
    // Loads only replay exactly as the plain measurements did.
    assert_eq!(
        loads(&[b"a", b"b"]).replay_sha384(),
        crate::measurement::replay_sha384([&a, &m(b"b")])
    );
}

#[test]
fn pushes_that_would_make_the_log_ill_formed_are_refused() {
    let a = m(b"a");
    let mut log = loads(&[b"a"]);
    assert_eq!(
        log.push_load(a),
        Err(EventLogError::AlreadyLoaded {
            index: 1,
            measurement: a
        })
    );
    let b = m(b"b");
    assert_eq!(
        log.push_unload(b),
        Err(EventLogError::NotLoaded {
            index: 1,
            measurement: b
        })
    );
    assert_eq!(log.check(&PluginEvent::Unload(a)), Ok(()));
    assert_eq!(log.len(), 1, "refused and checked events are not appended");
    log.push_unload(a).unwrap();
    assert_eq!(
        log.push_unload(a),
        Err(EventLogError::NotLoaded {
            index: 2,
            measurement: a
        })
    );
}

#[test]
fn rejects_malformed_encodings() {
    let bytes = loads(&[b"a"]).to_bytes();
    assert_eq!(EventLog::from_bytes(&bytes[1..]), Err(EventLogError::Magic));
    let mut v1 = bytes.clone();
    v1[MAGIC.len() - 1] = b'1';
    assert_eq!(EventLog::from_bytes(&v1), Err(EventLogError::Magic));
    assert!(matches!(
        EventLog::from_bytes(&bytes[..bytes.len() - 1]),
        Err(EventLogError::Length { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        EventLog::from_bytes(&trailing),
        Err(EventLogError::Length { .. })
    ));
    let mut huge = MAGIC.to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        EventLog::from_bytes(&huge),
        Err(EventLogError::TooManyEntries(u32::MAX.into()))
    );
    let mut kind = bytes;
    kind[MAGIC.len() + 4] = 4;
    assert_eq!(
        EventLog::from_bytes(&kind),
        Err(EventLogError::Kind { index: 0, kind: 4 })
    );
}

#[test]
fn encodings_of_ill_formed_histories_are_refused() {
    let a = m(b"a");
    let encode = |events: &[PluginEvent]| {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&u32::try_from(events.len()).unwrap().to_be_bytes());
        for e in events {
            out.push(e.kind());
            out.extend_from_slice(e.measurement().as_bytes());
        }
        out
    };
    assert_eq!(
        EventLog::from_bytes(&encode(&[PluginEvent::Unload(a)])),
        Err(EventLogError::NotLoaded {
            index: 0,
            measurement: a
        })
    );
    assert_eq!(
        EventLog::from_bytes(&encode(&[PluginEvent::Load(a), PluginEvent::Load(a)])),
        Err(EventLogError::AlreadyLoaded {
            index: 1,
            measurement: a
        })
    );
}

#[test]
fn the_log_is_bounded() {
    let mut log = EventLog::new();
    for i in 0..MAX_EVENTS {
        let p = m(&i.to_be_bytes());
        log.push_load(p).unwrap();
    }
    assert_eq!(log.push_load(m(b"one more")), Err(EventLogError::Full));
    assert_eq!(
        EventLog::from_bytes(&log.to_bytes()).unwrap().len(),
        MAX_EVENTS
    );
}

#[test]
fn events_serialize_with_their_kind() {
    let a = m(b"a");
    let json = serde_json::to_value(PluginEvent::Unload(a)).unwrap();
    assert_eq!(json["event"], "unload");
    assert_eq!(json["measurement"], a.to_hex());
}

fn signed(name: &[u8]) -> PluginEvent {
    PluginEvent::SignedLoad(SignedLoad {
        measurement: m(name),
        publisher_key: [7; 32],
        manifest_digest: [9; 48],
    })
}

#[test]
fn a_signed_load_binds_its_publisher_and_manifest() {
    let log = log_of(&[signed(b"a"), PluginEvent::Load(m(b"b"))]);
    assert_eq!(EventLog::from_bytes(&log.to_bytes()).unwrap(), log);
    assert_eq!(log.live(), vec![m(b"a"), m(b"b")]);
    // The extend value is the documented one, and differs from an unsigned
    // load's and from one with another key or manifest.
    let expected: [u8; 48] = Sha384::new()
        .chain_update(b"enclet-plugin-signed-load/v1")
        .chain_update(m(b"a").as_bytes())
        .chain_update([7u8; 32])
        .chain_update([9u8; 48])
        .finalize()
        .into();
    assert_eq!(signed(b"a").extend_value(), expected);
    let PluginEvent::SignedLoad(mut other) = signed(b"a") else {
        unreachable!()
    };
    other.publisher_key = [8; 32];
    assert_ne!(PluginEvent::SignedLoad(other).extend_value(), expected);
    assert_ne!(PluginEvent::Load(m(b"a")).extend_value(), expected);
    // A signed load is a load: loading it again is refused; unloading works.
    let mut again = log.clone();
    assert!(matches!(
        again.push_load(m(b"a")),
        Err(EventLogError::AlreadyLoaded { .. })
    ));
    again.push_unload(m(b"a")).unwrap();
    assert_eq!(again.live(), vec![m(b"b")]);
    // JSON names the publisher key and the manifest digest.
    let json = serde_json::to_value(signed(b"a")).unwrap();
    assert_eq!(json["event"], "signed_load");
    assert_eq!(json["publisher_key"], "07".repeat(32));
    assert_eq!(json["manifest_sha384"], "09".repeat(48));
    // A signed entry cut short is a length error, not a panic.
    let bytes = log_of(&[signed(b"a")]).to_bytes();
    for cut in [1, 20, 80] {
        assert!(matches!(
            EventLog::from_bytes(&bytes[..bytes.len() - cut]),
            Err(EventLogError::Length { .. })
        ));
    }
}
