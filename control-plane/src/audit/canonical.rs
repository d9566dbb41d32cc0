//! Canonical JSON: compact, object keys sorted by their bytes at every level.
//!
//! Written by hand rather than relying on `serde_json::Map` ordering, which
//! follows insertion order when any crate in the build enables `serde_json`'s
//! `preserve_order` feature.

use std::fmt::Write as _;

use serde_json::Value;

/// Why a value has no canonical form here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Arrays and objects nest deeper than allowed.
    #[error("JSON nested too deeply")]
    TooDeep,
}

/// `value` as canonical JSON; arrays and objects may nest `max_depth` levels.
pub(crate) fn to_string(value: &Value, max_depth: usize) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write(value, max_depth, &mut out)?;
    Ok(out)
}

fn write(value: &Value, depth_left: usize, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            let depth_left = depth_left.checked_sub(1).ok_or(CanonicalError::TooDeep)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, depth_left, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let depth_left = depth_left.checked_sub(1).ok_or(CanonicalError::TooDeep)?;
            let mut fields: Vec<_> = map.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(key, out);
                out.push(':');
                write(item, depth_left, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string literal with `serde_json`'s escaping.
fn write_str(s: &str, out: &mut String) {
    // Serializing a `str` cannot fail; `Value::String` gives the same bytes.
    out.push_str(&Value::String(s.to_owned()).to_string());
}
