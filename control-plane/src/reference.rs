//! Placeholder: filled in by the policy and verification work.
