//! Request dispatch: one [`Request`] in, one [`Response`] out.

use std::sync::Arc;

use enclet_protocol::{
    ErrorBody, Health, LoadResult, PROTOCOL_VERSION, PluginInfo, Request, Response,
};

use super::{Server, attest, lifecycle, provenance, release, revoke};
use crate::Error;
use crate::runtime::{self, Compiled, InvokeError, Limits, Loaded};
use enclet_attestation::event_log::SignedLoad;

/// Handles one request; failures become [`Response::Error`] with a stable code.
pub(super) async fn handle(server: &Arc<Server>, request: Request) -> Response {
    let result = match request {
        Request::Load {
            name,
            component,
            limits,
            signed,
        } => {
            // Publisher checks come before anything is compiled.
            match provenance::check(&server.config.publisher_keys, signed.as_ref(), &component) {
                Err(e) => Err(e),
                Ok(provenance) => {
                    // Limits left out of the request take the manifest's, then
                    // this enclave's defaults; the runtime then checks the
                    // result against its hard maxima.
                    let limits = match &provenance {
                        Some(p) => provenance::limits(limits, &p.limits),
                        None => limits,
                    };
                    let defaults = server.runtime.config().default_limits;
                    let limits = limits.map(|partial| defaults.overlay(&partial));
                    let signed = provenance.map(|p| (p.load, p.capabilities));
                    load(server, name, component, limits, signed).await
                }
            }
        }
        Request::Invoke { plugin, input } => {
            // As `dispatch::route` does: the quota first.
            match server.runtime.admit(&plugin) {
                Err(e) => return invoked(Err(e)),
                Ok(Some(throttle)) => throttle.let_in().await,
                Ok(None) => {}
            }
            return invoked(server.runtime.invoke(&plugin, input).await);
        }
        Request::ListPlugins => Ok(Response::Plugins(
            server.runtime.plugins().iter().map(info_to_wire).collect(),
        )),
        Request::Unload { plugin } => lifecycle::unload(server, plugin).await,
        Request::SetLimits { plugin, limits } => lifecycle::set_limits(server, &plugin, &limits),
        Request::Attest { nonce } => attest::attest(server, nonce).await,
        Request::Identity => attest::identity(server).await,
        Request::ActivateCredential {
            id_object,
            encrypted_secret,
        } => attest::activate_credential(server, id_object, encrypted_secret).await,
        Request::Health => Ok(health(server)),
        Request::Release { bundle, tokens } => release::release(server, bundle, tokens).await,
        Request::Revoke { list } => revoke::revoke(server, &list).await,
    };
    result.unwrap_or_else(|e| failed(&e))
}

/// The response to an invocation.
pub(super) fn invoked(result: Result<Vec<u8>, InvokeError>) -> Response {
    result.map_or_else(|e| failed(&Error::from(e)), Response::Output)
}

fn failed(e: &Error) -> Response {
    tracing::debug!(code = e.code(), reason = %e, "request failed");
    Response::Error(ErrorBody::new(e.code(), e.to_string()))
}

/// Compiles outside any lock, then — under the event-log lock — measures the
/// plugin, logs it and only then registers it. A failure before registration
/// leaves nothing invocable, and a plugin already registered has been recorded.
async fn load(
    server: &Arc<Server>,
    name: String,
    component: Vec<u8>,
    limits: Option<Limits>,
    signed: Option<(SignedLoad, Vec<String>)>,
) -> Result<Response, Error> {
    let runtime = Arc::clone(&server.runtime);
    // Compilation takes tens of milliseconds or more and much memory: keep it
    // off the executor, a bounded number at a time. Wait for the runtime's
    // compile permit here, without a thread; the runtime holds it for exactly
    // as long as the compilation runs, even past its timeout.
    let permit = runtime.compile_permit().await?;
    let compiled = tokio::task::spawn_blocking(move || {
        runtime.compile_with_permit(permit, &name, &component, limits)
    })
    .await
    .map_err(|e| Error::Internal(format!("compile task: {e}")))??;
    let loaded = match compiled {
        Compiled::Existing(info) => Loaded {
            info,
            newly_loaded: false,
        },
        Compiled::New(prepared) => match signed {
            Some((load, requested)) => {
                let prepared = prepared.with_requested_capabilities(requested);
                lifecycle::record_and_commit(server, prepared, Some(load)).await?
            }
            None => lifecycle::record_and_commit(server, prepared, None).await?,
        },
    };
    Ok(Response::Loaded(LoadResult {
        info: info_to_wire(&loaded.info),
        newly_loaded: loaded.newly_loaded,
    }))
}

fn health(server: &Server) -> Response {
    Response::Health(Health {
        protocol_version: PROTOCOL_VERSION,
        plugins: u64::try_from(server.runtime.plugins().len()).unwrap_or(u64::MAX),
        attester: server.attester.as_ref().map(|a| a.name().to_owned()),
        invocations_running: u64::from(server.runtime.running_invocations()),
        uptime_ms: u64::try_from(server.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

pub(super) fn info_to_wire(info: &runtime::PluginInfo) -> PluginInfo {
    PluginInfo {
        name: info.name.clone(),
        measurement: info.measurement,
        size_bytes: info.size_bytes,
        limits: info.limits.into(),
    }
}

#[cfg(test)]
mod tests;
