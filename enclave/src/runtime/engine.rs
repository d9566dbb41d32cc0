//! The shared [`Engine`]: its configuration and the epoch ticker thread.
//!
//! One engine serves every plugin. It is configured once for:
//! * **fuel** and **epoch interruption**, so each store gets an instruction
//!   budget and a wall-clock deadline;
//! * the **pooling instance allocator**, sized from [`RuntimeConfig`] and the
//!   hard maxima, so instantiation is a few microseconds and a plugin can never
//!   reserve more than a pool slot;
//! * a bounded wasm stack, so deep recursion traps instead of exhausting the host;
//! * **no parallel compilation**: wasmtime would otherwise spread one
//!   compilation over a thread pool as large as the machine, whatever
//!   `max_concurrent_compiles` says. Each compilation runs on the thread that
//!   started it (see `compile.rs`), so N compile permits are at most N cores.
//!
//! The [`EpochTicker`] increments the engine's epoch every `epoch_tick` on its
//! own thread while calls are in flight ([`Epoch`] counts them), sleeps while
//! none are, and stops and is joined when the runtime is dropped. A wake-up
//! that comes late (a loaded machine) issues every tick that came due while
//! it slept, so an epoch deadline stays a wall-clock deadline: while calls
//! run, the epoch advances by the number of whole ticks since the ticker
//! woke, never fewer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::RuntimeConfig;
use super::error::RuntimeError;

/// Core instances a component may contain (a Rust plugin has its main module
/// plus a few adapter shims).
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Linear memories a component may define.
const MEMORIES_PER_COMPONENT: u32 = 2;
/// Bytes of each linear memory slot kept mapped between invocations and
/// reset in place instead of with `madvise`.
const KEEP_RESIDENT_MEMORY_BYTES: usize = 2 << 20;
/// Same for each table slot.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;
/// Tables a component may define.
const TABLES_PER_COMPONENT: u32 = 16;

/// Builds the shared engine for `config`.
pub(crate) fn build(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let slots = config.max_concurrent_invocations;
    let max = &config.hard_maxima;
    let internal =
        |what: &str| RuntimeError::InvalidConfig(format!("{what} does not fit this host"));

    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT))
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memories_per_module(1)
        .max_tables_per_module(TABLES_PER_COMPONENT)
        .max_memory_size(
            usize::try_from(max.max_memory_bytes).map_err(|_| internal("max_memory_bytes"))?,
        )
        .table_elements(
            usize::try_from(max.max_table_elements).map_err(|_| internal("max_table_elements"))?,
        )
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY_BYTES)
        .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
        .pagemap_scan(wasmtime::Enabled::Auto);

    let mut wasm = Config::new();
    wasm.consume_fuel(true)
        .epoch_interruption(true)
        .parallel_compilation(false)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&wasm).map_err(|e| RuntimeError::Internal(format!("engine: {e:#}")))
}

/// Increments an engine's epoch every tick while calls are in flight, until
/// dropped. An idle runtime costs no wake-ups: the ticker sleeps until the
/// next call arrives and starts a fresh schedule then (no call needs the
/// ticks that passed while none ran: deadlines count from a call's start).
#[derive(Debug)]
pub(crate) struct EpochTicker {
    epoch: Arc<Epoch>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the ticker thread; `epoch` follows the engine's epoch.
    pub(crate) fn start(
        engine: Engine,
        epoch: Arc<Epoch>,
        tick: Duration,
    ) -> Result<Self, RuntimeError> {
        let ticks = Arc::clone(&epoch);
        let thread = thread::Builder::new()
            .name("enclet-epoch".to_owned())
            .spawn(move || {
                while ticks.wait_for_calls() {
                    let mut schedule = TickSchedule::new(Instant::now(), tick);
                    loop {
                        let Some(busy) = ticks.sleep(schedule.wait(Instant::now())) else {
                            return;
                        };
                        // Ours first: a call starting in between then reads
                        // an epoch that is not behind the engine's, so its
                        // deadline cannot come early.
                        let due = schedule.due(Instant::now());
                        ticks.advance(due);
                        for _ in 0..due {
                            engine.increment_epoch();
                        }
                        if !busy {
                            break;
                        }
                    }
                }
            })
            .map_err(|e| RuntimeError::Internal(format!("epoch ticker thread: {e}")))?;
        Ok(Self {
            epoch,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.epoch.stop();
        if let Some(thread) = self.thread.take() {
            // The thread only waits and counts; it cannot panic.
            let _ = thread.join();
        }
    }
}

/// The engine's epoch as a number calls can read (ticks issued so far), and
/// whether the ticker has calls to tick for.
#[derive(Debug, Default)]
pub(crate) struct Epoch {
    ticks: AtomicU64,
    ticker: Mutex<TickerState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct TickerState {
    calls: usize,
    stopping: bool,
}

impl Epoch {
    pub(crate) fn now(&self) -> u64 {
        self.ticks.load(Ordering::Acquire)
    }

    pub(crate) fn advance(&self, ticks: u64) {
        self.ticks.fetch_add(ticks, Ordering::AcqRel);
    }

    fn lock(&self) -> MutexGuard<'_, TickerState> {
        // Every critical section leaves the state consistent.
        self.ticker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A call is in flight: the ticker must tick.
    pub(crate) fn call_started(&self) {
        let mut state = self.lock();
        state.calls += 1;
        if state.calls == 1 {
            self.changed.notify_all();
        }
    }

    pub(crate) fn call_ended(&self) {
        let mut state = self.lock();
        state.calls = state.calls.saturating_sub(1);
    }

    fn stop(&self) {
        self.lock().stopping = true;
        self.changed.notify_all();
    }

    /// Waits until a call is in flight; `false` once stopping.
    fn wait_for_calls(&self) -> bool {
        let state = self
            .changed
            .wait_while(self.lock(), |s| s.calls == 0 && !s.stopping)
            .unwrap_or_else(PoisonError::into_inner);
        !state.stopping
    }

    /// Sleeps for `period` unless stopped first: `None` once stopping,
    /// else whether calls are still in flight.
    fn sleep(&self, period: Duration) -> Option<bool> {
        let (state, _) = self
            .changed
            .wait_timeout_while(self.lock(), period, |s| !s.stopping)
            .unwrap_or_else(PoisonError::into_inner);
        (!state.stopping).then_some(state.calls > 0)
    }
}

/// Which epoch ticks have come due: the epoch the engine should be at is the
/// number of whole `tick`s since `start`, however late the thread wakes.
#[derive(Debug)]
struct TickSchedule {
    start: Instant,
    tick: Duration,
    issued: u128,
}

impl TickSchedule {
    fn new(start: Instant, tick: Duration) -> Self {
        Self {
            start,
            tick: tick.max(Duration::from_nanos(1)),
            issued: 0,
        }
    }

    /// Whole ticks elapsed at `now`.
    fn elapsed_ticks(&self, now: Instant) -> u128 {
        now.saturating_duration_since(self.start).as_nanos() / self.tick.as_nanos()
    }

    /// Ticks that came due since the last call, marked as issued.
    fn due(&mut self, now: Instant) -> u64 {
        let owed = self.elapsed_ticks(now).saturating_sub(self.issued);
        self.issued = self.issued.saturating_add(owed);
        u64::try_from(owed).unwrap_or(u64::MAX)
    }

    /// How long to sleep from `now` until the next tick is due.
    fn wait(&self, now: Instant) -> Duration {
        let next = self.issued.saturating_add(1);
        let at = self.tick.as_nanos().saturating_mul(next);
        let passed = now.saturating_duration_since(self.start).as_nanos();
        let nanos = u64::try_from(at.saturating_sub(passed)).unwrap_or(u64::MAX);
        Duration::from_nanos(nanos)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{Epoch, EpochTicker, TickSchedule};

    /// Polls `done` every few ms for up to a minute (generous: this is about
    /// whether it happens, not how fast).
    fn eventually(mut done: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_mins(1) {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn the_ticker_ticks_only_while_calls_are_in_flight() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let epoch = Arc::new(Epoch::default());
        let ticker =
            EpochTicker::start(engine, Arc::clone(&epoch), Duration::from_millis(1)).unwrap();
        // Idle: the ticker waits for a call, however long that takes.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(epoch.now(), 0);
        epoch.call_started();
        assert!(eventually(|| epoch.now() >= 3), "ticks while a call runs");
        epoch.call_ended();
        let mut last = epoch.now();
        assert!(
            eventually(|| {
                std::thread::sleep(Duration::from_millis(20));
                let now = epoch.now();
                std::mem::replace(&mut last, now) == now
            }),
            "stops ticking once no call is in flight"
        );
        epoch.call_started();
        let resumed = epoch.now();
        assert!(eventually(|| epoch.now() > resumed), "and resumes");
        drop(ticker); // joins the thread, calls in flight or not
    }

    const TICK: Duration = Duration::from_millis(5);

    #[test]
    fn a_late_wake_up_issues_every_tick_that_came_due() {
        let start = Instant::now();
        let mut schedule = TickSchedule::new(start, TICK);
        assert_eq!(schedule.due(start), 0);
        assert_eq!(schedule.due(start + TICK), 1);
        // The thread was starved for 100 ms: 20 ticks were due, 19 are owed.
        assert_eq!(schedule.due(start + Duration::from_millis(100)), 19);
        assert_eq!(schedule.due(start + Duration::from_millis(100)), 0);
        assert_eq!(schedule.due(start + Duration::from_millis(104)), 0);
        assert_eq!(schedule.due(start + Duration::from_millis(105)), 1);
    }

    #[test]
    fn the_sleep_ends_at_the_next_tick_boundary_not_a_full_tick_later() {
        let start = Instant::now();
        let mut schedule = TickSchedule::new(start, TICK);
        assert_eq!(schedule.wait(start), TICK);
        assert_eq!(
            schedule.wait(start + Duration::from_millis(3)),
            Duration::from_millis(2)
        );
        schedule.due(start + Duration::from_millis(7));
        assert_eq!(
            schedule.wait(start + Duration::from_millis(7)),
            Duration::from_millis(3)
        );
        // Behind schedule: no sleep at all.
        assert_eq!(
            schedule.wait(start + Duration::from_millis(30)),
            Duration::ZERO
        );
    }
}
