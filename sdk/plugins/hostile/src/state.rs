//! State probes: each writes state that would survive into the next call if
//! the host reused an instance's memory without resetting it, and reports
//! whether it found such state left over from an earlier call.
//!
//! A fresh instance answers `1` (counter) or `fresh` (heap, grown memory); a
//! reused, unreset one answers `2`, `3`, … or `stale: …`. The probes cover the
//! three places state can hide in linear memory:
//!
//! * zero-initialised statics (`.bss`), which data segments do not rewrite;
//! * the heap, reached through a pointer kept in a static;
//! * pages added by `memory.grow` during a call, beyond what the allocator
//!   and the initial memory image cover. This region straddles the part of a
//!   pool slot the host keeps resident and resets in place (the first 2 MiB)
//!   and the part it decommits.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Written by the probes; finding it again means state leaked between calls.
pub(crate) const MARKER: &[u8; 16] = b"enclet:leftover!";

/// Bytes the `heap` probe keeps in its static buffer.
const HEAP_BYTES: usize = 64 * 1024;

/// Bytes the `grow` probe adds to linear memory: more than the 2 MiB the host
/// keeps resident per memory slot, so both reset paths are exercised.
const GROW_BYTES: usize = 4 * 1024 * 1024;

/// A wasm page.
#[cfg(target_arch = "wasm32")]
const PAGE: usize = 64 * 1024;

static CALLS: AtomicU32 = AtomicU32::new(0);
static HEAP: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Address of the marker the `grow` probe wrote, 0 if none yet.
static GROWN_MARKER_AT: AtomicUsize = AtomicUsize::new(0);

/// `count`: how many times this instance has been called, as decimal.
pub(crate) fn count() -> Vec<u8> {
    let calls = CALLS.fetch_add(1, Ordering::SeqCst).wrapping_add(1);
    calls.to_string().into_bytes()
}

/// `heap`: `fresh` if the static heap buffer is empty, `stale: …` if an
/// earlier call's buffer (and marker) is still there. Leaves the buffer filled.
pub(crate) fn heap() -> Vec<u8> {
    // With `panic = "abort"` a lock is never poisoned; recover regardless.
    let mut heap = HEAP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let verdict = if heap.is_empty() {
        "fresh".to_owned()
    } else {
        let marked = heap.windows(MARKER.len()).any(|w| w == MARKER);
        format!(
            "stale: heap buffer of {} bytes, marker present: {marked}",
            heap.len()
        )
    };
    heap.clear();
    heap.extend(MARKER.iter().copied().cycle().take(HEAP_BYTES));
    verdict.into_bytes()
}

/// `grow`: grows linear memory by [`GROW_BYTES`] and checks that every new
/// byte is zero, then dirties every new page and writes [`MARKER`] at the end.
///
/// A fresh instance starts at the same memory size each time, so the grown
/// region lies at the same addresses on every call: if the host reset
/// neither the pages nor the statics, the static address reveals it; if it
/// reset the statics but not the pages, the zero check sees the last call's
/// bytes (or the bytes of any other plugin that used the slot).
///
/// # Errors
///
/// If `memory.grow` is refused (memory limit).
pub(crate) fn grow() -> Result<Vec<u8>, String> {
    let previous = GROWN_MARKER_AT.load(Ordering::SeqCst);
    if previous != 0 {
        return Ok(format!("stale: an earlier call left its marker at {previous:#x}").into_bytes());
    }
    let region = grow_region(GROW_BYTES)?;
    let start = region.as_ptr() as usize;
    if let Some(offset) = region.iter().position(|&b| b != 0) {
        let byte = region.get(offset).copied().unwrap_or_default();
        return Ok(format!(
            "stale: byte {byte:#04x} at {:#x} in freshly grown memory",
            start.wrapping_add(offset)
        )
        .into_bytes());
    }
    touch_pages(region);
    let marker_at = GROW_BYTES - MARKER.len();
    if let Some(tail) = region.get_mut(marker_at..) {
        tail.copy_from_slice(MARKER);
    }
    GROWN_MARKER_AT.store(start.wrapping_add(marker_at), Ordering::SeqCst);
    Ok(b"fresh".to_vec())
}

/// Writes a non-zero byte on every 4 KiB page so all of it becomes resident.
fn touch_pages(region: &mut [u8]) {
    for page in region.chunks_mut(4096) {
        if let Some(first) = page.first_mut() {
            *first = 0xa5;
        }
    }
}

/// Grows memory 0 by `bytes` (a multiple of a page) and returns the new region.
#[cfg(target_arch = "wasm32")]
fn grow_region(bytes: usize) -> Result<&'static mut [u8], String> {
    let old_pages = core::arch::wasm32::memory_grow(0, bytes / PAGE);
    if old_pages == usize::MAX {
        return Err(format!("memory.grow by {bytes} bytes refused"));
    }
    let start = old_pages.checked_mul(PAGE).ok_or("memory size overflows")?;
    #[allow(
        unsafe_code,
        reason = "the probe must read pages it added itself, outside the allocator"
    )]
    // SAFETY: `memory.grow` just added `[start, start + bytes)` to linear
    // memory 0. Nothing else refers to it: the allocator only uses memory it
    // grew itself, statics and the stack lie below the old size, and this
    // call hands the region out exactly once per instance (later calls see
    // `GROWN_MARKER_AT` set and return before growing again).
    let region = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, bytes) };
    Ok(region)
}

#[cfg(not(target_arch = "wasm32"))]
fn grow_region(_bytes: usize) -> Result<&'static mut [u8], String> {
    Err("memory.grow exists only on wasm32".to_owned())
}
