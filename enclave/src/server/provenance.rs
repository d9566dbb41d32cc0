//! Publisher signatures, checked before anything is compiled.
//!
//! An enclave started with publisher keys (`--publisher-key`, part of its
//! measured configuration) loads only plugins that come with a manifest
//! signed by one of them, pinning the exact component bytes. The checks run
//! in this order, each refusing with its own code before the component is
//! compiled or the event log touched:
//!
//! | check | code |
//! |---|---|
//! | a manifest and signature came with the load | `unsigned_plugin` |
//! | the manifest parses (schema, fields) | `invalid_manifest` |
//! | every capability is known | `unknown_capability` |
//! | this host serves the host API it targets | `unsupported_host_api` |
//! | the component's SHA-384 is the pinned one | `component_mismatch` |
//! | a configured publisher key verifies the signature | `untrusted_signature` |
//!
//! A verified load is recorded as a signed load (publisher key and manifest
//! digest in the event log). An enclave without publisher keys loads unsigned
//! components as before (development), and refuses signed ones it cannot
//! check (`untrusted_signature`) rather than record them as unsigned.

use enclet_attestation::event_log::SignedLoad;
use enclet_manifest::signature::verify_manifest;
use enclet_manifest::{ManifestError, ManifestLimits, PublicKey, UnverifiedManifest};
use enclet_protocol::{LimitsRequest, SignedManifest};

use crate::Error;

/// A verified publisher statement about a component.
#[derive(Debug, Clone)]
pub(super) struct Provenance {
    pub(super) load: SignedLoad,
    pub(super) limits: ManifestLimits,
    /// The capabilities the manifest requests: the most its calls may use.
    pub(super) capabilities: Vec<String>,
}

/// Runs the checks of the module docs.
pub(super) fn check(
    keys: &[PublicKey],
    signed: Option<&SignedManifest>,
    component: &[u8],
) -> Result<Option<Provenance>, Error> {
    let Some(signed) = signed else {
        return if keys.is_empty() {
            Ok(None)
        } else {
            Err(Error::Unsigned)
        };
    };
    let manifest = UnverifiedManifest::parse(&signed.manifest)?;
    manifest.check_host_api()?;
    manifest.check_component(component)?;
    let verified = keys
        .iter()
        .find_map(|key| verify_manifest(manifest.clone(), key, &signed.signature).ok())
        .ok_or(ManifestError::BadSignature)?;
    tracing::info!(
        plugin = verified.manifest().name(),
        version = %verified.manifest().version(),
        publisher_key = %hex::encode(verified.publisher_key()),
        "publisher signature verified"
    );
    Ok(Some(Provenance {
        load: SignedLoad {
            measurement: manifest.component(),
            publisher_key: verified.publisher_key(),
            manifest_digest: manifest.digest(),
        },
        limits: manifest.limits(),
        capabilities: manifest
            .capabilities()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }))
}

/// The operator's limits, with the manifest's filling in those not given.
pub(super) fn limits(
    operator: Option<LimitsRequest>,
    manifest: &ManifestLimits,
) -> Option<LimitsRequest> {
    let from_manifest = LimitsRequest {
        fuel: manifest.fuel,
        deadline_ms: manifest.deadline_ms,
        max_memory_bytes: manifest.max_memory_bytes,
        max_table_elements: manifest.max_table_elements,
        max_input_bytes: manifest.max_input_bytes,
        max_output_bytes: manifest.max_output_bytes,
    };
    let Some(o) = operator else {
        return (!from_manifest.is_empty()).then_some(from_manifest);
    };
    Some(LimitsRequest {
        fuel: o.fuel.or(from_manifest.fuel),
        deadline_ms: o.deadline_ms.or(from_manifest.deadline_ms),
        max_memory_bytes: o.max_memory_bytes.or(from_manifest.max_memory_bytes),
        max_table_elements: o.max_table_elements.or(from_manifest.max_table_elements),
        max_input_bytes: o.max_input_bytes.or(from_manifest.max_input_bytes),
        max_output_bytes: o.max_output_bytes.or(from_manifest.max_output_bytes),
    })
}
