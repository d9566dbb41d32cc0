//! Captures what the runtime logs, in the enclave's default text format.

use std::sync::{Arc, Mutex, PoisonError};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `f` on this thread with a text-format subscriber like the enclave's
/// (`--log-format text`, every level); returns its result and the log.
///
/// While only one dispatcher exists, `tracing-core` computes the interest of
/// a callsite first hit on *another* thread (a test running in parallel, with
/// no subscriber) from that thread's default alone, caches "never", and this
/// thread's subscriber then misses the event. A second registered dispatcher
/// makes it ask every registered dispatcher instead, so one is kept alive for
/// the duration.
pub(crate) fn logged<R>(f: impl FnOnce() -> R) -> (R, String) {
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let buf = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    (result, String::from_utf8(bytes).unwrap())
}
