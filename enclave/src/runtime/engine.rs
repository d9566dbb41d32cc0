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
//! own thread; it stops and is joined when the runtime is dropped. A wake-up
//! that comes late (a loaded machine) issues every tick that came due while
//! it slept, so an epoch deadline stays a wall-clock deadline: the epoch is
//! the number of whole ticks since the ticker started, never fewer.

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::RuntimeConfig;
use super::error::RuntimeError;
use super::share::Epoch;

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

/// Increments an engine's epoch every tick until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts the ticker thread; `epoch` follows the engine's epoch.
    pub(crate) fn start(
        engine: Engine,
        epoch: Arc<Epoch>,
        tick: Duration,
    ) -> Result<Self, RuntimeError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("enclet-epoch".to_owned())
            .spawn(move || {
                let mut schedule = TickSchedule::new(Instant::now(), tick);
                // A message or a dropped sender both mean: stop.
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(schedule.wait(Instant::now()))
                {
                    let due = schedule.due(Instant::now());
                    for _ in 0..due {
                        engine.increment_epoch();
                    }
                    epoch.advance(due);
                }
            })
            .map_err(|e| RuntimeError::Internal(format!("epoch ticker thread: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only loops on `recv_timeout`; it cannot panic.
            let _ = thread.join();
        }
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
    use std::time::{Duration, Instant};

    use super::TickSchedule;

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
