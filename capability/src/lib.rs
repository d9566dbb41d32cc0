//! Capability tokens: least privilege for plugins, enforced in the enclave.
//!
//! ```text
//!  control plane                                  enclave
//!  ─────────────                                  ───────
//!  policy grants plugin P {log, secret:k}
//!  mint(root key, P, attested enclave key, ttl) ─▶ Release (through the parent)
//!                                                  CapabilityToken::parse(bytes, root public key)
//!                                                  every gated host call:
//!                                                    authorize(P, own key, capability, now)
//!                                                    → Ok | Denied | Expired
//! ```
//!
//! * **Format**: [Biscuit](https://www.biscuitsec.org) v3 tokens, Ed25519
//!   signed. A token names one plugin measurement and one enclave key, so a
//!   token for plugin A is useless to plugin B, and one for another enclave
//!   is useless here. See [`token`] for the Datalog.
//! * **Keys** ([`key`]): the control plane holds the [`RootKey`]; the enclave
//!   holds only the [`RootPublicKey`], as part of its measured
//!   configuration, so an attested enclave checks tokens against exactly the
//!   key its verifier expects.
//! * **Attenuation**: a holder may append blocks; they can only narrow
//!   (extra checks), never widen (their facts are not trusted).
//! * **Pure**: time is a parameter; no I/O.
//! * **Bounded**: tokens at most [`MAX_TOKEN_BYTES`], Datalog under
//!   [`RUN_LIMITS`].

#![forbid(unsafe_code)]

mod error;
pub mod key;
pub mod revocation;
pub mod token;

pub use error::CapabilityError;
pub use key::{RootKey, RootPublicKey};
pub use revocation::{RevocationKind, Revocations};
pub use token::{
    CallContext, CapabilityToken, MAX_TOKEN_BYTES, MintedToken, RUN_LIMITS, TokenGrant, mint,
};
