//! Registering descriptors with the reactor: the crate's only `unsafe` code.
//!
//! Tokio's registration is `unsafe` because the reactor keeps the raw
//! descriptor number: the descriptor must stay open and refer to the same file
//! description for as long as it is registered. Two things make that hold here:
//!
//! * [`OwnsFd`] is an `unsafe trait`: an implementor promises that, read
//!   through a shared reference, its descriptor is open, owned by it and the
//!   same for its whole life. It is crate-private, implemented only below.
//! * [`Registered`] holds the registration and hands out shared access only.
//!   Tokio's `AsyncFd` itself offers `get_mut` (and `*_mut` variants), through
//!   which safe code could swap the owner for another one and leave the
//!   reactor watching a closed (or reused) descriptor number; `Registered`
//!   exposes none of them, so the promise cannot be broken after
//!   registration.

use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::RawSocket;

/// Something whose raw descriptor is valid, owned and unchanging for as long
/// as it lives: safe to hand to the reactor.
///
/// # Safety
/// Every call to `as_raw_fd` on a value (through a shared reference) returns
/// the same descriptor, open and owned by the value, until the value is
/// dropped.
#[allow(unsafe_code, reason = "the promise registration relies on")]
pub(crate) unsafe trait OwnsFd: AsRawFd {}

// SAFETY: an `OwnedFd` owns its descriptor and closes it only on drop; without
// `&mut` access (see `Registered`) nothing replaces it.
#[allow(unsafe_code, reason = "promise of the registration contract")]
unsafe impl OwnsFd for OwnedFd {}

// SAFETY: a `VsockListener` owns its socket and closes it only on drop; it has
// no method that changes its descriptor through `&self`.
#[allow(unsafe_code, reason = "promise of the registration contract")]
unsafe impl OwnsFd for vsock::VsockListener {}

/// A connected socket shared with its writer, as the reactor sees it.
pub(crate) struct SocketFd(pub(crate) Arc<dyn RawSocket>);

impl AsRawFd for SocketFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

// SAFETY: `RawSocket` is sealed to `UnixStream` and `VsockStream`, which own
// their descriptor and never change it through `&self`; the `Arc` keeps the
// socket alive while this value lives, and the field is never reassigned
// (the value is only ever reached through `Registered`).
#[allow(unsafe_code, reason = "promise of the registration contract")]
unsafe impl OwnsFd for SocketFd {}

/// A descriptor registered with the reactor, usable through shared references
/// only.
///
/// It dereferences to Tokio's `AsyncFd` for waiting on readiness and doing
/// I/O with `&T`; there is no way to get `&mut T`, the `AsyncFd` itself, or
/// `T` back out, so the registered descriptor cannot be replaced:
///
/// ```
/// # use enclet_protocol::{Transport, VsockTransport};
/// # use std::os::fd::AsRawFd;
/// fn peek(listener: &<VsockTransport as Transport>::Listener) -> i32 {
///     listener.get_ref().as_raw_fd()
/// }
/// ```
///
/// ```compile_fail
/// # use enclet_protocol::{Transport, VsockTransport};
/// fn swap(listener: &mut <VsockTransport as Transport>::Listener, other: vsock::VsockListener) {
///     *listener.get_mut() = other;
/// }
/// ```
///
/// ```compile_fail
/// # use enclet_protocol::{Transport, VsockTransport};
/// fn swap(listener: &mut <VsockTransport as Transport>::Listener, other: vsock::VsockListener) {
///     let _ = listener.try_io_mut(tokio::io::Interest::READABLE, |l| {
///         *l = other;
///         Ok(())
///     });
/// }
/// ```
pub struct Registered<T: AsRawFd> {
    fd: AsyncFd<T>,
}

impl<T: AsRawFd> std::fmt::Debug for Registered<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl<T: AsRawFd> Deref for Registered<T> {
    type Target = AsyncFd<T>;

    fn deref(&self) -> &AsyncFd<T> {
        &self.fd
    }
}

/// Registers `owner`'s descriptor with the current reactor for `interest`.
///
/// # Errors
/// The OS error from the registration.
#[allow(unsafe_code, reason = "the reactor's registration API is unsafe")]
pub(crate) fn register<T: OwnsFd>(owner: T, interest: Interest) -> io::Result<Registered<T>> {
    // SAFETY: `T: OwnsFd` promises the descriptor is open, owned by `owner`
    // and the same on every `as_raw_fd` through `&T`. `Registered` owns the
    // `AsyncFd` (which owns `owner`) and gives out only `&AsyncFd<T>`, whose
    // methods reach `&T` alone: the owner can be neither replaced nor taken
    // out while it is registered.
    let fd = unsafe { AsyncFd::register_with_interest(owner, interest) }?;
    Ok(Registered { fd })
}
