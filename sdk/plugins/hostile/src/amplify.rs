//! `log-amplify`: asks the host to copy far more than the plugin owns.
//!
//! One 1 MiB string lives in linear memory; a list of 2,000 log fields points
//! every key and value at it, and the `log` import is called with that list
//! over and over. A host that copies each field into its own memory before
//! applying its bounds copies ~4 GiB per call from 1 MiB of guest memory. The
//! SDK's safe `log` wrapper cannot express this (each field owns its strings),
//! so the import is called through its raw canonical-ABI signature.

/// Size of the one string every field points at.
const STRING_BYTES: usize = 1024 * 1024;
/// Fields per call, all pointing at the same string.
const FIELDS: usize = 2_000;
/// Calls per invocation: past the host's record bound, so dropping is exercised.
const CALLS: usize = 100;

/// A `field` record as the canonical ABI lays it out in linear memory
/// (wasm32: pointers and lengths are 32 bits).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawField {
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
}

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "enclet:plugin/log@0.1.0")]
unsafe extern "C" {
    /// `log: func(level: level, message: string, fields: list<field>)`,
    /// flattened: the level's discriminant, then pointer/length pairs.
    #[link_name = "log"]
    fn raw_log(
        level: i32,
        message: *const u8,
        message_len: usize,
        fields: *const RawField,
        fields_len: usize,
    );
}

/// Runs the attack; returns how many calls were made.
pub(crate) fn run() -> Vec<u8> {
    let big = vec![b'a'; STRING_BYTES];
    let field = RawField {
        key: big.as_ptr(),
        key_len: big.len(),
        value: big.as_ptr(),
        value_len: big.len(),
    };
    let fields = vec![field; FIELDS];
    let message = "amplify";
    for _ in 0..CALLS {
        call_log(message, &fields);
    }
    std::hint::black_box(&big);
    format!("amplified {CALLS} calls").into_bytes()
}

#[cfg(target_arch = "wasm32")]
fn call_log(message: &str, fields: &[RawField]) {
    /// The `info` level's discriminant.
    const INFO: i32 = 2;
    #[allow(
        unsafe_code,
        reason = "the attack needs a field list no safe wrapper can build"
    )]
    // SAFETY: every pointer/length pair describes live memory of this instance
    // (`message`, `fields` and the string the fields point at outlive the
    // call); the host only reads it. The signature is the canonical-ABI
    // lowering of the WIT `log` function that the SDK's bindings import too.
    unsafe {
        raw_log(
            INFO,
            message.as_ptr(),
            message.len(),
            fields.as_ptr(),
            fields.len(),
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn call_log(_message: &str, _fields: &[RawField]) {}
