//! Tests of the runtime against real plugins built from `sdk/`.
