//! The result of `handle` is copied before the guest frees it.
//!
//! wasmtime runs the guest's post-return function — which frees the returned
//! buffers — before `TypedFunc::call` returns. `hostile`'s `reuse-output:N`
//! and `reuse-err:N` return `A`..`Z` repeated from a heap chunk between two
//! live allocations, so freeing it puts dlmalloc's free-list pointers into its
//! first bytes: a host that reads the result after post-return gets them
//! instead of the plugin's bytes.

use super::*;

fn pattern(len: usize) -> Vec<u8> {
    (b'A'..=b'Z').cycle().take(len).collect()
}

/// Where two byte strings first differ, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

const SIZES: [usize; 4] = [64, 300, 4096, 100_000];

#[tokio::test]
async fn output_in_a_freed_chunk_comes_back_exactly() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    for len in SIZES {
        let out = rt
            .invoke(&hostile, format!("reuse-output:{len}").into_bytes())
            .await
            .unwrap_or_else(|e| panic!("reuse-output:{len}: {e}"));
        let want = pattern(len);
        assert!(
            out == want,
            "reuse-output:{len}: {} bytes back, first difference at {:?}: {:?}",
            out.len(),
            first_difference(&out, &want),
            &out[..out.len().min(32)]
        );
    }
}

#[tokio::test]
async fn error_in_a_freed_chunk_comes_back_exactly() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", None);
    for len in [64, 300, 4096] {
        let err = rt
            .invoke(&hostile, format!("reuse-err:{len}").into_bytes())
            .await
            .unwrap_err();
        let want = String::from_utf8(pattern(len)).unwrap();
        assert!(
            err == InvokeError::PluginError(want.clone()),
            "reuse-err:{len}: {:.80}",
            err.to_string()
        );
    }
}

#[tokio::test]
async fn output_over_the_limit_is_refused_after_the_bounded_copy() {
    let rt = runtime();
    let hostile = load(
        &rt,
        "hostile",
        Some(Limits {
            max_output_bytes: 1000,
            ..Limits::default()
        }),
    );
    let err = rt
        .invoke(&hostile, b"reuse-output:1001".to_vec())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        InvokeError::OutputTooLarge {
            size: 1001,
            limit: 1000
        }
    );
    assert_eq!(
        rt.invoke(&hostile, b"reuse-output:1000".to_vec())
            .await
            .unwrap(),
        pattern(1000)
    );
}
