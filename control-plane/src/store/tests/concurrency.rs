//! Concurrent writers, group commit, and what a failed commit leaves.

use std::sync::atomic::Ordering;

use super::{event, open_temp, sid};
use crate::audit::{AuditKind, verify_chain, verify_dir};
use crate::store::{NonceRecord, NonceRefusal, SqliteStore, Store};

const THREADS: usize = 16;

/// One caller's work, run on its own thread.
type Op<'a, R> = Box<dyn FnOnce(&SqliteStore) -> R + Send + 'a>;

#[test]
fn concurrent_appends_get_contiguous_seqs_and_a_valid_chain() {
    const PER_THREAD: usize = 40;
    let (dir, store) = open_temp();
    let mut all: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    (0..PER_THREAD)
                        .flat_map(|i| {
                            let note = format!("{t}/{i}");
                            store
                                .append_audit(vec![event(AuditKind::Verdict, &note)])
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                let seqs = w.join().unwrap();
                // Each caller's entries are in the order it appended them.
                assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{seqs:?}");
                seqs
            })
            .collect()
    });
    all.sort_unstable();
    let total = u64::try_from(THREADS * PER_THREAD).unwrap();
    assert_eq!(all, (1..=total).collect::<Vec<_>>());
    let tail = store.audit_tail(THREADS * PER_THREAD).unwrap();
    assert_eq!(verify_chain(&tail).unwrap().entries, total);
    assert!(
        store.commits() < total,
        "{} commits for {total} appends: nothing was grouped",
        store.commits()
    );
    drop(store);
    assert_eq!(verify_dir(dir.path()).unwrap().last_seq, total);
}

/// Holds the writer while `n` operations queue up, then lets it go.
fn queue_while_held<R: Send>(store: &SqliteStore, ops: Vec<Op<'_, R>>) -> Vec<R> {
    let hooks = store.hooks();
    let gate = hooks.gate();
    let queued = hooks.queued.load(Ordering::SeqCst) + ops.len();
    std::thread::scope(|s| {
        let callers: Vec<_> = ops
            .into_iter()
            .map(|op| s.spawn(move || op(store)))
            .collect();
        while hooks.queued.load(Ordering::SeqCst) < queued {
            std::thread::yield_now();
        }
        drop(gate);
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    })
}

#[test]
fn operations_queued_together_share_one_commit() {
    let (_dir, store) = open_temp();
    let before = store.commits();
    let ops = (0..THREADS)
        .map(|i| {
            Box::new(move |store: &SqliteStore| {
                store.append_audit(vec![event(AuditKind::Release, &i.to_string())])
            }) as Op<'_, _>
        })
        .collect();
    let mut seqs: Vec<u64> = queue_while_held(&store, ops)
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    assert_eq!(store.commits() - before, 1, "16 queued appends, one commit");
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=16).collect::<Vec<_>>());
    // The control: one operation alone is one commit.
    store
        .append_audit(vec![event(AuditKind::Release, "alone")])
        .unwrap();
    assert_eq!(store.commits() - before, 2);
}

#[test]
fn a_failed_commit_fails_the_whole_batch_and_keeps_nothing() {
    let (dir, store) = open_temp();
    store
        .append_audit(vec![event(AuditKind::Admin, "before")])
        .unwrap();
    store.hooks().fail_next_commit.store(true, Ordering::SeqCst);
    let nonce = NonceRecord {
        session: sid(1),
        nonce: [3; 32],
        expires_ms: u64::from(u32::MAX),
    };
    let nonce = &nonce;
    let ops: Vec<Op<'_, _>> = vec![
        Box::new(|s: &SqliteStore| {
            s.append_audit(vec![event(AuditKind::Admin, "lost")])
                .map(drop)
        }),
        Box::new(|s: &SqliteStore| {
            s.put_secret("k", b"v", 1, event(AuditKind::Admin, "lost"))
                .map(drop)
        }),
        Box::new(move |s: &SqliteStore| {
            s.issue_nonce(nonce, vec![event(AuditKind::NonceIssued, "lost")])
        }),
    ];
    for result in queue_while_held(&store, ops) {
        assert_eq!(result.unwrap_err().code(), "store_unavailable");
    }
    assert!(store.secret("k").unwrap().is_none());
    assert_eq!(
        store.consume_nonce(&sid(1), &[3; 32], 1).unwrap(),
        Err(NonceRefusal::Unknown)
    );
    let tail = store.audit_tail(10).unwrap();
    assert_eq!(tail.len(), 1);
    // The writer goes on where the chain really ends.
    let next = store
        .append_audit(vec![event(AuditKind::Admin, "after")])
        .unwrap();
    assert_eq!(next, vec![2]);
    drop(store);
    assert_eq!(verify_dir(dir.path()).unwrap().entries, 2);
}

#[test]
fn one_failing_operation_does_not_sink_its_batch() {
    let (_dir, store) = open_temp();
    let before = store.commits();
    let ops: Vec<Op<'_, _>> = vec![
        Box::new(|s: &SqliteStore| s.append_audit(vec![event(AuditKind::Admin, "a")])),
        // Fails inside the writer (time out of SQLite's integer range).
        Box::new(|s: &SqliteStore| {
            let mut e = event(AuditKind::Admin, "bad");
            e.time_ms = u64::MAX;
            s.append_audit(vec![event(AuditKind::Admin, "half"), e])
        }),
        Box::new(|s: &SqliteStore| s.append_audit(vec![event(AuditKind::Admin, "b")])),
    ];
    let results = queue_while_held(&store, ops);
    assert_eq!(store.commits() - before, 1);
    assert_eq!(results[1].as_ref().unwrap_err().code(), "invalid_record");
    let tail = store.audit_tail(10).unwrap();
    let notes: Vec<_> = tail.iter().map(|e| e.detail["note"].clone()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(!notes.contains(&serde_json::json!("half")));
    verify_chain(&tail).unwrap();
}
