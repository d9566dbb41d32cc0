//! Step 4b: revoked plugins and publishers are excluded after the policy
//! decided.
//!
//! A plugin the policy allowed is denied, with no secrets and no token,
//! under the rule
//!
//! * [`REVOKED_PLUGIN`] when its measurement is revoked;
//! * [`REVOKED_PUBLISHER`] when its latest load in the verified event log is
//!   a signed load by a publisher key (SHA-256 fingerprint) that is revoked.
//!
//! Unlike a policy denial, this does not refuse the release: the enclave's
//! other plugins keep their grants, so revoking one plugin does not take the
//! others down. Revoked token ids need nothing here: every release mints
//! fresh tokens with fresh ids.

use std::collections::BTreeSet;

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_capability::RevocationKind;

use crate::policy::Decision;
use crate::store::Revocation;

/// Rule of a plugin denied because its measurement is revoked.
pub const REVOKED_PLUGIN: &str = "revoked_plugin";
/// Rule of a plugin denied because its publisher's key is revoked.
pub const REVOKED_PUBLISHER: &str = "revoked_publisher";

/// Denies, in `decision`, every allowed plugin that `revocations` revokes;
/// `events` is the verified event log (`Claims::plugin_events`).
pub(super) fn exclude(decision: &mut Decision, events: &[PluginEvent], revocations: &[Revocation]) {
    if revocations.is_empty() {
        return;
    }
    let of = |kind: RevocationKind| -> BTreeSet<&str> {
        revocations
            .iter()
            .filter(|r| r.record.kind == kind)
            .map(|r| r.record.value.as_str())
            .collect()
    };
    let plugins = of(RevocationKind::Plugin);
    let publishers = of(RevocationKind::Publisher);
    for plugin in decision.plugins.iter_mut().filter(|p| p.allow) {
        let rule = if plugins.contains(plugin.measurement.to_hex().as_str()) {
            REVOKED_PLUGIN
        } else if publisher_of(events, &plugin.measurement)
            .is_some_and(|key| publishers.contains(key.as_str()))
        {
            REVOKED_PUBLISHER
        } else {
            continue;
        };
        tracing::info!(plugin = %plugin.measurement, rule, "revoked: excluded from the release");
        plugin.allow = false;
        rule.clone_into(&mut plugin.rule);
        plugin.secrets.clear();
        plugin.capabilities.clear();
    }
}

/// The publisher key fingerprint (hex) of the plugin's latest load, if that
/// load was signed.
fn publisher_of(events: &[PluginEvent], plugin: &Measurement) -> Option<String> {
    let latest = events
        .iter()
        .rev()
        .find(|e| e.is_load() && e.measurement() == plugin)?;
    match latest {
        PluginEvent::SignedLoad(l) => Some(hex::encode(l.publisher_key)),
        PluginEvent::Load(_) | PluginEvent::Unload(_) => None,
    }
}

#[cfg(test)]
mod tests;
