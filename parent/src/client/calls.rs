//! The typed calls: one method per request, each checking the answer's kind.

use enclet_attestation::Measurement;
use enclet_protocol::{
    AttesterIdentity, Enforced, Evidence, Health, Limits, LimitsRequest, LoadResult, PluginInfo,
    PluginToken, Released, Request, Response,
};

use super::EnclaveClient;
use crate::Error;

impl EnclaveClient {
    /// Loads a plugin component.
    ///
    /// # Errors
    /// [`Error::Enclave`] with the enclave's reason (e.g. `invalid_component`),
    /// or a connection error.
    pub async fn load(
        &self,
        name: &str,
        component: Vec<u8>,
        limits: Option<Limits>,
    ) -> Result<LoadResult, Error> {
        let request = Request::Load {
            name: name.to_owned(),
            component,
            limits: limits.map(Into::into),
            signed: None,
        };
        match self.request(&request).await? {
            Response::Loaded(r) => Ok(r),
            other => unexpected("loaded", other),
        }
    }

    /// Invokes a loaded plugin.
    ///
    /// # Errors
    /// [`Error::Enclave`] with the reason the invocation failed (e.g.
    /// `out_of_fuel`, `unknown_plugin`), or a connection error.
    pub async fn invoke(&self, plugin: Measurement, input: Vec<u8>) -> Result<Vec<u8>, Error> {
        match self.request(&Request::Invoke { plugin, input }).await? {
            Response::Output(out) => Ok(out),
            other => unexpected("output", other),
        }
    }

    /// Lists loaded plugins.
    ///
    /// # Errors
    /// A connection error.
    pub async fn plugins(&self) -> Result<Vec<PluginInfo>, Error> {
        match self.request(&Request::ListPlugins).await? {
            Response::Plugins(p) => Ok(p),
            other => unexpected("plugins", other),
        }
    }

    /// Unloads a plugin; answers once the calls already running on it have
    /// finished and the unload is in the event log.
    ///
    /// # Errors
    /// [`Error::Enclave`] with `unknown_plugin` if it is not loaded, or a
    /// connection error.
    pub async fn unload(&self, plugin: Measurement) -> Result<PluginInfo, Error> {
        match self.request(&Request::Unload { plugin }).await? {
            Response::Unloaded(p) => Ok(p),
            other => unexpected("unloaded", other),
        }
    }

    /// Changes the limits of a loaded plugin (those given; the others stay).
    ///
    /// # Errors
    /// [`Error::Enclave`] with `unknown_plugin` or `invalid_limits`, or a
    /// connection error.
    pub async fn set_limits(
        &self,
        plugin: Measurement,
        limits: LimitsRequest,
    ) -> Result<PluginInfo, Error> {
        match self.request(&Request::SetLimits { plugin, limits }).await? {
            Response::LimitsSet(p) => Ok(p),
            other => unexpected("limits_set", other),
        }
    }

    /// Asks the enclave for its health summary.
    ///
    /// # Errors
    /// A connection error.
    pub async fn health(&self) -> Result<Health, Error> {
        match self.request(&Request::Health).await? {
            Response::Health(h) => Ok(h),
            other => unexpected("health", other),
        }
    }
}

/// An enclave's answer to an attestation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The attester's evidence.
    pub evidence: Evidence,
    /// The canonical plugin event log the evidence binds.
    pub event_log: Vec<u8>,
    /// The enclave's public key the evidence binds.
    pub public_key: Vec<u8>,
}

impl EnclaveClient {
    /// Asks for the attester's identity (the keys a verifier trusts first).
    ///
    /// # Errors
    /// [`Error::Enclave`] with `no_attester` or `unsupported`, or a connection error.
    pub async fn identity(&self) -> Result<AttesterIdentity, Error> {
        match self.request(&Request::Identity).await? {
            Response::Identity(i) => Ok(i),
            other => unexpected("identity", other),
        }
    }

    /// Asks the attester to release the secret of a credential.
    ///
    /// # Errors
    /// [`Error::Enclave`] with `credential_rejected`, `invalid_request`,
    /// `no_attester` or `unsupported`, or a connection error.
    pub async fn activate_credential(
        &self,
        id_object: Vec<u8>,
        encrypted_secret: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        let request = Request::ActivateCredential {
            id_object,
            encrypted_secret,
        };
        match self.request(&request).await? {
            Response::CredentialActivated { secret } => Ok(secret),
            other => unexpected("credential activated", other),
        }
    }

    /// Asks for evidence bound to `nonce`.
    ///
    /// # Errors
    /// [`Error::Enclave`] with `no_attester` or `invalid_request` (nonce
    /// length), or a connection error.
    pub async fn attest(&self, nonce: Vec<u8>) -> Result<Attestation, Error> {
        match self.request(&Request::Attest { nonce }).await? {
            Response::Attestation {
                evidence,
                event_log,
                public_key,
            } => Ok(Attestation {
                evidence,
                event_log,
                public_key,
            }),
            other => unexpected("attestation", other),
        }
    }

    /// Hands the enclave the control plane's signed revocation list.
    ///
    /// # Errors
    /// [`Error::Enclave`] with `invalid_revocation`, `stale_revocation_list`
    /// or `no_capability_root`, or a connection error.
    pub async fn revoke(&self, list: Vec<u8>) -> Result<Enforced, Error> {
        match self.request(&Request::Revoke { list }).await? {
            Response::Enforced(e) => Ok(e),
            other => unexpected("enforced", other),
        }
    }

    /// Hands the enclave a sealed release bundle (opaque bytes from the
    /// control plane) and the plugins' capability tokens; the enclave opens
    /// all of it or none.
    ///
    /// # Errors
    /// [`Error::Enclave`] with the enclave's reason when it refuses the
    /// bundle (the previous secrets stay in force), or a connection error.
    pub async fn release(
        &self,
        bundle: Vec<u8>,
        tokens: Vec<PluginToken>,
    ) -> Result<Released, Error> {
        match self.request(&Request::Release { bundle, tokens }).await? {
            Response::Released(r) => Ok(r),
            other => unexpected("released", other),
        }
    }
}

fn unexpected<T>(expected: &'static str, got: Response) -> Result<T, Error> {
    match got {
        Response::Error(body) => Err(Error::Enclave(body)),
        other => Err(Error::UnexpectedResponse {
            expected,
            got: format!("{other:?}").chars().take(80).collect(),
        }),
    }
}
