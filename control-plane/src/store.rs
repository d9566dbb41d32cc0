//! Placeholder: filled in by the store and audit work.
