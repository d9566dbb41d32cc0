//! The one task that runs rounds: triggers coalesce, a timer refreshes the
//! release before it expires, failures are retried with a bounded backoff.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::error::RoundError;
use super::round::Rounds;
use super::status::{CurrentRelease, Record, ReleaseStatus, unix_now};

/// The answer a waiting `POST /v1/release` gets.
pub(super) type Outcome = Result<ReleaseStatus, RoundError>;

/// When failed rounds are retried: `initial`, doubling, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_mins(1),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 or more).
    #[must_use]
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// What the API handlers and the worker share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    record: Mutex<Record>,
    /// Holds at most one wake-up: triggers during a round schedule one more.
    wake: Notify,
    /// On-demand callers waiting for the next round to start and end.
    waiters: Mutex<Vec<oneshot::Sender<Outcome>>>,
}

impl Shared {
    pub(super) fn record(&self) -> MutexGuard<'_, Record> {
        // Replaced whole under the lock: a poisoned record is still consistent.
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn trigger(&self) {
        self.wake.notify_one();
    }

    /// Registers for the outcome of the next round to start, and wakes the worker.
    pub(super) fn wait_for_round(&self) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tx);
        self.wake.notify_one();
        rx
    }

    fn take_waiters(&self) -> Vec<oneshot::Sender<Outcome>> {
        std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Runs rounds until the runtime stops.
pub(super) async fn run(
    shared: Arc<Shared>,
    mut rounds: Rounds,
    margin: Option<Duration>,
    backoff: Backoff,
) {
    let mut next: Option<Instant> = None;
    let mut failures = 0u32;
    loop {
        match next {
            Some(at) => tokio::select! {
                () = shared.wake.notified() => {}
                () = tokio::time::sleep_until(at) => {}
            },
            None => shared.wake.notified().await,
        }
        let waiters = shared.take_waiters();
        let outcome = rounds.run().await;
        let delay = match &outcome {
            Ok(current) => {
                failures = 0;
                let delay = refresh_delay(current, margin, unix_now());
                tracing::info!(expires_at = current.expires_at, plugins = current.plugins.len(),
                    refresh_in = ?delay, "release installed");
                delay
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = backoff.delay(failures);
                tracing::warn!(code = e.code(), error = %e, failures, retry_in = ?delay,
                    "release round failed");
                delay
            }
        };
        next = Some(Instant::now() + delay);
        let status = {
            let mut record = shared.record();
            record.record(&outcome);
            record.status(true)
        };
        let answer = outcome.map(|_| status);
        for waiter in waiters {
            let _ = waiter.send(answer.clone());
        }
    }
}

/// How long until the next refresh: at `expires - margin`, the margin being
/// a third of the lifetime unless set, and at most half of it (a larger one
/// would re-attest without pause).
pub(super) fn refresh_delay(
    current: &CurrentRelease,
    margin: Option<Duration>,
    now: u64,
) -> Duration {
    let expires = current.expires_at.min(current.granted_until);
    let lifetime = expires.saturating_sub(current.received_at);
    let margin = margin
        .map_or(lifetime / 3, |m| m.as_secs())
        .min(lifetime / 2);
    Duration::from_secs(expires.saturating_sub(margin).saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(received_at: u64, expires_at: u64) -> CurrentRelease {
        CurrentRelease {
            expires_at,
            granted_until: expires_at,
            received_at,
            plugins: Vec::new(),
        }
    }

    #[test]
    fn refresh_comes_a_margin_before_expiry() {
        // Default margin: a third of the 300 s lifetime.
        let c = current(1_000, 1_300);
        assert_eq!(refresh_delay(&c, None, 1_000), Duration::from_secs(200));
        assert_eq!(refresh_delay(&c, None, 1_150), Duration::from_secs(50));
        assert_eq!(refresh_delay(&c, None, 1_250), Duration::ZERO);
        // A set margin, capped at half the lifetime.
        let m = Some(Duration::from_mins(1));
        assert_eq!(refresh_delay(&c, m, 1_000), Duration::from_mins(4));
        let m = Some(Duration::from_secs(1_000));
        assert_eq!(refresh_delay(&c, m, 1_000), Duration::from_secs(150));
        // The earlier of the enclave's and the control plane's expiry counts.
        let c = CurrentRelease {
            granted_until: 1_150,
            ..current(1_000, 1_300)
        };
        assert_eq!(refresh_delay(&c, None, 1_000), Duration::from_secs(100));
    }

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(10));
    }
}
