//! One `log` call: read a record out of guest memory under the budget,
//! escape it, emit it.

use std::fmt::Write as _;

use wasmtime::component::{ComponentType, Lift, WasmList, WasmStr};
use wasmtime::{AsContext as _, StoreContextMut};

use super::budget::{MAX_FIELD_BYTES, MAX_FIELDS, MAX_MESSAGE_BYTES, Reader};
use super::{HostState, escape};
use crate::runtime::bindings::log::Level;

/// A `field` record as a view into guest memory: lifting it copies nothing.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(super) struct FieldView {
    key: WasmStr,
    value: WasmStr,
}

/// A record as the host keeps it: bounded and escaped.
#[derive(Debug, Default)]
struct Record {
    message: String,
    /// `key="value"` pairs separated by spaces.
    fields: String,
    dropped_fields: usize,
}

/// The host side of `log: func(level, message, fields)`.
///
/// # Errors
///
/// Only for what the canonical ABI forbids (a string that is not valid
/// UTF-8); the guest sees a trap. Bounds never make it fail.
pub(super) fn log(
    mut store: StoreContextMut<'_, HostState>,
    (level, message, fields): (Level, WasmStr, WasmList<FieldView>),
) -> wasmtime::Result<()> {
    store
        .data()
        .secrets
        .check_capability("log")
        .map_err(wasmtime::Error::new)?;
    let Some(mut reader) = store.data_mut().log.start_record() else {
        return Ok(());
    };
    let record = read(&mut store, &mut reader, &message, &fields)?;
    let state = store.data_mut();
    state.log.end_record(&reader, record.dropped_fields);
    emit(&state.label.name, &state.label.measurement, level, &record);
    Ok(())
}

/// Reads the message and as many fields as the bounds allow.
fn read(
    store: &mut StoreContextMut<'_, HostState>,
    reader: &mut Reader,
    message: &WasmStr,
    fields: &WasmList<FieldView>,
) -> wasmtime::Result<Record> {
    let mut record = Record {
        message: read_str(store, reader, message, MAX_MESSAGE_BYTES)?.unwrap_or_default(),
        ..Record::default()
    };
    let mut kept = 0;
    for index in 0..fields.len().min(MAX_FIELDS) {
        if !reader.may_read() {
            break;
        }
        let Some(field) = fields.get(&mut *store, index).transpose()? else {
            break;
        };
        let Some(key) = read_key(store, reader, &field.key)? else {
            break;
        };
        let Some(value) = read_str(store, reader, &field.value, MAX_FIELD_BYTES)? else {
            break;
        };
        if !record.fields.is_empty() {
            record.fields.push(' ');
        }
        record.fields.push_str(&key);
        record.fields.push_str("=\"");
        record.fields.push_str(&value);
        record.fields.push('"');
        kept += 1;
    }
    record.dropped_fields = fields.len().saturating_sub(kept);
    if record.dropped_fields > 0 {
        let sep = if record.fields.is_empty() { "" } else { " " };
        let dropped = record.dropped_fields;
        let _ = write!(record.fields, "{sep}(+{dropped} fields dropped)");
    }
    Ok(record)
}

/// Reads `text` if the call's budget allows, charging its full length, and
/// keeps at most `max` bytes of it, escaped. `None`: not read, budget spent.
fn read_str(
    store: &StoreContextMut<'_, HostState>,
    reader: &mut Reader,
    text: &WasmStr,
    max: usize,
) -> wasmtime::Result<Option<String>> {
    read_with(store, reader, text, |s| escape::bounded(s, max))
}

fn read_key(
    store: &StoreContextMut<'_, HostState>,
    reader: &mut Reader,
    text: &WasmStr,
) -> wasmtime::Result<Option<String>> {
    read_with(store, reader, text, |s| escape::key(s, MAX_FIELD_BYTES))
}

fn read_with(
    store: &StoreContextMut<'_, HostState>,
    reader: &mut Reader,
    text: &WasmStr,
    keep: impl FnOnce(&str) -> String,
) -> wasmtime::Result<Option<String>> {
    if !reader.may_read() {
        return Ok(None);
    }
    // UTF-8 (what every plugin built with the SDK uses) is validated in place
    // and borrowed; only other encodings are transcoded into a temporary.
    let full = text.to_str(store.as_context())?;
    reader.charge(full.len());
    Ok(Some(keep(&full)))
}

/// Writes `record` to the enclave log.
fn emit(name: &str, measurement: &str, level: Level, record: &Record) {
    let (message, fields) = (&record.message, &record.fields);
    macro_rules! emit {
        ($lvl:ident) => {
            tracing::$lvl!(
                target: "enclet::plugin",
                plugin = %name,
                %measurement,
                %fields,
                "{message}"
            )
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
