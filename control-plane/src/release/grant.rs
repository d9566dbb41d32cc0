//! Steps 5 and 6: the granted secrets sealed to the enclave, the audit
//! entries that record the release, and the answer.

use enclet_attestation::Measurement;
use enclet_capability::{MintedToken, TokenGrant, mint};
use enclet_control_plane_api::{Hex, PluginRelease, Release};
use enclet_sealed::{SealedBundle, SealedSecret, seal};
use serde_json::{Value, json};

use crate::api::ApiError;
use crate::audit::{AuditEvent, AuditKind};
use crate::policy::Decision;
use crate::service::ServiceState;
use crate::store::SessionId;
use crate::verify::VerifiedEnclave;

/// What one plugin received.
pub(super) struct PluginGrant {
    /// `(name, version)` of each sealed secret.
    pub(super) sealed: Vec<(String, u64)>,
    /// Granted names absent from the store.
    pub(super) missing: Vec<String>,
    /// The capabilities its token grants, and the token (allowed plugins).
    pub(super) capabilities: Vec<String>,
    pub(super) token: Option<MintedToken>,
}

/// Every plugin's grant (in decision order) and the sealed values.
pub(super) struct Granted {
    pub(super) plugins: Vec<PluginGrant>,
    pub(super) secrets: Vec<SealedSecret>,
}

/// Step 5: reads each granted secret and seals it to the attested key.
pub(super) fn seal_granted(
    state: &ServiceState,
    id: SessionId,
    enclave: &VerifiedEnclave,
    decision: &Decision,
    expires_at: u64,
    token_expires_at: u64,
) -> Result<Granted, ApiError> {
    let key =
        enclave.claims.public_key.as_deref().ok_or_else(|| {
            ApiError::new("evidence_rejected", "the evidence binds no public key")
        })?;
    let mut granted = Granted {
        plugins: Vec::with_capacity(decision.plugins.len()),
        secrets: Vec::new(),
    };
    for plugin in &decision.plugins {
        let mut grant = PluginGrant {
            sealed: Vec::new(),
            missing: Vec::new(),
            capabilities: Vec::new(),
            token: None,
        };
        if plugin.allow {
            grant.capabilities = capabilities(plugin);
            let token = mint(
                state.issuer.key(),
                &TokenGrant {
                    plugin: &plugin.measurement.to_hex(),
                    enclave_key: key,
                    capabilities: &grant.capabilities,
                    expires_at: token_expires_at,
                },
            )
            .map_err(|e| ApiError::internal(&format!("minting a capability token: {e}")))?;
            grant.token = Some(token);
        }
        for name in plugin.secrets.iter().filter(|_| plugin.allow) {
            let Some((info, value)) = state.store.secret(name)? else {
                tracing::warn!(secret = %name, plugin = %plugin.measurement, "granted secret is not in the store");
                grant.missing.push(name.clone());
                continue;
            };
            let sealed = seal(
                key,
                &id.0,
                expires_at,
                &plugin.measurement,
                name,
                value.expose(),
            )
            .map_err(|e| match e {
                enclet_sealed::Error::InvalidPublicKey => ApiError::new(
                    "evidence_rejected",
                    "the attested public key is not an X25519 key",
                ),
                other => ApiError::internal(&format!("sealing {name:?}: {other}")),
            })?;
            granted.secrets.push(sealed);
            grant.sealed.push((info.name, info.version));
        }
        granted.plugins.push(grant);
    }
    Ok(granted)
}

/// What an allowed plugin's token grants: the policy's capabilities and a
/// `secret:NAME` per granted secret whose name a token can carry (others are
/// left out, and logged: the plugin cannot read them).
fn capabilities(plugin: &crate::policy::PluginDecision) -> Vec<String> {
    let mut out = plugin.capabilities.clone();
    for name in &plugin.secrets {
        let capability = format!("secret:{name}");
        if capability.parse::<enclet_manifest::Capability>().is_ok() {
            out.push(capability);
        } else {
            tracing::warn!(secret = %name, plugin = %plugin.measurement, "granted secret name cannot be a capability: the plugin cannot read it");
        }
    }
    out
}

fn measurements(m: &[Measurement]) -> Value {
    Value::Array(m.iter().map(|m| Value::String(m.to_hex())).collect())
}

/// Step 6: the entries that record an allowed release (never a value).
pub(super) fn audit_events(
    now: u64,
    id: SessionId,
    peer: &str,
    enclave: &VerifiedEnclave,
    decision: &Decision,
    granted: &Granted,
    expires_at: u64,
) -> Vec<AuditEvent> {
    let claims = enclave.claims.get();
    let event = |kind, detail| ServiceState::event(now, kind, Some(&id), peer, detail);
    let mut events = vec![event(
        AuditKind::Verdict,
        json!({
            "outcome": "allowed",
            "evidence": claims.evidence,
            "trust_basis": claims.trust_basis.as_str(),
            "image": claims.image.as_deref().map(hex::encode),
            "plugins": claims.plugins.replayed().map(measurements),
            "debug": enclave.debug,
            "enclave_rule": decision.enclave.rule,
            "expires_at": expires_at,
        }),
    )];
    for plugin in &decision.plugins {
        events.push(event(
            AuditKind::PolicyDecision,
            json!({
                "measurement": plugin.measurement.to_hex(),
                "name": plugin.name,
                "allow": plugin.allow,
                "rule": plugin.rule,
                "secrets": plugin.secrets,
            }),
        ));
    }
    for (plugin, grant) in decision.plugins.iter().zip(&granted.plugins) {
        if grant.sealed.is_empty() && grant.missing.is_empty() && grant.token.is_none() {
            continue;
        }
        let secrets: Vec<Value> = grant
            .sealed
            .iter()
            .map(|(name, version)| json!({"name": name, "version": version}))
            .collect();
        events.push(event(
            AuditKind::Release,
            json!({
                "measurement": plugin.measurement.to_hex(),
                "secrets": secrets,
                "missing": grant.missing,
                "expires_at": expires_at,
                "capabilities": grant.capabilities,
                "token_id": grant.token.as_ref().map(|t| t.id.as_str()),
            }),
        ));
    }
    events
}

/// The answer: per plugin what was sealed, and the bundle.
pub(super) fn answer(
    id: SessionId,
    expires_at: u64,
    decision: &Decision,
    granted: Granted,
) -> Result<Release, ApiError> {
    let plugins = decision
        .plugins
        .iter()
        .zip(&granted.plugins)
        .map(|(plugin, grant)| PluginRelease {
            measurement: plugin.measurement.to_hex(),
            name: plugin.name.clone(),
            rule: plugin.rule.clone(),
            secrets: grant.sealed.iter().map(|(n, _)| n.clone()).collect(),
            capabilities: grant.capabilities.clone(),
            token: grant.token.as_ref().map(|t| Hex(t.bytes.clone())),
            token_id: grant.token.as_ref().map(|t| t.id.clone()),
        })
        .collect();
    let bundle = SealedBundle::new(id.0, expires_at, granted.secrets)
        .map_err(|e| ApiError::internal(&format!("bundle: {e}")))?;
    Ok(Release {
        session: id.to_string(),
        expires_at,
        plugins,
        bundle: Hex(bundle.to_bytes()),
    })
}
