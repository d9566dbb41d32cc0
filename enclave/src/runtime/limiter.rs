//! The per-invocation [`ResourceLimiter`]: enforces a plugin's memory and table
//! limits and remembers which one was hit.
//!
//! The limits are **totals for the store**: a component may define several
//! memories and tables (the pool allows 2 and 16), so the limiter keeps running
//! sums — every approved growth adds `desired - current` — and refuses growth
//! that would take a sum past the limit. A growth wasmtime fails after approval
//! stays counted, which errs on the side of refusing.
//!
//! wasmtime reports a refused `memory.grow` either as `-1` to the guest (which a
//! Rust guest turns into an abort, i.e. an anonymous `unreachable` trap) or as
//! an error that is not a [`wasmtime::Trap`]. Neither says *why*. This limiter
//! refuses growth with a typed [`LimitHit`] error and also records the hit, so
//! the invocation is reported as `memory limit` / `table limit` however the
//! guest reacts.

use wasmtime::ResourceLimiter;

/// Which limit an invocation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitHit {
    /// A linear memory would have grown past `max_memory_bytes`.
    #[error("memory limit")]
    Memory,
    /// A table would have grown past `max_table_elements`.
    #[error("table limit")]
    Table,
}

/// Limits of one store. Instance and memory counts are bounded by the pool.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    memory_bytes: usize,
    table_elements: usize,
    hit: Option<LimitHit>,
}

impl Limiter {
    /// A limiter for one invocation. Limits above `usize::MAX` saturate, which
    /// only matters on 32-bit hosts where the pool bounds them anyway.
    pub(crate) fn new(max_memory_bytes: u64, max_table_elements: u64) -> Self {
        Self {
            max_memory_bytes: usize::try_from(max_memory_bytes).unwrap_or(usize::MAX),
            max_table_elements: usize::try_from(max_table_elements).unwrap_or(usize::MAX),
            memory_bytes: 0,
            table_elements: 0,
            hit: None,
        }
    }

    /// The first limit this store ran into, if any.
    pub(crate) fn hit(&self) -> Option<LimitHit> {
        self.hit
    }

    fn refuse(&mut self, hit: LimitHit) -> wasmtime::Result<bool> {
        self.hit.get_or_insert(hit);
        Err(wasmtime::Error::new(hit))
    }
}

/// Adds the growth `current -> desired` to `total` if the sum stays within
/// `limit`; `None` (and `total` untouched) otherwise.
fn grow_total(total: usize, current: usize, desired: usize, limit: usize) -> Option<usize> {
    let sum = total.checked_add(desired.saturating_sub(current))?;
    (sum <= limit).then_some(sum)
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow_total(self.memory_bytes, current, desired, self.max_memory_bytes) {
            Some(total) => {
                self.memory_bytes = total;
                Ok(true)
            }
            None => self.refuse(LimitHit::Memory),
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow_total(
            self.table_elements,
            current,
            desired,
            self.max_table_elements,
        ) {
            Some(total) => {
                self.table_elements = total;
                Ok(true)
            }
            None => self.refuse(LimitHit::Table),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_within_limits_is_allowed_and_not_recorded() {
        let mut l = Limiter::new(1 << 20, 10);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(l.table_growing(0, 10, None).unwrap());
        assert_eq!(l.hit(), None);
    }

    #[test]
    fn memory_past_limit_is_refused_and_recorded() {
        let mut l = Limiter::new(1 << 20, 10);
        let err = l.memory_growing(0, (1 << 20) + 1, None).unwrap_err();
        assert_eq!(err.downcast_ref::<LimitHit>(), Some(&LimitHit::Memory));
        assert_eq!(l.hit(), Some(LimitHit::Memory));
    }

    #[test]
    fn memory_limit_is_a_total_across_memories() {
        let mut l = Limiter::new(1 << 20, 10);
        // Two memories created at 512 KiB each: exactly the limit.
        assert!(l.memory_growing(0, 512 << 10, None).unwrap());
        assert!(l.memory_growing(0, 512 << 10, None).unwrap());
        assert_eq!(l.hit(), None);
        // Growing either by one more page would exceed the total, although
        // each memory alone is far below the limit.
        let err = l
            .memory_growing(512 << 10, (512 << 10) + 65_536, None)
            .unwrap_err();
        assert_eq!(err.downcast_ref::<LimitHit>(), Some(&LimitHit::Memory));
        assert_eq!(l.hit(), Some(LimitHit::Memory));
        // A refused growth is not counted: a zero-byte growth still fits.
        assert!(l.memory_growing(512 << 10, 512 << 10, None).unwrap());
    }

    #[test]
    fn growth_is_counted_as_the_difference() {
        let mut l = Limiter::new(1 << 20, 10);
        assert!(l.memory_growing(0, 256 << 10, None).unwrap());
        assert!(l.memory_growing(256 << 10, 768 << 10, None).unwrap());
        assert!(l.memory_growing(0, 256 << 10, None).unwrap());
        assert!(l.memory_growing(0, 1, None).is_err());
    }

    #[test]
    fn table_limit_is_a_total_across_tables() {
        let mut l = Limiter::new(1 << 20, 10);
        assert!(l.table_growing(0, 4, None).unwrap());
        assert!(l.table_growing(0, 4, None).unwrap());
        assert!(l.table_growing(4, 6, None).unwrap());
        let err = l.table_growing(0, 1, None).unwrap_err();
        assert_eq!(err.downcast_ref::<LimitHit>(), Some(&LimitHit::Table));
        assert_eq!(l.hit(), Some(LimitHit::Table));
    }

    #[test]
    fn table_past_limit_is_refused_and_first_hit_kept() {
        let mut l = Limiter::new(1 << 20, 10);
        assert!(l.table_growing(0, 5, None).unwrap());
        assert!(l.table_growing(5, 11, None).is_err());
        assert!(l.memory_growing(0, 2 << 20, None).is_err());
        assert_eq!(l.hit(), Some(LimitHit::Table));
    }
}
