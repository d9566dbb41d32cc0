//! [`PolicyInput`]: the verified claims as the policy sees them.

use enclet_attestation::Measurement;
use serde_json::{Value, json};

use crate::verify::VerifiedEnclave;

/// The policy's `input`: the JSON of the verified
/// [`enclet_attestation::Claims`] plus `debug` and `plugins_named`.
///
/// ```json
/// { "evidence": "tpm", "trust_basis": {"kind": "activated_ak", …},
///   "checked": {"nonce": true, "pcrs": true, "event_log": true},
///   "image": "…", "plugins": {"status": "replayed", "measurements": ["…"]},
///   "plugin_events": [{"event": "load", "measurement": "…"}, {"event": "unload", …}],
///   "public_key": "…", "nonce": "…", "user_data": "…",
///   "debug": false,
///   "plugins_named": [{"measurement": "…", "name": "payout"}] }
/// ```
///
/// `plugins` lists the plugins live when the evidence was made (the ones that
/// get a decision); `plugin_events` is the replayed history of loads and
/// unloads, for policies about what ever ran in this enclave.
/// `plugins_named` has one entry per attested plugin, in attested order; its
/// `name` is what the parent reported (`null` if none) and is untrusted.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInput(Value, Vec<(Measurement, Option<String>)>);

impl PolicyInput {
    /// The input for a verified enclave; `names` are the parent's names for
    /// its plugins (untrusted, used only as labels). Names of plugins the
    /// evidence does not attest are dropped.
    #[must_use]
    pub fn new(enclave: &VerifiedEnclave, names: &[(Measurement, String)]) -> Self {
        let claims = enclave.claims.get();
        let attested: Vec<(Measurement, Option<String>)> = claims
            .plugins
            .replayed()
            .unwrap_or(&[])
            .iter()
            .map(|m| {
                let name = names.iter().find(|(n, _)| n == m).map(|(_, name)| name);
                (*m, name.cloned())
            })
            .collect();
        let labels: Vec<Value> = attested
            .iter()
            .map(|(m, name)| json!({ "measurement": m.to_hex(), "name": name }))
            .collect();
        // Serializing the claims cannot fail (strings, booleans, arrays); if
        // it ever did, the input would lack every claim and the policy deny.
        let mut input = serde_json::to_value(claims).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut input {
            map.insert("debug".into(), Value::Bool(enclave.debug));
            map.insert("plugins_named".into(), Value::Array(labels));
        }
        Self(input, attested)
    }

    /// The input document.
    #[must_use]
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// The attested plugins in attested order, with the parent's name for
    /// each (untrusted): each must get a decision.
    #[must_use]
    pub fn plugins(&self) -> &[(Measurement, Option<String>)] {
        &self.1
    }

    /// A synthetic input for the load-time check: trusted TPM claims, every
    /// check made, one plugin.
    pub(crate) fn synthetic() -> Self {
        let plugin = Measurement::of_plugin(b"enclet policy load-time check");
        let hex = plugin.to_hex();
        let input = json!({
            "evidence": "tpm",
            "trust_basis": {"kind": "activated_ak", "ak_name": "000b", "ek_name": "000b"},
            "checked": {"nonce": true, "pcrs": true, "event_log": true},
            "image": "00".repeat(32),
            "plugins": {"status": "replayed", "measurements": [hex]},
            "plugin_events": [{"event": "load", "measurement": hex}],
            "public_key": "00",
            "nonce": "00",
            "user_data": "00".repeat(48),
            "debug": false,
            "plugins_named": [{"measurement": hex, "name": "load-time-check"}],
        });
        Self(input, vec![(plugin, Some("load-time-check".into()))])
    }

    /// Tests: an input with any JSON and attested plugins.
    #[cfg(test)]
    pub(crate) fn raw(input: Value, plugins: &[Measurement]) -> Self {
        Self(input, plugins.iter().map(|m| (*m, None)).collect())
    }
}
