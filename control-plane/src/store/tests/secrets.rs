//! Secrets: round trip, versions, encryption at rest, the key file.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use serde_json::json;

use super::{event, open_temp};
use crate::audit::{AuditEvent, AuditKind};
use crate::store::{KEY_FILE, MAX_SECRET_VALUE, SqliteStore, Store, StoreError};

fn admin(action: &str) -> AuditEvent {
    AuditEvent::new(AuditKind::Admin, 5, json!({ "action": action }))
}

#[test]
fn secrets_round_trip_with_increasing_versions() {
    let (_dir, store) = open_temp();
    let info = store
        .put_secret("payout-hmac-key", b"v1", 10, admin("put"))
        .unwrap();
    assert_eq!((info.version, info.size_bytes, info.updated_ms), (1, 2, 10));
    let info = store
        .put_secret("payout-hmac-key", b"value2", 11, admin("put"))
        .unwrap();
    assert_eq!((info.version, info.size_bytes), (2, 6));
    store
        .put_secret("a.other_key", b"x", 12, admin("put"))
        .unwrap();

    let (got, value) = store.secret("payout-hmac-key").unwrap().unwrap();
    assert_eq!(got, info);
    assert_eq!(value.expose(), b"value2");
    let names: Vec<_> = store
        .list_secrets()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["a.other_key", "payout-hmac-key"]);

    let removed = store
        .remove_secret("payout-hmac-key", admin("remove"))
        .unwrap();
    assert_eq!(removed, Some(info));
    assert!(store.secret("payout-hmac-key").unwrap().is_none());
    assert_eq!(store.list_secrets().unwrap().len(), 1);
    assert_eq!(
        store
            .remove_secret("payout-hmac-key", admin("remove"))
            .unwrap(),
        None
    );
    // Versions never repeat, even across a removal.
    let again = store
        .put_secret("payout-hmac-key", b"v3", 13, admin("put"))
        .unwrap();
    assert_eq!(again.version, 3);

    let versions: Vec<_> = store
        .audit_tail(10)
        .unwrap()
        .into_iter()
        .map(|e| (e.detail["action"].clone(), e.detail["version"].clone()))
        .collect();
    assert_eq!(
        versions,
        [
            (json!("put"), json!(1)),
            (json!("put"), json!(2)),
            (json!("put"), json!(1)),
            (json!("remove"), json!(2)),
            (json!("remove"), json!(null)),
            (json!("put"), json!(3)),
        ]
    );
}

#[test]
fn secret_names_and_values_are_bounded() {
    let (_dir, store) = open_temp();
    let longest = "n".repeat(128);
    for good in ["a", "A.b_C-9", longest.as_str()] {
        store.put_secret(good, b"v", 1, admin("put")).unwrap();
    }
    let too_long = "n".repeat(129);
    for bad in ["", "a/b", "a b", "é", "../x", too_long.as_str()] {
        let err = store.put_secret(bad, b"v", 1, admin("put")).unwrap_err();
        assert_eq!(err.code(), "invalid_secret", "{bad:?}");
        assert_eq!(store.secret(bad).unwrap_err().code(), "invalid_secret");
    }
    store
        .put_secret("big", &vec![1; MAX_SECRET_VALUE], 1, admin("put"))
        .unwrap();
    for bad in [Vec::new(), vec![1; MAX_SECRET_VALUE + 1]] {
        let err = store.put_secret("big", &bad, 1, admin("put")).unwrap_err();
        assert_eq!(err.code(), "invalid_secret");
    }
    assert_eq!(store.secret("big").unwrap().unwrap().0.version, 1);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file of the state directory but the key, concatenated.
fn state_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != KEY_FILE {
            all.extend(fs::read(&path).unwrap());
        }
    }
    all
}

#[test]
fn secret_values_never_reach_the_database_files() {
    let (dir, store) = open_temp();
    let value = b"TOP-SECRET-VALUE-4f1c9a7e2b8d";
    store
        .put_secret("findable-name-7d2e", value, 1, admin("put"))
        .unwrap();
    store
        .put_secret("findable-name-7d2e", value, 2, admin("put"))
        .unwrap();
    // While open (WAL) and after close (checkpointed into the main file).
    let open = state_bytes(dir.path());
    assert!(
        contains(&open, b"findable-name-7d2e"),
        "the grep must see stored text"
    );
    assert!(!contains(&open, value));
    drop(store);
    let closed = state_bytes(dir.path());
    assert!(contains(&closed, b"findable-name-7d2e"));
    assert!(!contains(&closed, value));
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .secret("findable-name-7d2e")
            .unwrap()
            .unwrap()
            .1
            .expose(),
        value
    );
}

#[test]
fn secret_values_are_redacted_in_debug() {
    let (_dir, store) = open_temp();
    store.put_secret("k", b"hunter2", 1, admin("put")).unwrap();
    let secret = store.secret("k").unwrap().unwrap();
    let printed = format!("{secret:?}");
    assert!(
        printed.contains("SecretValue(<redacted 7 bytes>)"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2"));
}

#[test]
fn a_moved_ciphertext_fails_naming_the_secret_only() {
    let (dir, store) = open_temp();
    store
        .put_secret("alpha", b"alpha-value", 1, admin("put"))
        .unwrap();
    store
        .put_secret("beta", b"beta-value", 1, admin("put"))
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("store.sqlite")).unwrap();
    conn.execute(
        "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'alpha'), \
         ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'alpha') WHERE name = 'beta'",
        [],
    )
    .unwrap();
    let err = store.secret("beta").unwrap_err();
    assert!(matches!(&err, StoreError::Undecryptable { name } if name == "beta"));
    assert!(!err.to_string().contains("value"), "{err}");
    assert_eq!(
        store.secret("alpha").unwrap().unwrap().1.expose(),
        b"alpha-value"
    );
}

#[test]
fn the_key_file_is_created_owner_only() {
    let (dir, _store) = open_temp();
    let meta = fs::metadata(dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
}

fn reopen_err(dir: &std::path::Path) -> StoreError {
    SqliteStore::open(dir).unwrap_err()
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let (dir, store) = open_temp();
    drop(store);
    let key = dir.path().join(KEY_FILE);
    for mode in [0o640, 0o604, 0o620] {
        fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
        let err = reopen_err(dir.path());
        assert_eq!(err.code(), "key_file");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).unwrap();
    SqliteStore::open(dir.path()).unwrap();
}

#[test]
fn a_wrong_key_file_is_refused() {
    let (dir, store) = open_temp();
    store.put_secret("k", b"v", 1, admin("put")).unwrap();
    drop(store);
    let key = dir.path().join(KEY_FILE);
    let original = fs::read(&key).unwrap();

    fs::write(&key, &original[..31]).unwrap();
    let err = reopen_err(dir.path());
    assert_eq!(err.code(), "key_file");
    assert!(err.to_string().contains("31 bytes"), "{err}");

    let mut other = original.clone();
    other[0] ^= 1;
    fs::write(&key, &other).unwrap();
    assert_eq!(reopen_err(dir.path()).code(), "key_mismatch");

    fs::remove_file(&key).unwrap();
    let err = reopen_err(dir.path());
    assert_eq!(err.code(), "key_file");
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(
        !dir.path().join(KEY_FILE).exists(),
        "no new key replaces the lost one"
    );

    fs::write(&key, &original).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.secret("k").unwrap().unwrap().1.expose(), b"v");
}

#[test]
fn a_second_store_on_the_same_directory_is_refused() {
    let (dir, store) = open_temp();
    assert_eq!(reopen_err(dir.path()).code(), "store_locked");
    drop(store);
    SqliteStore::open(dir.path()).unwrap();
}

#[test]
fn an_audit_event_out_of_bounds_refuses_the_secret_change() {
    let (_dir, store) = open_temp();
    let mut audit = event(AuditKind::Admin, "x");
    audit.detail = json!({ "blob": "x".repeat(20_000) });
    let err = store.put_secret("k", b"v", 1, audit).unwrap_err();
    assert_eq!(err.code(), "invalid_audit");
    assert!(store.secret("k").unwrap().is_none());
    assert!(store.audit_tail(5).unwrap().is_empty());
}
