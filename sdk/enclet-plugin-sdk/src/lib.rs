//! # enclet-plugin-sdk
//!
//! Write an enclet plugin in Rust. A plugin is a WebAssembly component of the
//! `enclet:plugin@0.1.0` world (`sdk/wit/plugin.wit`): it exports
//! `handle(input) -> result<output, string>` and may import structured logging.
//!
//! ```ignore
//! struct Upper;
//!
//! impl enclet_plugin_sdk::Plugin for Upper {
//!     fn handle(input: Vec<u8>) -> Result<Vec<u8>, String> {
//!         enclet_plugin_sdk::log::info("uppercasing", &[("bytes", &input.len().to_string())]);
//!         Ok(input.to_ascii_uppercase())
//!     }
//! }
//!
//! enclet_plugin_sdk::export_plugin!(Upper);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and a
//! `crate-type = ["cdylib"]` library.
//!
//! ## What a plugin can and cannot do
//!
//! Each call runs in a fresh instance: no state survives between calls. The
//! enclave links no WASI: reading files, the clock, the environment, stdio or
//! the network fails the call as a trap. A panic also fails the call as a
//! trap; the SDK's panic hook first sends the panic message to the enclave log
//! (the default hook would write to stderr, which is not available).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "enclet_plugin_sdk::bindings",
    });
}

pub mod log;

use std::sync::Once;

/// A plugin: one request in, one response or error out.
pub trait Plugin {
    /// Handles one request. The `Err` string is shown to the caller as a plugin
    /// error.
    ///
    /// # Errors
    ///
    /// Whatever the plugin considers a bad request.
    fn handle(input: Vec<u8>) -> Result<Vec<u8>, String>;
}

/// Runs `P::handle` after making sure panics are reported to the enclave log.
#[doc(hidden)]
pub fn run<P: Plugin>(input: Vec<u8>) -> Result<Vec<u8>, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            log::error("plugin panicked", &[("panic", &info.to_string())]);
        }));
    });
    P::handle(input)
}

/// Exports a type implementing [`Plugin`] as the component's `handle`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            struct EncletExport;

            impl $crate::bindings::Guest for EncletExport {
                fn handle(input: ::std::vec::Vec<u8>) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::run::<$plugin>(input)
                }
            }

            $crate::bindings::export!(EncletExport);
        };
    };
}
