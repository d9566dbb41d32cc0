//! `hostile`: misbehaves on request so tests can check that every limit holds
//! and fails only the offending call.
//!
//! The input (UTF-8, surrounding whitespace ignored) selects the behaviour:
//!
//! | input     | behaviour                                              | expected outcome |
//! |-----------|--------------------------------------------------------|------------------|
//! | `loop`    | spins forever                                          | out of fuel / deadline exceeded |
//! | `memory`  | allocates 16 MiB blocks until refused                  | memory limit |
//! | `recurse` | unbounded non-tail recursion                           | guest trap (stack overflow) |
//! | `output`  | returns 64 MiB (or until memory runs out)              | output too large / memory limit |
//! | `output:N`| returns N bytes                                        | ok or output too large |
//! | `panic`   | panics                                                 | guest trap |
//! | `err`     | returns a plugin error                                 | plugin error |
//! | `wasi`    | reads the wall clock (a WASI import the host never links) | guest trap |
//! | `log`     | logs 100 records (more than the host keeps)           | ok |
//! | `log-amplify` | 100 `log` calls, each with 2,000 fields pointing at one 1 MiB string (see `amplify.rs`) | ok, excess dropped |
//! | `log-forge` | logs a message, key and value full of line breaks and ANSI escapes | ok |
//! | `reuse-output:N` | returns N bytes (`A`..`Z` repeated) from a heap chunk that is not the newest (see `reuse.rs`) | ok, exactly those bytes |
//! | `reuse-err:N` | the same bytes as a plugin error string                | plugin error with exactly those bytes |
//! | `work:N`  | N million rounds of busy arithmetic, then returns `worked N` (a slow call that succeeds) | ok, or out of fuel / deadline exceeded |
//! | `count`   | increments a static counter, returns it in decimal     | ok, always `1` |
//! | `heap`    | checks, then fills, a heap buffer held by a static     | ok, always `fresh` |
//! | `grow`    | grows memory by 4 MiB, checks it is all zero, dirties it | ok, always `fresh` |
//! | `taint`   | runs `count`, `heap` and `grow`, then panics            | guest trap |
//! | `secret-flood` | asks twice for a secret whose name is 2 MiB long       | guest trap (the host's per-invocation secrets budget) |
//! | `secret:NAME` | returns the secret `NAME` released to this plugin (tries to read another plugin's) | ok with its bytes, or plugin error `secret NAME: not-granted` / `secret NAME: expired` |
//! | other     | echoes the input                                       | ok |
//!
//! `count`, `heap` and `grow` are state probes (see `state.rs`): each call must
//! run in a pristine instance, so any answer other than `1` or `fresh` means
//! memory of an earlier call — of any plugin — was visible to this one.

mod amplify;
mod reuse;
mod state;

use std::hint::black_box;

/// The hostile plugin.
pub struct Hostile;

const MIB: usize = 1024 * 1024;

impl enclet_plugin_sdk::Plugin for Hostile {
    fn handle(input: Vec<u8>) -> Result<Vec<u8>, String> {
        let command = std::str::from_utf8(&input).unwrap_or("").trim();
        match command {
            "loop" => spin(),
            "memory" => Ok(hoard()),
            "recurse" => Ok(depth(black_box(input.len() as u64)).to_le_bytes().to_vec()),
            "output" => Ok(vec![b'x'; 64 * MIB]),
            "panic" => panic!("asked to panic"),
            "err" => Err("asked to fail".to_owned()),
            "wasi" => Ok(format!("{:?}", std::time::SystemTime::now()).into_bytes()),
            "log" => {
                for i in 0..100 {
                    enclet_plugin_sdk::log::info("noisy", &[("i", &i.to_string())]);
                }
                Ok(b"logged".to_vec())
            }
            "log-amplify" => Ok(amplify::run()),
            "log-forge" => {
                enclet_plugin_sdk::log::info(
                    "honest\n2000-01-01T00:00:00Z  INFO enclet: forged line\r\x1b[2K\x1b[31mred",
                    &[("key\nforged", "value\n\x1b[0m\u{9b}31m\u{85}")],
                );
                Ok(b"forged".to_vec())
            }
            "count" => Ok(state::count()),
            "heap" => Ok(state::heap()),
            "grow" => state::grow(),
            "taint" => taint(),
            "secret-flood" => {
                let name = "n".repeat(2 * MIB);
                let first = enclet_plugin_sdk::secrets::get(&name);
                let second = enclet_plugin_sdk::secrets::get(&name);
                Err(format!("the host answered both: {first:?}, {second:?}"))
            }
            other => match other.strip_prefix("secret:") {
                Some(name) => secret(name),
                None => match other.strip_prefix("work:") {
                    Some(millions) => work(millions),
                    None => sized(other).unwrap_or(Ok(input)),
                },
            },
        }
    }
}

/// The `output:N`, `reuse-output:N` and `reuse-err:N` commands; `None` for
/// anything else.
fn sized(command: &str) -> Option<Result<Vec<u8>, String>> {
    let (name, size) = command.split_once(':')?;
    if !matches!(name, "output" | "reuse-output" | "reuse-err") {
        return None;
    }
    let size = match size.parse::<usize>() {
        Ok(n) => n,
        Err(e) => return Some(Err(format!("bad size in {name}: {e}"))),
    };
    Some(match name {
        "reuse-output" => reuse::output(size),
        // The same bytes as the error string; the layout complaint as is.
        "reuse-err" => Err(match reuse::output(size) {
            Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|e| e.to_string()),
            Err(complaint) => complaint,
        }),
        _ => Ok(vec![b'x'; size]),
    })
}

/// The `secret:NAME` command: the value itself as output (a real plugin would
/// never return it), or which error the host gave.
fn secret(name: &str) -> Result<Vec<u8>, String> {
    enclet_plugin_sdk::secrets::get(name).map_err(|e| format!("secret {name}: {e}"))
}

/// Leaves state everywhere a state probe looks, then traps.
fn taint() -> ! {
    let dirtied = (state::count(), state::heap(), state::grow());
    panic!("asked to trap after dirtying state: {dirtied:?}");
}

/// The `work:N` command: N million rounds that cannot be optimised away.
fn work(millions: &str) -> Result<Vec<u8>, String> {
    let n: u64 = millions
        .parse()
        .map_err(|e| format!("bad count in work: {e}"))?;
    let mut acc: u64 = 0;
    for i in 0..n.saturating_mul(1_000_000) {
        acc = black_box(acc.wrapping_mul(31).wrapping_add(i));
    }
    black_box(acc);
    Ok(format!("worked {n}").into_bytes())
}

/// Loops forever without being optimised away.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches 16 MiB blocks forever.
fn hoard() -> Vec<u8> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(black_box(vec![1u8; 16 * MIB]));
        if blocks.len() == usize::MAX {
            return blocks.concat();
        }
    }
}

/// Recurses until the wasm call stack is exhausted. Frames hold only scalars,
/// so they live on the wasm stack (which the host bounds) rather than on the
/// shadow stack in linear memory; the rotate after the call keeps it from being
/// turned into a loop.
#[inline(never)]
fn depth(n: u64) -> u64 {
    if n == u64::MAX {
        return 0;
    }
    depth(n.wrapping_add(1)).rotate_left(7) ^ n
}

enclet_plugin_sdk::export_plugin!(Hostile);
