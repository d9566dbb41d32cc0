#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use enclet_attestation::Measurement;
use enclet_attestation::event_log::{PluginEvent, SignedLoad};
use enclet_capability::RevocationKind;

use super::{REVOKED_PLUGIN, REVOKED_PUBLISHER, exclude};
use crate::policy::{Decision, PluginDecision, RuleVerdict};
use crate::store::{Revocation, RevocationRecord};

const KEY: [u8; 32] = [0x5a; 32];

fn m(tag: &[u8]) -> Measurement {
    Measurement::of_plugin(tag)
}

fn signed(plugin: Measurement, key: [u8; 32]) -> PluginEvent {
    PluginEvent::SignedLoad(SignedLoad {
        measurement: plugin,
        publisher_key: key,
        manifest_digest: [1; 48],
    })
}

fn decision(plugins: &[Measurement], allow: bool) -> Decision {
    Decision {
        enclave: RuleVerdict {
            allow: true,
            rule: "ok".into(),
        },
        plugins: plugins
            .iter()
            .map(|p| PluginDecision {
                measurement: *p,
                name: None,
                allow,
                rule: if allow { "granted" } else { "unlisted" }.into(),
                secrets: if allow { vec!["k".into()] } else { vec![] },
                capabilities: if allow { vec!["log".into()] } else { vec![] },
            })
            .collect(),
        problems: vec![],
    }
}

fn revoked(items: &[(RevocationKind, String)]) -> Vec<Revocation> {
    items
        .iter()
        .enumerate()
        .map(|(i, (kind, value))| Revocation {
            sequence: u64::try_from(i).unwrap() + 1,
            record: RevocationRecord::new(kind.as_str(), value, None, 1).unwrap(),
        })
        .collect()
}

fn rules(d: &Decision) -> Vec<(&str, bool, usize, usize)> {
    d.plugins
        .iter()
        .map(|p| {
            (
                p.rule.as_str(),
                p.allow,
                p.secrets.len(),
                p.capabilities.len(),
            )
        })
        .collect()
}

#[test]
fn revoked_plugins_and_publishers_are_denied_others_keep_their_grants() {
    let (a, b, c) = (m(b"a"), m(b"b"), m(b"c"));
    let events = [PluginEvent::Load(a), signed(b, KEY), signed(c, [0x5b; 32])];
    let mut d = decision(&[a, b, c], true);
    let list = revoked(&[
        (RevocationKind::Plugin, a.to_hex()),
        (RevocationKind::Publisher, hex::encode(KEY)),
        (RevocationKind::Token, "00".repeat(64)),
    ]);
    exclude(&mut d, &events, &list);
    assert_eq!(
        rules(&d),
        [
            (REVOKED_PLUGIN, false, 0, 0),
            (REVOKED_PUBLISHER, false, 0, 0),
            ("granted", true, 1, 1),
        ]
    );
    // Nothing revoked: nothing changes.
    let mut untouched = decision(&[a, b, c], true);
    exclude(&mut untouched, &events, &[]);
    assert_eq!(untouched, decision(&[a, b, c], true));
}

#[test]
fn only_the_latest_load_names_the_publisher() {
    let p = m(b"p");
    let list = revoked(&[(RevocationKind::Publisher, hex::encode(KEY))]);
    // Signed by the revoked key, unloaded, then loaded unsigned: not this
    // publisher's load any more.
    let reloaded = [signed(p, KEY), PluginEvent::Unload(p), PluginEvent::Load(p)];
    let mut d = decision(&[p], true);
    exclude(&mut d, &reloaded, &list);
    assert_eq!(rules(&d), [("granted", true, 1, 1)]);
    // The other way round: the latest load is the revoked publisher's.
    let resigned = [PluginEvent::Load(p), PluginEvent::Unload(p), signed(p, KEY)];
    let mut d = decision(&[p], true);
    exclude(&mut d, &resigned, &list);
    assert_eq!(rules(&d), [(REVOKED_PUBLISHER, false, 0, 0)]);
}

#[test]
fn a_plugin_the_policy_denied_keeps_the_policys_rule() {
    let p = m(b"p");
    let list = revoked(&[(RevocationKind::Plugin, p.to_hex())]);
    let mut d = decision(&[p], false);
    exclude(&mut d, &[PluginEvent::Load(p)], &list);
    assert_eq!(rules(&d), [("unlisted", false, 0, 0)]);
}
