//! `enclet audit verify` and `enclet audit tail` on a real control plane
//! store, intact and tampered with at the byte level.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::Path;
use std::process::{Command, Output};

use enclet_control_plane::audit::{AuditEvent, AuditKind, verify_dir};
use enclet_control_plane::store::{SqliteStore, Store};
use serde_json::{Value, json};

fn enclet(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enclet"))
        .args(args)
        .arg("--state-dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A closed store with `n` entries whose details read `entry-001`, ….
fn store_with(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let events = (1..=n)
        .map(|i| AuditEvent {
            kind: if i % 2 == 0 {
                AuditKind::Verdict
            } else {
                AuditKind::NonceIssued
            },
            session: Some("cd".repeat(16)),
            peer: Some("127.0.0.1:9".to_owned()),
            time_ms: 1_767_225_600_000 + i,
            detail: json!({ "note": format!("entry-{i:03}") }),
        })
        .collect();
    store.append_audit(events).unwrap();
    drop(store);
    dir
}

/// Rewrites `from` to `to` (same length) in the database file's bytes, as
/// someone with write access to the file would.
fn patch_file(dir: &Path, from: &str, to: &str) {
    let path = dir.join("store.sqlite");
    let mut bytes = std::fs::read(&path).unwrap();
    let at: Vec<_> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from.as_bytes())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "{from} must occur once in the file");
    bytes[at[0]..at[0] + to.len()].copy_from_slice(to.as_bytes());
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn verify_reports_an_intact_chain_and_its_head() {
    let dir = store_with(20);
    let head = hex::encode(verify_dir(dir.path()).unwrap().last_hash);
    let out = enclet(&["audit", "verify"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("audit chain intact: 20 entries, head entry 20 hash {head}")
    );
    let out = enclet(&["audit", "verify", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v,
        json!({"ok": true, "entries": 20, "last_seq": 20, "last_hash": head})
    );
}

#[test]
fn verify_names_an_entry_edited_in_the_file() {
    let dir = store_with(20);
    patch_file(dir.path(), "entry-017", "entry-X17");
    let out = enclet(&["audit", "verify"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("audit chain broken at entry 17: its content"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = enclet(&["audit", "verify", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["seq"].clone()),
        (json!(false), json!(17))
    );
    assert_eq!(v["code"], "audit_entry_edited");
}

#[test]
fn verify_works_beside_a_running_store() {
    let dir = store_with(3);
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .append_audit(vec![AuditEvent::new(AuditKind::Admin, 1, json!({}))])
        .unwrap();
    let out = enclet(&["audit", "verify"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("4 entries"));
}

#[test]
fn tail_prints_the_last_entries_oldest_first() {
    let dir = store_with(25);
    let out = enclet(&["audit", "tail", "-n", "3"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<_> = text.lines().collect();
    let session = "cd".repeat(16);
    assert_eq!(
        lines,
        [
            format!(
                "23 2026-01-01T00:00:00.023Z nonce_issued {session} {{\"note\":\"entry-023\"}}"
            ),
            format!("24 2026-01-01T00:00:00.024Z verdict {session} {{\"note\":\"entry-024\"}}"),
            format!(
                "25 2026-01-01T00:00:00.025Z nonce_issued {session} {{\"note\":\"entry-025\"}}"
            ),
        ]
    );
    let out = enclet(&["audit", "tail"], dir.path());
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 20, "default -n is 20");
    assert!(text.starts_with("6 "));
}

#[test]
fn tail_json_is_an_array_of_whole_entries() {
    let dir = store_with(5);
    let out = enclet(&["audit", "tail", "--json", "-n", "2"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0]["seq"].clone(), v[1]["seq"].clone()),
        (json!(4), json!(5))
    );
    assert_eq!(v[1]["prev_hash"], v[0]["hash"]);
    assert_eq!(v[1]["hash"].as_str().unwrap().len(), 64);
    assert_eq!(v[1]["detail"], json!({"note": "entry-005"}));
}

#[test]
fn a_directory_without_a_store_is_exit_2_and_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["audit", "verify"][..],
        &["audit", "tail"],
        &["audit", "verify", "--json"],
    ] {
        let out = enclet(args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("no store at"), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn usage_errors_are_exit_2_and_help_teaches() {
    let dir = store_with(1);
    let out = enclet(&["audit", "tail", "-n", "10001"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_enclet"))
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--state-dir is required");
    let help = Command::new(env!("CARGO_BIN_EXE_enclet"))
        .args(["audit", "verify", "--help"])
        .output()
        .unwrap();
    let help = stdout(&help);
    assert!(
        help.contains("head hash") && help.contains("Exit status"),
        "{help}"
    );
}
