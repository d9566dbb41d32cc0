//! The chain's format, its verification, and tampering with a real store.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    AuditEntry, AuditError, AuditEvent, AuditKind, BreakKind, ChainBreak, MAX_DETAIL_BYTES,
    MAX_DETAIL_DEPTH, verify_chain, verify_dir,
};
use crate::store::{SqliteStore, Store};

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        kind: AuditKind::Verdict,
        session: Some("ab".repeat(16)),
        peer: None,
        time_ms: 1000 + i,
        detail: json!({ "n": i, "z": [1, {"y": null, "x": "q"}] }),
    }
}

fn chain(n: u64) -> Vec<AuditEntry> {
    let mut prev = [0; 32];
    (1..=n)
        .map(|seq| {
            let entry = AuditEntry::seal(event(seq), seq, prev).unwrap();
            prev = entry.hash;
            entry
        })
        .collect()
}

#[test]
fn the_hash_is_sha256_of_prev_hash_and_sorted_compact_json() {
    let event = AuditEvent::new(
        AuditKind::Admin,
        5,
        json!({"b": 1, "a": [true, null, "x\n"]}),
    );
    let entry = AuditEntry::seal(event, 1, [0; 32]).unwrap();
    let canonical = r#"{"detail":{"a":[true,null,"x\n"],"b":1},"kind":"admin","peer":null,"seq":1,"session":null,"time_ms":5}"#;
    let mut sha = Sha256::new();
    sha.update([0; 32]);
    sha.update(canonical.as_bytes());
    let expected: [u8; 32] = sha.finalize().into();
    assert_eq!(entry.hash, expected);
    assert_eq!(entry.prev_hash, [0; 32]);
}

#[test]
fn kinds_are_snake_case() {
    for kind in AuditKind::ALL {
        let json = serde_json::to_value(kind).unwrap();
        assert_eq!(json, Value::String(kind.as_str().to_owned()));
        assert_eq!(kind.as_str().parse::<AuditKind>().unwrap(), kind);
    }
    assert_eq!(AuditKind::PolicyDecision.as_str(), "policy_decision");
    assert!("PolicyDecision".parse::<AuditKind>().is_err());
    assert!("".parse::<AuditKind>().is_err());
}

#[test]
fn an_intact_chain_verifies() {
    let entries = chain(5);
    let summary = verify_chain(&entries).unwrap();
    assert_eq!((summary.entries, summary.last_seq), (5, 5));
    assert_eq!(summary.last_hash, entries[4].hash);
    let empty = verify_chain(&[]).unwrap();
    assert_eq!(
        (empty.entries, empty.last_seq, empty.last_hash),
        (0, 0, [0; 32])
    );
}

fn broken(entries: &[AuditEntry]) -> ChainBreak {
    verify_chain(entries).unwrap_err()
}

#[test]
fn an_edited_entry_is_named() {
    let mut entries = chain(5);
    entries[2].detail["n"] = json!(99);
    let b = broken(&entries);
    assert_eq!((b.seq, b.kind), (3, BreakKind::ContentEdited));
    let mut entries = chain(5);
    entries[3].peer = Some("10.0.0.1:1".to_owned());
    assert_eq!(broken(&entries).seq, 4);
    // Edited and re-hashed: the next entry's prev_hash gives it away.
    let mut entries = chain(5);
    entries[1].time_ms += 1;
    entries[1].hash = entries[1].expected_hash().unwrap();
    let b = broken(&entries);
    assert_eq!(
        (b.seq, b.kind.clone()),
        (3, BreakKind::PrevHashMismatch { previous: 2 })
    );
    assert!(
        b.to_string().starts_with("audit chain broken at entry 3: "),
        "{b}"
    );
}

#[test]
fn a_deleted_entry_is_named() {
    let mut entries = chain(5);
    entries.remove(2);
    let b = broken(&entries);
    assert_eq!((b.seq, b.kind), (3, BreakKind::Missing { found: 4 }));
    let mut entries = chain(5);
    entries.remove(0);
    assert_eq!(broken(&entries).seq, 1);
}

#[test]
fn swapped_or_repeated_entries_are_named() {
    let mut entries = chain(5);
    entries.swap(1, 2);
    let b = broken(&entries);
    assert_eq!((b.seq, b.kind), (2, BreakKind::Missing { found: 3 }));
    // Swapped content under the original numbering (as rows would be).
    let mut entries = chain(5);
    let (two, three) = (entries[1].clone(), entries[2].clone());
    entries[1] = AuditEntry { seq: 2, ..three };
    entries[2] = AuditEntry { seq: 3, ..two };
    let b = broken(&entries);
    assert_eq!(
        (b.seq, b.kind),
        (2, BreakKind::PrevHashMismatch { previous: 1 })
    );
    let mut entries = chain(3);
    entries.insert(2, entries[1].clone());
    let b = broken(&entries);
    assert_eq!((b.seq, b.kind), (2, BreakKind::OutOfOrder { after: 2 }));
}

#[test]
fn a_first_entry_must_chain_from_zeros() {
    let mut entries = chain(2);
    entries[0].prev_hash = [1; 32];
    let b = broken(&entries);
    assert_eq!(
        (b.seq, b.kind),
        (1, BreakKind::PrevHashMismatch { previous: 0 })
    );
}

#[test]
fn events_out_of_bounds_are_refused() {
    // `{"s":""}` is 8 bytes: fill to exactly the bound, then one more.
    let at_bound = AuditEvent::new(
        AuditKind::Admin,
        1,
        json!({"s": "x".repeat(MAX_DETAIL_BYTES - 8)}),
    );
    assert_eq!(at_bound.check().unwrap().len(), MAX_DETAIL_BYTES);
    let over = AuditEvent::new(
        AuditKind::Admin,
        1,
        json!({"s": "x".repeat(MAX_DETAIL_BYTES - 7)}),
    );
    assert!(over.check().unwrap_err().contains("16384"));

    let nest = |depth: usize| (1..depth).fold(json!([]), |inner, _| json!([inner]));
    AuditEvent::new(AuditKind::Admin, 1, nest(MAX_DETAIL_DEPTH))
        .check()
        .unwrap();
    let deep = AuditEvent::new(AuditKind::Admin, 1, nest(MAX_DETAIL_DEPTH + 1));
    assert!(deep.check().unwrap_err().contains("deeper"));
    assert!(AuditEntry::seal(deep, 1, [0; 32]).is_err());

    let mut peer = AuditEvent::new(AuditKind::Admin, 1, json!({}));
    peer.peer = Some("p".repeat(256));
    peer.check().unwrap();
    peer.peer = Some("p".repeat(257));
    assert!(peer.check().unwrap_err().contains("peer"));
}

/// A store with `n` entries, closed, and a raw connection with the
/// append-only triggers dropped (as an attacker with the file would).
fn tampered_store(n: u64) -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.append_audit((1..=n).map(event).collect()).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("store.sqlite")).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    (dir, conn)
}

fn dir_break(dir: &tempfile::TempDir) -> ChainBreak {
    match verify_dir(dir.path()).unwrap_err() {
        AuditError::Broken(b) => b,
        other => panic!("not a break: {other}"),
    }
}

#[test]
fn verify_dir_accepts_an_untouched_store() {
    let (dir, _conn) = tampered_store(20);
    let summary = verify_dir(dir.path()).unwrap();
    assert_eq!((summary.entries, summary.last_seq), (20, 20));
}

#[test]
fn verify_dir_names_an_edited_row() {
    let (dir, conn) = tampered_store(20);
    conn.execute("UPDATE audit SET detail = '{\"n\":170}' WHERE seq = 17", [])
        .unwrap();
    let b = dir_break(&dir);
    assert_eq!((b.seq, b.kind), (17, BreakKind::ContentEdited));
}

#[test]
fn verify_dir_names_a_deleted_row() {
    let (dir, conn) = tampered_store(20);
    conn.execute("DELETE FROM audit WHERE seq = 5", []).unwrap();
    let b = dir_break(&dir);
    assert_eq!((b.seq, b.kind), (5, BreakKind::Missing { found: 6 }));
}

#[test]
fn verify_dir_names_swapped_rows() {
    let (dir, conn) = tampered_store(20);
    conn.execute_batch(
        "UPDATE audit SET seq = -1 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = 8; \
         UPDATE audit SET seq = 8 WHERE seq = -1;",
    )
    .unwrap();
    let b = dir_break(&dir);
    assert_eq!(
        (b.seq, b.kind),
        (7, BreakKind::PrevHashMismatch { previous: 6 })
    );
}

#[test]
fn verify_dir_names_an_unreadable_row() {
    let (dir, conn) = tampered_store(20);
    conn.execute("UPDATE audit SET kind = 'bogus' WHERE seq = 9", [])
        .unwrap();
    let b = dir_break(&dir);
    assert_eq!(b.seq, 9);
    assert!(matches!(b.kind, BreakKind::Malformed(_)), "{b}");
}

#[test]
fn verify_dir_never_creates_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify_dir(dir.path()).unwrap_err();
    assert_eq!(err.code(), "store_missing");
    assert!(!dir.path().join("store.sqlite").exists());
}
