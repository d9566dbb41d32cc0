//! `echo`: returns its input unchanged. The trivial plugin: benchmarks use it
//! to measure the floor cost of an invocation.

/// The echo plugin.
pub struct Echo;

impl enclet_plugin_sdk::Plugin for Echo {
    fn handle(input: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(input)
    }
}

enclet_plugin_sdk::export_plugin!(Echo);
