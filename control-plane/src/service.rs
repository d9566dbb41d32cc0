//! Start-up: state directory, listener, shutdown.

pub(crate) mod files;
