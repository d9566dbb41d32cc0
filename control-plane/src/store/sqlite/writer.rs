//! The writer thread: group commit.
//!
//! Callers hand the writer a closure over the write connection and wait for
//! its answer. The writer blocks for one operation, then takes every other one
//! already queued (up to [`MAX_BATCH`]) and runs them in one transaction:
//!
//! 1. `BEGIN IMMEDIATE`;
//! 2. for each operation: `SAVEPOINT op`, run it, `ROLLBACK TO op` if it
//!    failed (its own effects and its audit head go; the others stay),
//!    `RELEASE op`;
//! 3. `COMMIT` (one fsync for the whole batch);
//! 4. answer each caller: its own result, or the commit's error for all if
//!    the commit failed (then `ROLLBACK`: none of the batch stays).
//!
//! The audit chain head (last seq and hash) lives here, in memory, and is
//! restored (or reloaded from the database) whenever work is rolled back. The
//! loop has no panicking path; a caller that went away is simply not answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension as _};

use crate::store::error::db;
use crate::store::{MAX_BATCH, StoreError};

/// How many operations may wait for the writer before callers block.
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;

/// The last audit entry: where the next one chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChainHead {
    /// Its sequence number (0: empty log).
    pub(super) seq: u64,
    /// Its hash (zeros: empty log).
    pub(super) hash: [u8; 32],
}

impl ChainHead {
    /// Reads the head from the database.
    pub(super) fn load(conn: &Connection) -> Result<Self, StoreError> {
        let last: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((seq, hash)) = last else {
            return Ok(Self {
                seq: 0,
                hash: [0; 32],
            });
        };
        Ok(Self {
            seq: u64::try_from(seq)
                .map_err(|_| StoreError::Corrupt(format!("audit seq {seq} is negative")))?,
            hash: hash.try_into().map_err(|_| {
                StoreError::Corrupt(format!("audit entry {seq} has a hash of the wrong length"))
            })?,
        })
    }
}

/// Work for the writer: runs inside the batch transaction.
type Work<R> = Box<dyn FnOnce(&Connection, &mut ChainHead) -> Result<R, StoreError> + Send>;

/// One queued operation, with its caller's reply channel.
trait Operation: Send {
    /// Runs the work; `false` if it failed (the writer then rolls it back).
    fn run(&mut self, conn: &Connection, head: &mut ChainHead) -> bool;
    /// Answers the caller once the batch's commit is decided.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct Pending<R> {
    work: Option<Work<R>>,
    result: Option<Result<R, StoreError>>,
    reply: SyncSender<Result<R, StoreError>>,
}

impl<R: Send> Operation for Pending<R> {
    fn run(&mut self, conn: &Connection, head: &mut ChainHead) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, head);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Unavailable("operation was not run".to_owned())),
        };
        // The caller may have gone away; nothing to do then.
        let _ = self.reply.send(answer);
    }
}

/// State shared between the writer thread and its handle.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Committed transactions.
    commits: AtomicU64,
    /// Test hooks.
    #[cfg(test)]
    pub(super) hooks: crate::store::tests::WriterHooks,
}

/// The handle to the writer thread; dropping it stops the thread (after the
/// queued work) and waits for it.
pub(super) struct Writer {
    tx: Option<SyncSender<Box<dyn Operation>>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

fn gone() -> StoreError {
    StoreError::Unavailable("the store's writer has stopped".to_owned())
}

impl Writer {
    /// Starts the writer thread over `conn`, with the chain at `head`.
    pub(super) fn start(conn: Connection, head: ChainHead) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || run(&conn, &rx, &thread_shared, head))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            shared,
        })
    }

    /// Runs `work` in the next batch and returns its result once committed.
    pub(super) fn submit<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection, &mut ChainHead) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let op: Box<dyn Operation> = Box::new(Pending {
            work: Some(Box::new(work)),
            result: None,
            reply,
        });
        self.tx
            .as_ref()
            .ok_or_else(gone)?
            .send(op)
            .map_err(|_| gone())?;
        #[cfg(test)]
        self.shared.hooks.queued.fetch_add(1, Ordering::SeqCst);
        answer.recv().map_err(|_| gone())?
    }

    /// How many transactions the writer has committed.
    pub(super) fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::SeqCst)
    }

    #[cfg(test)]
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer loop: until every handle is gone.
fn run(conn: &Connection, rx: &Receiver<Box<dyn Operation>>, shared: &Shared, mut head: ChainHead) {
    while let Ok(first) = rx.recv() {
        #[cfg(test)]
        let gate_guard = shared.hooks.gate();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        #[cfg(test)]
        drop(gate_guard);
        run_batch(conn, batch, shared, &mut head);
    }
}

fn run_batch(
    conn: &Connection,
    mut batch: Vec<Box<dyn Operation>>,
    shared: &Shared,
    head: &mut ChainHead,
) {
    let start = *head;
    let outcome = execute(conn, &mut batch, head).and_then(|()| commit(conn, shared));
    match outcome {
        Ok(()) => {
            shared.commits.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(operations = batch.len(), "store batch committed");
            for op in batch {
                op.finish(Ok(()));
            }
        }
        Err(e) => {
            tracing::warn!(operations = batch.len(), error = %e, "store batch rolled back");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            *head = ChainHead::load(conn).unwrap_or(start);
            let e = StoreError::Unavailable(format!("commit failed: {e}"));
            for op in batch {
                op.finish(Err(e.clone()));
            }
        }
    }
}

/// Steps 1 and 2: the transaction and each operation in its savepoint.
fn execute(
    conn: &Connection,
    batch: &mut [Box<dyn Operation>],
    head: &mut ChainHead,
) -> Result<(), StoreError> {
    if !conn.is_autocommit() {
        // A transaction left open by an earlier failure.
        conn.execute_batch("ROLLBACK").map_err(db)?;
    }
    conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
    for op in batch {
        let before = *head;
        conn.execute_batch("SAVEPOINT op").map_err(db)?;
        if !op.run(conn, head) {
            conn.execute_batch("ROLLBACK TO op").map_err(db)?;
            *head = before;
        }
        conn.execute_batch("RELEASE op").map_err(db)?;
    }
    Ok(())
}

/// Step 3.
fn commit(conn: &Connection, shared: &Shared) -> Result<(), StoreError> {
    #[cfg(test)]
    if shared.hooks.take_commit_failure() {
        return Err(StoreError::Database("injected commit failure".to_owned()));
    }
    let _ = shared;
    conn.execute_batch("COMMIT").map_err(db)
}
