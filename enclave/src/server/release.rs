//! `Request::Release`: install the secrets the control plane sealed to the
//! enclave key.
//!
//! 1. Parse the bundle with its bounds (`bundle_too_large`, `bundle_malformed`).
//! 2. Open every entry with the enclave key, or none (`bundle_tampered`), on
//!    the blocking pool: each entry is an HPKE open.
//! 3. Refuse it if it has expired (`bundle_expired`, judged on the
//!    authenticated `expires_at`), a capability token does not verify under
//!    the capability root or was minted for another plugin (`invalid_token`),
//!    or it names a plugin that is not loaded (`unknown_plugin`); otherwise
//!    replace the whole secret table and the tokens.
//! 4. Answer with the names each plugin now holds, plugins in load order.
//!
//! A refused release leaves the previous table in force. The log records the
//! session, the expiry and the names, never a value.

use std::sync::Arc;

use enclet_protocol::{PluginToken, Released, ReleasedPlugin, Response};
use enclet_sealed::SealedBundle;

use super::Server;
use crate::Error;

/// Handles `Request::Release { bundle }` (steps 1–4 of the module docs).
pub(super) async fn release(
    server: &Arc<Server>,
    bundle: Vec<u8>,
    tokens: Vec<PluginToken>,
) -> Result<Response, Error> {
    let result = install(server, &bundle, tokens).await;
    if let Err(e) = &result {
        tracing::warn!(code = e.code(), reason = %e, "release refused: previous secrets stay");
    }
    result
}

async fn install(
    server: &Arc<Server>,
    bundle: &[u8],
    tokens: Vec<PluginToken>,
) -> Result<Response, Error> {
    // Step 1: parse.
    let sealed = SealedBundle::from_bytes(bundle)?;
    // Step 2: open, all or nothing.
    let held = Arc::clone(server);
    let opened = tokio::task::spawn_blocking(move || held.key.open(&sealed))
        .await
        .map_err(|e| Error::Internal(format!("open task: {e}")))??;
    let session = hex::encode(opened.session);
    // Step 3: expiry, tokens, plugins, replace.
    let installed = server
        .runtime
        .install_secrets(opened, tokens, server.key.public_key())?;
    tracing::info!(
        %session,
        expires_at = installed.expires_at,
        plugins = installed.plugins.len(),
        "secrets released"
    );
    for grant in &installed.plugins {
        tracing::info!(
            %session,
            measurement = %grant.measurement,
            secrets = ?grant.names,
            "plugin secrets released"
        );
    }
    // Step 4: names only.
    Ok(Response::Released(Released {
        expires_at: installed.expires_at,
        plugins: installed
            .plugins
            .into_iter()
            .map(|g| ReleasedPlugin {
                measurement: g.measurement,
                secrets: g.names,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests;
