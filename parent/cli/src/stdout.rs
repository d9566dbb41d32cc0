//! Writing results to stdout.

use std::io::Write as _;

/// Writes `text` to stdout. A closed pipe (`| head`) is not an error worth a
/// panic: the reader went away, and the exit status still tells the outcome.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
