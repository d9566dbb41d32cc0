//! Host state of one invocation and the host side of the `log` import.
//!
//! A plugin's log records go to `tracing` under the target `enclet::plugin`,
//! with the plugin's name and measurement as fields, so an operator can tell
//! plugins apart without trusting what they print. Records are bounded: at most
//! [`MAX_RECORDS`] per invocation, messages truncated to [`MAX_MESSAGE_BYTES`],
//! at most [`MAX_FIELDS`] fields of at most [`MAX_FIELD_BYTES`] each. What
//! exceeds the bounds is dropped and counted, and the count is logged once when
//! the invocation ends. (The guest's strings are copied out of its memory by
//! wasmtime before these bounds apply; that copy is bounded by the plugin's
//! memory limit and paid for with its fuel.)

use std::fmt::Write as _;
use std::sync::Arc;

use super::bindings::log::{self, Field, Level};
use super::limiter::Limiter;

/// Log records a plugin may emit per invocation.
pub(crate) const MAX_RECORDS: u32 = 64;
/// Longest message kept, in bytes; longer ones are truncated.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024;
/// Fields kept per record.
pub(crate) const MAX_FIELDS: usize = 16;
/// Longest key or value kept, in bytes.
pub(crate) const MAX_FIELD_BYTES: usize = 256;

/// Who is logging: fixed at load, shared by every invocation of a plugin.
#[derive(Debug)]
pub(crate) struct PluginLabel {
    pub(crate) name: String,
    pub(crate) measurement: String,
}

/// The data of one invocation's `Store`.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) limiter: Limiter,
    label: Arc<PluginLabel>,
    records_left: u32,
    dropped: u32,
}

impl HostState {
    pub(crate) fn new(limiter: Limiter, label: Arc<PluginLabel>) -> Self {
        Self {
            limiter,
            label,
            records_left: MAX_RECORDS,
            dropped: 0,
        }
    }

    /// Reports records dropped during this invocation, if any.
    pub(crate) fn finish(&self) {
        if self.dropped > 0 {
            tracing::warn!(
                target: "enclet::plugin",
                plugin = %self.label.name,
                measurement = %self.label.measurement,
                dropped = self.dropped,
                "plugin log records dropped: more than {MAX_RECORDS} in one invocation"
            );
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Renders fields as `key=value` pairs (values in quotes), bounded.
fn render_fields(fields: Vec<Field>) -> String {
    let mut out = String::new();
    let extra = fields.len().saturating_sub(MAX_FIELDS);
    for field in fields.into_iter().take(MAX_FIELDS) {
        let key = truncate(field.key, MAX_FIELD_BYTES);
        let value = truncate(field.value, MAX_FIELD_BYTES);
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{key}={value:?}");
    }
    if extra > 0 {
        let _ = write!(out, " (+{extra} fields dropped)");
    }
    out
}

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String, fields: Vec<Field>) {
        let Some(left) = self.records_left.checked_sub(1) else {
            self.dropped = self.dropped.saturating_add(1);
            return;
        };
        self.records_left = left;
        let message = truncate(message, MAX_MESSAGE_BYTES);
        let fields = render_fields(fields);
        let (name, measurement) = (&self.label.name, &self.label.measurement);
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "enclet::plugin", plugin = %name, %measurement, %fields, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error => emit!(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::log::Host as _;

    fn state() -> HostState {
        let label = Arc::new(PluginLabel {
            name: "t".into(),
            measurement: "00".into(),
        });
        HostState::new(Limiter::new(1 << 20, 10), label)
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc".into(), 3), "abc");
        assert_eq!(truncate("abcd".into(), 3), "abc…");
        // 'é' is two bytes: cutting at 1 must back off to 0.
        assert_eq!(truncate("é".into(), 1), "…");
    }

    #[test]
    fn fields_are_bounded() {
        let many = (0..20).map(|i| Field {
            key: format!("k{i}"),
            value: "v".repeat(1000),
        });
        let out = render_fields(many.collect());
        assert!(out.contains("(+4 fields dropped)"), "{out}");
        assert!(!out.contains("k16="));
        assert!(out.len() < MAX_FIELDS * (2 * MAX_FIELD_BYTES + 16) + 64);
    }

    #[test]
    fn records_past_the_budget_are_counted_not_logged() {
        let mut s = state();
        for _ in 0..MAX_RECORDS + 5 {
            s.log(Level::Debug, "x".into(), Vec::new());
        }
        assert_eq!(s.records_left, 0);
        assert_eq!(s.dropped, 5);
    }
}
