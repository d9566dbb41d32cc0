//! The per-invocation [`ResourceLimiter`]: enforces a plugin's memory and table
//! limits and remembers which one was hit.
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
    hit: Option<LimitHit>,
}

impl Limiter {
    /// A limiter for one invocation. Limits above `usize::MAX` saturate, which
    /// only matters on 32-bit hosts where the pool bounds them anyway.
    pub(crate) fn new(max_memory_bytes: u64, max_table_elements: u64) -> Self {
        Self {
            max_memory_bytes: usize::try_from(max_memory_bytes).unwrap_or(usize::MAX),
            max_table_elements: usize::try_from(max_table_elements).unwrap_or(usize::MAX),
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

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return self.refuse(LimitHit::Memory);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return self.refuse(LimitHit::Table);
        }
        Ok(true)
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
    fn table_past_limit_is_refused_and_first_hit_kept() {
        let mut l = Limiter::new(1 << 20, 10);
        assert!(l.table_growing(5, 11, None).is_err());
        assert!(l.memory_growing(0, 2 << 20, None).is_err());
        assert_eq!(l.hit(), Some(LimitHit::Table));
    }
}
