//! The proof-carrying wrapper returned by every verifier.

use core::ops::Deref;

/// A value that a verifier in this crate has checked.
///
/// There is no public constructor: the only way to obtain a `Verified<T>` is to
/// call one of this crate's `verify` functions and have it succeed. Code that
/// releases secrets or capabilities should take `&Verified<Claims>` so that the
/// type system rules out passing claims that were merely parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// Wraps a value that has just been verified. Only verifiers may call this.
    pub(crate) fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the verified value.
    #[must_use]
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Gives up the proof and returns the plain value.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.0
    }

    /// Maps a verified value to a part of it, keeping the proof. Only this crate
    /// may do so, because an arbitrary function could forge content.
    #[allow(dead_code, reason = "used by the policy layers as they are added")]
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Verified<U> {
        Verified(f(self.0))
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
