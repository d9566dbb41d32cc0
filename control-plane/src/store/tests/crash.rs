//! Crash safety: a process killed with SIGKILL mid-stream loses no
//! acknowledged entry and leaves a valid chain.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use super::event;
use crate::audit::{AuditKind, verify_dir};
use crate::store::{SqliteStore, Store};

/// Set in the child process: the state directory to append to.
const CHILD_DIR: &str = "ENCLET_STORE_CRASH_CHILD_DIR";
/// How many acknowledgements the parent waits for before the kill.
const ACKS_BEFORE_KILL: usize = 150;

#[test]
fn acknowledged_entries_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "store::tests::crash::append_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    let mut killed = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("acked ") {
            acked.push(seq.parse::<u64>().unwrap());
        }
        if acked.len() >= ACKS_BEFORE_KILL && !killed {
            child.kill().unwrap(); // SIGKILL
            killed = true;
        }
    }
    // Lines written before the kill were acknowledged too.
    let status = child.wait().unwrap();
    assert!(
        killed && !status.success(),
        "the child stopped by itself: {status:?}"
    );
    assert!(acked.len() >= ACKS_BEFORE_KILL);

    let summary = verify_dir(dir.path()).unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let present: std::collections::BTreeSet<u64> = store
        .audit_tail(usize::try_from(summary.entries).unwrap())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    for seq in &acked {
        assert!(present.contains(seq), "acknowledged entry {seq} was lost");
    }
    // The chain continues after the crash.
    let next = store
        .append_audit(vec![event(AuditKind::Admin, "after")])
        .unwrap();
    assert_eq!(next, vec![summary.last_seq + 1]);
}

/// The child of [`acknowledged_entries_survive_sigkill`]: four threads append
/// forever, printing each acknowledged seq.
#[test]
#[ignore = "run in its own process by acknowledged_entries_survive_sigkill"]
fn append_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let store = SqliteStore::open(std::path::Path::new(&dir)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0_u64.. {
                    let note = format!("{t}/{i}");
                    let seqs = store
                        .append_audit(vec![event(AuditKind::Verdict, &note)])
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    for seq in seqs {
                        writeln!(out, "acked {seq}").unwrap();
                    }
                    out.flush().unwrap();
                }
            });
        }
    });
}
