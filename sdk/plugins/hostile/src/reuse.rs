//! `reuse-output:N` / `reuse-err:N`: return N bytes from a heap chunk that the
//! allocator will put on a free list when the host frees the result.
//!
//! After `handle` returns, the component's post-return function frees the
//! returned buffer. If that buffer borders the allocator's top chunk it simply
//! merges into it, and its bytes happen to stay intact; anywhere else dlmalloc
//! writes free-list pointers into the first bytes of the freed chunk. Tests
//! usually return the newest allocation, so a host that reads the result only
//! after post-return still sees the right bytes. This command returns a buffer
//! that sits between two live allocations, in a chunk freed and reused during
//! the call: a host reading after post-return sees corrupted bytes.
//!
//! The bytes are `A`..`Z` repeated to N bytes, so the caller can check them.

use std::hint::black_box;

/// Builds `A`..`Z` repeated to `len` bytes (printable ASCII, so `reuse-err:N`
/// can return the same bytes as a string) in a reused chunk with live neighbours on both sides.
///
/// # Errors
///
/// If the allocator did not place the output where intended (then the command
/// would prove nothing, so it says so instead of returning bytes).
pub(crate) fn output(len: usize) -> Result<Vec<u8>, String> {
    // Live neighbours, leaked so they are still allocated during post-return.
    let before = black_box(vec![1u8; 64]);
    let first = black_box(vec![0u8; len]);
    let after = black_box(vec![2u8; 64]);
    let first_at = first.as_ptr() as usize;
    drop(first);
    // No other allocation until `out` is filled: it must take `first`'s chunk.
    let mut out = Vec::with_capacity(len);
    out.extend((b'A'..=b'Z').cycle().take(len));
    std::mem::forget(before);
    std::mem::forget(after);
    if out.as_ptr() as usize != first_at || out.capacity() != len {
        return Err(format!(
            "allocator placed the output at {:#x} (capacity {}), not in the freed chunk at {first_at:#x}",
            out.as_ptr() as usize,
            out.capacity()
        ));
    }
    Ok(out)
}
