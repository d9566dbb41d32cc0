//! Placeholder: filled in by the service work.
