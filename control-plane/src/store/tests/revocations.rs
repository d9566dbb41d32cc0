//! Revocations: sequences, idempotence, persistence, bounds, the schema
//! upgrade from version 1.

use enclet_capability::RevocationKind;
use rusqlite::{Connection, params};
use serde_json::json;

use super::open_temp;
use crate::audit::{AuditEvent, AuditKind};
use crate::store::{
    MAX_REVOCATION_REASON, MAX_REVOCATIONS, RevocationRecord, STORE_FILE, SqliteStore, Store,
    StoreError,
};

fn record(kind: &str, value: &str, reason: Option<&str>) -> RevocationRecord {
    RevocationRecord::new(kind, value, reason.map(str::to_owned), 1_000).unwrap()
}

fn event() -> AuditEvent {
    AuditEvent::new(AuditKind::Revocation, 1_000, json!({ "sequence": null }))
}

fn plugin(byte: u8) -> String {
    hex::encode([byte; 48])
}

#[test]
fn revocations_get_sequences_are_audited_and_survive_a_reopen() {
    let (dir, store) = open_temp();
    let first = store
        .revoke(&record("plugin", &plugin(1), Some("leaks")), event())
        .unwrap();
    assert!(first.created);
    assert_eq!(first.revocation.sequence, 1);
    let second = store
        .revoke(&record("publisher", &"AB".repeat(32), None), event())
        .unwrap();
    assert_eq!(second.revocation.sequence, 2);
    // Upper-case input is stored lower-case.
    assert_eq!(second.revocation.record.value, "ab".repeat(32));
    let third = store
        .revoke(&record("token", &"0c".repeat(64), None), event())
        .unwrap();
    assert_eq!(third.revocation.sequence, 3);
    let audited: Vec<_> = store
        .audit_tail(10)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::Revocation)
        .map(|e| e.detail["sequence"].clone())
        .collect();
    assert_eq!(audited, [json!(1), json!(2), json!(3)]);
    let before = store.revocations().unwrap();
    drop(store);

    let store = SqliteStore::open(dir.path()).unwrap();
    let after = store.revocations().unwrap();
    assert_eq!(after, before);
    let kinds: Vec<_> = after.iter().map(|r| (r.sequence, r.record.kind)).collect();
    assert_eq!(
        kinds,
        [
            (1, RevocationKind::Plugin),
            (2, RevocationKind::Publisher),
            (3, RevocationKind::Token)
        ]
    );
    assert_eq!(after[0].record.reason.as_deref(), Some("leaks"));
    assert_eq!(after[0].record.revoked_ms, 1_000);
}

#[test]
fn revoking_again_returns_the_first_revocation_and_records_nothing() {
    let (_dir, store) = open_temp();
    let first = store
        .revoke(&record("plugin", &plugin(1), Some("first")), event())
        .unwrap();
    let entries = store.audit_tail(100).unwrap().len();
    let commits = store.commits();
    // Same value in upper case, another reason.
    let again = store
        .revoke(
            &record("plugin", &plugin(1).to_uppercase(), Some("second")),
            event(),
        )
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.revocation, first.revocation);
    assert_eq!(store.audit_tail(100).unwrap().len(), entries);
    assert_eq!(store.revocations().unwrap().len(), 1);
    // The writer ran it (one more transaction) but it wrote nothing.
    assert_eq!(store.commits(), commits + 1);
    // A different plugin is a new revocation.
    let other = store
        .revoke(&record("plugin", &plugin(2), None), event())
        .unwrap();
    assert!(other.created);
    assert_eq!(other.revocation.sequence, 2);
}

#[test]
fn malformed_revocations_are_refused_naming_the_field() {
    let field = |kind: &str, value: &str, reason: Option<String>| match RevocationRecord::new(
        kind, value, reason, 1,
    ) {
        Err(StoreError::InvalidRevocation { field, .. }) => field,
        other => panic!("{kind} {value}: {other:?}"),
    };
    assert_eq!(field("plugins", &plugin(1), None), "kind");
    assert_eq!(field("", &plugin(1), None), "kind");
    assert_eq!(field("plugin", &"ab".repeat(32), None), "value");
    assert_eq!(field("publisher", &plugin(1), None), "value");
    assert_eq!(field("token", &"zz".repeat(64), None), "value");
    assert_eq!(field("plugin", &format!("{}0", plugin(1)), None), "value");
    let long = "r".repeat(MAX_REVOCATION_REASON + 1);
    assert_eq!(field("plugin", &plugin(1), Some(long)), "reason");
    assert_eq!(field("plugin", &plugin(1), Some("a\nb".into())), "reason");
    // At the bound, and plain text, are accepted.
    let at = "r".repeat(MAX_REVOCATION_REASON);
    assert!(RevocationRecord::new("plugin", &plugin(1), Some(at), 1).is_ok());

    // A record built by hand with an upper-case value never reaches the table.
    let (_dir, store) = open_temp();
    let mut bad = record("plugin", &plugin(0xab), None);
    bad.value = bad.value.to_uppercase();
    assert_ne!(bad.value, plugin(0xab));
    assert!(matches!(
        store.revoke(&bad, event()),
        Err(StoreError::InvalidRevocation { field: "value", .. })
    ));
    assert!(store.revocations().unwrap().is_empty());
    assert!(store.audit_tail(10).unwrap().is_empty());
}

#[test]
fn the_store_holds_at_most_what_one_list_carries() {
    let (dir, store) = open_temp();
    drop(store);
    // Fill all but one place directly (one transaction, fast).
    let conn = Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 1..MAX_REVOCATIONS {
        let value = format!("{i:096x}");
        tx.execute(
            "INSERT INTO revocations (sequence, kind, value, reason, revoked_ms) \
             VALUES (?1, 'plugin', ?2, NULL, 1)",
            params![i64::try_from(i).unwrap(), value],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);

    let store = SqliteStore::open(dir.path()).unwrap();
    let last = store
        .revoke(&record("token", &"01".repeat(64), None), event())
        .unwrap();
    assert_eq!(last.revocation.sequence, MAX_REVOCATIONS as u64);
    let over = store.revoke(&record("token", &"02".repeat(64), None), event());
    assert!(
        matches!(over, Err(StoreError::RevocationLimit(MAX_REVOCATIONS))),
        "{over:?}"
    );
    assert_eq!(over.unwrap_err().code(), "revocation_limit");
    // What is already revoked still answers.
    assert!(
        !store
            .revoke(&record("token", &"01".repeat(64), None), event())
            .unwrap()
            .created
    );
    assert_eq!(store.revocations().unwrap().len(), MAX_REVOCATIONS);
}

#[test]
fn a_version_1_store_is_upgraded_and_revocations_cannot_be_deleted() {
    let (dir, store) = open_temp();
    drop(store);
    let conn = Connection::open(dir.path().join(STORE_FILE)).unwrap();
    conn.execute_batch(
        "DROP TRIGGER revocations_no_update; DROP TRIGGER revocations_no_delete; \
         DROP TABLE revocations; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .revoke(&record("plugin", &plugin(9), None), event())
        .unwrap();
    drop(store);
    let conn = Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    for sql in [
        "DELETE FROM revocations",
        "UPDATE revocations SET value = 'x'",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("never withdrawn"), "{sql}: {err}");
    }
}
