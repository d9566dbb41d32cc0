//! Nonces: single use, expiry, bound to their session; sessions round trip.

use super::{event, open_temp, sid};
use crate::audit::AuditKind;
use crate::store::{NonceRecord, NonceRefusal, SessionId, SessionRecord, SqliteStore, Store};

const EXPIRES: u64 = 10_000;

fn issue(store: &SqliteStore, session: SessionId, byte: u8) -> [u8; 32] {
    let nonce = [byte; 32];
    let record = NonceRecord {
        session,
        nonce,
        expires_ms: EXPIRES,
    };
    store
        .issue_nonce(&record, vec![event(AuditKind::NonceIssued, "n")])
        .unwrap();
    nonce
}

#[test]
fn a_nonce_is_consumed_once() {
    let (_dir, store) = open_temp();
    let nonce = issue(&store, sid(1), 7);
    assert_eq!(store.consume_nonce(&sid(1), &nonce, 1).unwrap(), Ok(()));
    assert_eq!(
        store.consume_nonce(&sid(1), &nonce, 2).unwrap(),
        Err(NonceRefusal::Replayed)
    );
    assert_eq!(NonceRefusal::Replayed.code(), "nonce_replayed");
}

#[test]
fn a_nonce_of_another_session_is_unknown_and_stays_usable() {
    let (_dir, store) = open_temp();
    let nonce = issue(&store, sid(1), 7);
    let refused = store.consume_nonce(&sid(2), &nonce, 1).unwrap();
    assert_eq!(refused, Err(NonceRefusal::Unknown));
    assert_eq!(NonceRefusal::Unknown.code(), "nonce_unknown");
    // The wrong session's attempt did not use it up.
    assert_eq!(store.consume_nonce(&sid(1), &nonce, 1).unwrap(), Ok(()));
}

#[test]
fn never_issued_and_wrong_length_nonces_are_unknown() {
    let (_dir, store) = open_temp();
    let nonce = issue(&store, sid(1), 7);
    let unknown = Err(NonceRefusal::Unknown);
    assert_eq!(store.consume_nonce(&sid(1), &[8; 32], 1).unwrap(), unknown);
    assert_eq!(
        store.consume_nonce(&sid(1), &nonce[..31], 1).unwrap(),
        unknown
    );
    assert_eq!(store.consume_nonce(&sid(1), &[], 1).unwrap(), unknown);
    assert_eq!(store.consume_nonce(&sid(1), &nonce, 1).unwrap(), Ok(()));
}

#[test]
fn a_nonce_expires_at_its_expiry_time() {
    let (_dir, store) = open_temp();
    let late = issue(&store, sid(1), 1);
    assert_eq!(
        store.consume_nonce(&sid(1), &late, EXPIRES).unwrap(),
        Err(NonceRefusal::Expired)
    );
    assert_eq!(NonceRefusal::Expired.code(), "nonce_expired");
    // The expired attempt did not use it: still expired, not replayed.
    assert_eq!(
        store.consume_nonce(&sid(1), &late, EXPIRES + 1).unwrap(),
        Err(NonceRefusal::Expired)
    );
    let in_time = issue(&store, sid(1), 2);
    assert_eq!(
        store.consume_nonce(&sid(1), &in_time, EXPIRES - 1).unwrap(),
        Ok(())
    );
    // Used, then past its expiry: reported as the replay it is.
    assert_eq!(
        store.consume_nonce(&sid(1), &in_time, EXPIRES + 5).unwrap(),
        Err(NonceRefusal::Replayed)
    );
}

#[test]
fn a_consumed_nonce_stays_consumed_after_reopening() {
    let (dir, store) = open_temp();
    let nonce = issue(&store, sid(1), 7);
    let fresh = issue(&store, sid(1), 8);
    assert_eq!(store.consume_nonce(&sid(1), &nonce, 1).unwrap(), Ok(()));
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store.consume_nonce(&sid(1), &nonce, 1).unwrap(),
        Err(NonceRefusal::Replayed)
    );
    assert_eq!(store.consume_nonce(&sid(1), &fresh, 1).unwrap(), Ok(()));
}

#[test]
fn purging_expired_nonces_leaves_them_refused() {
    let (_dir, store) = open_temp();
    let nonce = issue(&store, sid(1), 7);
    assert_eq!(store.purge_expired(EXPIRES - 1).unwrap(), 0);
    assert_eq!(store.purge_expired(EXPIRES).unwrap(), 1);
    assert_eq!(
        store.consume_nonce(&sid(1), &nonce, 1).unwrap(),
        Err(NonceRefusal::Unknown)
    );
}

#[test]
fn issuing_a_nonce_twice_fails_without_its_audit_entry() {
    let (_dir, store) = open_temp();
    issue(&store, sid(1), 7);
    let again = NonceRecord {
        session: sid(2),
        nonce: [7; 32],
        expires_ms: EXPIRES,
    };
    let err = store
        .issue_nonce(&again, vec![event(AuditKind::NonceIssued, "dup")])
        .unwrap_err();
    assert_eq!(err.code(), "database", "{err}");
    let tail = store.audit_tail(10).unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].detail["note"], "n");
    // The chain head was restored: the next entry is seq 2.
    let seqs = store
        .append_audit(vec![event(AuditKind::Admin, "next")])
        .unwrap();
    assert_eq!(seqs, vec![2]);
    assert_eq!(
        store.consume_nonce(&sid(2), &[7; 32], 1).unwrap(),
        Err(NonceRefusal::Unknown)
    );
}

fn session(id: SessionId) -> SessionRecord {
    SessionRecord {
        id,
        attester: "tpm".to_owned(),
        created_ms: 1,
        expires_ms: 2,
        peer: Some("127.0.0.1:4000".to_owned()),
        ek_name: Some(vec![0, 11, 1, 2]),
        ak_name: None,
    }
}

#[test]
fn sessions_round_trip_and_replace() {
    let (_dir, store) = open_temp();
    let mut record = session(sid(3));
    store
        .put_session(&record, vec![event(AuditKind::SessionOpened, "s")])
        .unwrap();
    assert_eq!(store.session(&sid(3)).unwrap(), Some(record.clone()));
    assert_eq!(store.session(&sid(4)).unwrap(), None);
    record.ak_name = Some(vec![9; 34]);
    store.put_session(&record, Vec::new()).unwrap();
    assert_eq!(store.session(&sid(3)).unwrap(), Some(record));
    assert_eq!(store.audit_tail(10).unwrap().len(), 1);
}

#[test]
fn sessions_out_of_bounds_are_refused() {
    let (_dir, store) = open_temp();
    let mut bad = session(sid(3));
    bad.attester = "sev".to_owned();
    assert_eq!(
        store.put_session(&bad, Vec::new()).unwrap_err().code(),
        "invalid_record"
    );
    let mut bad = session(sid(3));
    bad.peer = Some("p".repeat(257));
    assert_eq!(
        store.put_session(&bad, Vec::new()).unwrap_err().code(),
        "invalid_record"
    );
    let mut bad = session(sid(3));
    bad.created_ms = u64::MAX;
    assert_eq!(
        store.put_session(&bad, Vec::new()).unwrap_err().code(),
        "invalid_record"
    );
    assert_eq!(store.session(&sid(3)).unwrap(), None);
    let mut ok = session(sid(3));
    ok.attester = "nitro".to_owned();
    ok.peer = Some("p".repeat(256));
    store.put_session(&ok, Vec::new()).unwrap();
}

#[test]
fn session_ids_are_32_hex_digits() {
    let id = SessionId([0xab; 16]);
    let text = id.to_string();
    assert_eq!(text, "ab".repeat(16));
    assert_eq!(text.parse::<SessionId>().unwrap(), id);
    assert_eq!(format!("{id:?}"), format!("SessionId({text})"));
    assert!("ab".repeat(15).parse::<SessionId>().is_err());
    assert!(format!("{text}00").parse::<SessionId>().is_err());
    assert!("zz".repeat(16).parse::<SessionId>().is_err());
    assert_ne!(
        SessionId::generate().unwrap(),
        SessionId::generate().unwrap()
    );
}
