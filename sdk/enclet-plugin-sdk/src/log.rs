//! Structured logging to the enclave log.
//!
//! Records carry the plugin's measurement on the host side, so they cannot be
//! mistaken for another plugin's. The host keeps at most 64 records per call,
//! truncates messages past 1 KiB and keeps 16 fields of 256 bytes each. Never
//! log secrets: the enclave log leaves the enclave.

use crate::bindings::enclet::plugin::log as wit;

/// Severity of a record.
pub use wit::Level;

/// Emits one record with `key = value` fields.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<wit::Field> = fields
        .iter()
        .map(|(key, value)| wit::Field {
            key: (*key).to_owned(),
            value: (*value).to_owned(),
        })
        .collect();
    wit::log(level, message, &fields);
}

/// Emits a trace record.
pub fn trace(message: &str, fields: &[(&str, &str)]) {
    log(Level::Trace, message, fields);
}

/// Emits a debug record.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields);
}

/// Emits an info record.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields);
}

/// Emits a warning record.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields);
}

/// Emits an error record.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    log(Level::Error, message, fields);
}
