//! The plugin manifest: schema, strict parsing and the component check.
//!
//! ```toml
//! schema = 1                      # this format; anything else is refused
//! name = "payout"                 # 1..=64 of [A-Za-z0-9._-]
//! version = "1.2.0"               # semver
//! publisher = "Acme Payments"     # 1..=128 printable ASCII characters
//! host_api = "0.1.0"              # the enclet:plugin WIT package version targeted
//! component_sha384 = "9f86…"      # SHA-384 of the component bytes, 96 hex
//! capabilities = ["log", "secret:payout-hmac-key"]
//!
//! [limits]                        # optional, each key optional (per invocation)
//! fuel = 1000000
//! deadline_ms = 500
//! max_memory_bytes = 16777216
//! max_output_bytes = 65536
//! # also max_input_bytes, max_table_elements
//! ```
//!
//! Unknown keys anywhere are errors naming them. The manifest is signed as
//! the exact bytes of the file, and its digest (SHA-384 of those bytes) is
//! what the enclave records, so re-serialising is never needed.

use enclet_attestation::Measurement;
use serde::Deserialize;
use sha2::{Digest, Sha384};

use crate::Capability;
use crate::ManifestError;
use crate::capability::truncated;

/// The host API version this build implements (`package enclet:plugin@…`).
pub const HOST_API_VERSION: &str = "0.1.0";

/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024;

/// The most capabilities one manifest may request.
pub const MAX_CAPABILITIES: usize = 64;

/// The schema version this crate reads.
const SCHEMA: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    schema: u32,
    name: String,
    version: String,
    publisher: String,
    host_api: String,
    component_sha384: String,
    capabilities: Vec<String>,
    #[serde(default)]
    limits: ManifestLimits,
}

/// The limits a manifest asks for; `None` leaves the enclave's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLimits {
    /// Fuel per invocation.
    pub fuel: Option<u64>,
    /// Wall-clock deadline per invocation, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Largest linear memory, in bytes.
    pub max_memory_bytes: Option<u64>,
    /// Largest table, in elements.
    pub max_table_elements: Option<u64>,
    /// Largest input, in bytes.
    pub max_input_bytes: Option<u64>,
    /// Largest output, in bytes.
    pub max_output_bytes: Option<u64>,
}

/// A parsed manifest whose signature has not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedManifest {
    bytes: Vec<u8>,
    name: String,
    version: semver::Version,
    publisher: String,
    host_api: semver::Version,
    component: Measurement,
    capabilities: Vec<Capability>,
    limits: ManifestLimits,
}

impl UnverifiedManifest {
    /// Parses manifest bytes (see the module docs for the rules).
    ///
    /// # Errors
    /// [`ManifestError::TooLarge`], [`ManifestError::Syntax`] (not UTF-8 TOML,
    /// unknown, missing or ill-typed keys), [`ManifestError::Field`] and
    /// [`ManifestError::UnknownCapability`] naming the field at fault.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                size: bytes.len(),
                max: MAX_MANIFEST_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ManifestError::Syntax(format!("not UTF-8: {e}")))?;
        let raw: Raw = toml::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        if raw.schema != SCHEMA {
            return Err(field(
                "schema",
                format!("{} is not a known schema (expected {SCHEMA})", raw.schema),
            ));
        }
        check_name(&raw.name)?;
        check_publisher(&raw.publisher)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            version: semver_field("version", &raw.version)?,
            host_api: semver_field("host_api", &raw.host_api)?,
            component: raw
                .component_sha384
                .parse()
                .map_err(|e| field("component_sha384", format!("{e}")))?,
            capabilities: capabilities(&raw.capabilities)?,
            limits: raw.limits,
            name: raw.name,
            publisher: raw.publisher,
        })
    }

    /// Refuses a host API version this build does not serve: the host's
    /// version must be semver-compatible with (caret) and not older than the
    /// version the plugin targets.
    ///
    /// # Errors
    /// [`ManifestError::UnsupportedHostApi`] naming both versions.
    pub fn check_host_api(&self) -> Result<(), ManifestError> {
        let wanted = &self.host_api;
        let supported = semver::Version::parse(HOST_API_VERSION)
            .map_err(|e| field("host_api", format!("this build's version: {e}")))?;
        let compatible = semver::VersionReq::parse(&format!("^{wanted}"))
            .is_ok_and(|req| req.matches(&supported));
        if compatible {
            Ok(())
        } else {
            Err(ManifestError::UnsupportedHostApi {
                wanted: wanted.to_string(),
                supported: HOST_API_VERSION,
            })
        }
    }

    /// Refuses component bytes whose SHA-384 is not the one pinned.
    ///
    /// # Errors
    /// [`ManifestError::ComponentMismatch`] naming both values.
    pub fn check_component(&self, component: &[u8]) -> Result<(), ManifestError> {
        let actual = Measurement::of_plugin(component);
        if actual == self.component {
            Ok(())
        } else {
            Err(ManifestError::ComponentMismatch {
                pinned: self.component.to_hex(),
                actual: actual.to_hex(),
            })
        }
    }

    /// The exact bytes parsed (the bytes a signature covers).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-384 of [`Self::bytes`].
    #[must_use]
    pub fn digest(&self) -> [u8; 48] {
        Sha384::digest(&self.bytes).into()
    }

    /// The plugin's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's version.
    #[must_use]
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// The publisher as the manifest names it (a label: the key is what counts).
    #[must_use]
    pub fn publisher(&self) -> &str {
        &self.publisher
    }

    /// The host API version targeted.
    #[must_use]
    pub fn host_api(&self) -> &semver::Version {
        &self.host_api
    }

    /// The component's pinned SHA-384.
    #[must_use]
    pub fn component(&self) -> Measurement {
        self.component
    }

    /// The capabilities requested, in manifest order, without duplicates.
    #[must_use]
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    /// The limits asked for.
    #[must_use]
    pub fn limits(&self) -> ManifestLimits {
        self.limits
    }
}

/// A manifest whose signature verified with a publisher key the caller
/// trusts; made only by [`crate::signature::verify_manifest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedManifest {
    manifest: UnverifiedManifest,
    publisher_key: [u8; 32],
}

impl VerifiedManifest {
    pub(crate) fn new(manifest: UnverifiedManifest, publisher_key: [u8; 32]) -> Self {
        Self {
            manifest,
            publisher_key,
        }
    }

    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &UnverifiedManifest {
        &self.manifest
    }

    /// SHA-256 of the DER SPKI of the key that signed it.
    #[must_use]
    pub fn publisher_key(&self) -> [u8; 32] {
        self.publisher_key
    }
}

fn field(field: &'static str, reason: String) -> ManifestError {
    ManifestError::Field { field, reason }
}

fn semver_field(name: &'static str, value: &str) -> Result<semver::Version, ManifestError> {
    semver::Version::parse(value).map_err(|e| {
        field(
            name,
            format!("{:?} is not a semantic version: {e}", truncated(value)),
        )
    })
}

fn check_name(name: &str) -> Result<(), ManifestError> {
    if crate::capability::valid_name(name) {
        Ok(())
    } else {
        Err(field(
            "name",
            format!(
                "{:?}: must be 1..=64 characters of [A-Za-z0-9._-]",
                truncated(name)
            ),
        ))
    }
}

fn check_publisher(publisher: &str) -> Result<(), ManifestError> {
    let ok = !publisher.trim().is_empty()
        && publisher.len() <= 128
        && publisher.bytes().all(|b| (0x20..0x7f).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(field(
            "publisher",
            format!(
                "{:?}: must be 1..=128 printable ASCII characters",
                truncated(publisher)
            ),
        ))
    }
}

fn capabilities(raw: &[String]) -> Result<Vec<Capability>, ManifestError> {
    if raw.len() > MAX_CAPABILITIES {
        return Err(field(
            "capabilities",
            format!("{} entries; at most {MAX_CAPABILITIES}", raw.len()),
        ));
    }
    let mut out: Vec<Capability> = Vec::with_capacity(raw.len());
    for s in raw {
        let c: Capability = s.parse()?;
        if out.contains(&c) {
            return Err(field("capabilities", format!("{c} is listed twice")));
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
