//! The query of `POST /v1/plugins`: the plugin's name and optional limits.
//!
//! ```text
//! POST /v1/plugins?name=N[&fuel=N][&deadline_ms=N][&max_memory_bytes=N]
//!                  [&max_table_elements=N][&max_input_bytes=N][&max_output_bytes=N]
//! ```
//!
//! Each limit parameter has the name of its JSON field in `GET /v1/plugins`.
//! The parameters map straight to the wire's [`LimitsRequest`]: only the
//! limits given are sent (none at all: `limits` absent), and the enclave fills
//! the others from its own configured defaults, so a request that sets one
//! limit changes only that one and the parent never needs to know the
//! defaults. The parent only parses: the enclave checks the values (zero
//! where zero is meaningless, above its hard maxima) and answers
//! `invalid_limits`, so the rules live in one place.
//!
//! Rejections, all 400: `invalid_name` for a missing name, `invalid_limits`
//! for a limit that is not a decimal `u64`, `invalid_request` for an unknown
//! or repeated parameter (a misspelt limit must not be silently ignored).

use axum::http::StatusCode;
use enclet_protocol::LimitsRequest;

use super::ApiError;

/// The limit parameters, in the order of the JSON fields.
pub(crate) const LIMIT_PARAMS: [&str; 6] = [
    "fuel",
    "deadline_ms",
    "max_memory_bytes",
    "max_table_elements",
    "max_input_bytes",
    "max_output_bytes",
];

/// A parsed load query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadQuery {
    /// The requested name (checked by the caller).
    pub(crate) name: String,
    /// The limits given; `None` when none was: the enclave's defaults apply.
    pub(crate) limits: Option<LimitsRequest>,
}

/// Parses the decoded query pairs of a load request.
pub(crate) fn parse(pairs: Vec<(String, String)>) -> Result<LoadQuery, ApiError> {
    let mut name = None;
    let mut given: [Option<u64>; LIMIT_PARAMS.len()] = [None; LIMIT_PARAMS.len()];
    for (key, value) in pairs {
        if key == "name" {
            if name.replace(value).is_some() {
                return Err(repeated("name"));
            }
            continue;
        }
        let Some((index, param)) = LIMIT_PARAMS.iter().enumerate().find(|(_, p)| **p == key) else {
            return Err(unknown(&key));
        };
        let parsed = parse_limit(param, &value)?;
        match given.get_mut(index) {
            Some(slot @ None) => *slot = Some(parsed),
            _ => return Err(repeated(param)),
        }
    }
    let name = name.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            "expected ?name=NAME",
        )
    })?;
    let [
        fuel,
        deadline_ms,
        max_memory_bytes,
        max_table_elements,
        max_input_bytes,
        max_output_bytes,
    ] = given;
    let limits = LimitsRequest {
        fuel,
        deadline_ms,
        max_memory_bytes,
        max_table_elements,
        max_input_bytes,
        max_output_bytes,
    };
    let limits = (!limits.is_empty()).then_some(limits);
    Ok(LoadQuery { name, limits })
}

/// A decimal `u64`: digits only (no sign, no spaces, no exponent).
fn parse_limit(param: &str, value: &str) -> Result<u64, ApiError> {
    let shown: String = value.chars().take(32).collect();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limits",
            format!("{param} must be a decimal integer, got {shown:?}"),
        ));
    }
    value.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limits",
            format!("{param} is {shown}, more than {}", u64::MAX),
        )
    })
}

fn unknown(key: &str) -> ApiError {
    let shown: String = key.chars().take(32).collect();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!(
            "unknown query parameter {shown:?}; expected name and optionally {}",
            LIMIT_PARAMS.join(", ")
        ),
    )
}

fn repeated(param: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!("query parameter {param} given more than once"),
    )
}

#[cfg(test)]
mod tests;
