//! The gate's modes, what one invocation remembers, and token parsing.

use std::sync::Arc;

use enclet_attestation::Measurement;
use enclet_capability::{CapabilityToken, RootKey, TokenGrant, mint};
use enclet_protocol::PluginToken;

use super::{Gate, MAX_REMEMBERED, parse_tokens};
use crate::clock::ManualClock;
use crate::runtime::CapabilityGate;

const NOW: u64 = 1_800_000_000;
const KEY: [u8; 32] = [3; 32];

fn plugin(n: u8) -> Measurement {
    Measurement::from_bytes([n; 48])
}

fn token(root: &RootKey, plugin: Measurement, capabilities: &[&str]) -> Vec<u8> {
    let capabilities: Vec<String> = capabilities.iter().map(|c| (*c).to_owned()).collect();
    mint(
        root,
        &TokenGrant {
            plugin: &plugin.to_hex(),
            enclave_key: &KEY,
            capabilities: &capabilities,
            expires_at: NOW + 60,
        },
    )
    .unwrap()
    .bytes
}

#[test]
fn ungated_allows_deny_all_denies_and_no_token_is_denied() {
    let clock = ManualClock::at(NOW);
    let key: Arc<[u8]> = Arc::from(&KEY[..]);
    let ungated = Gate::new(
        &CapabilityGate::InsecureUngated,
        None,
        &plugin(1),
        key.clone(),
        clock.clone(),
    );
    ungated.check("secret:anything").unwrap();
    assert_eq!(Gate::DenyAll.check("log").unwrap_err().code(), "denied");
    let root = RootKey::generate();
    let gated = Gate::new(
        &CapabilityGate::Tokens(root.public()),
        None,
        &plugin(1),
        key,
        clock,
    );
    assert_eq!(gated.check("log").unwrap_err().code(), "denied");
}

#[test]
fn an_outcome_is_remembered_for_the_rest_of_the_invocation() {
    let root = RootKey::generate();
    let clock = ManualClock::at(NOW);
    let parsed =
        CapabilityToken::parse(&token(&root, plugin(1), &["log"]), &root.public()).unwrap();
    let gate = Gate::new(
        &CapabilityGate::Tokens(root.public()),
        Some(Arc::new(parsed)),
        &plugin(1),
        Arc::from(&KEY[..]),
        clock.clone(),
    );
    gate.check("log").unwrap();
    assert_eq!(gate.check("secret:x").unwrap_err().code(), "denied");
    // The token expires mid-invocation: this invocation keeps its answers,
    // a capability not asked before is judged now.
    clock.set(NOW + 60);
    gate.check("log").unwrap();
    assert_eq!(
        gate.check("secret:y").unwrap_err().code(),
        "capability_expired"
    );
    // Past the bound nothing more is remembered, and nothing breaks.
    for n in 0..MAX_REMEMBERED * 2 {
        assert!(gate.check(&format!("secret:n{n}")).is_err());
    }
}

#[test]
fn tokens_are_parsed_only_when_checked_and_each_plugin_has_one() {
    let root = RootKey::generate();
    let a = PluginToken {
        plugin: plugin(1),
        token: token(&root, plugin(1), &["log"]),
    };
    // Ungated: ignored, even garbage.
    let garbage = PluginToken {
        plugin: plugin(2),
        token: b"garbage".to_vec(),
    };
    let parsed = parse_tokens(
        &CapabilityGate::InsecureUngated,
        vec![a.clone(), garbage.clone()],
    )
    .unwrap();
    assert!(parsed.is_empty());
    let gate = CapabilityGate::Tokens(root.public());
    let parsed = parse_tokens(&gate, vec![a.clone()]).unwrap();
    assert_eq!(parsed.len(), 1);
    let twice = parse_tokens(&gate, vec![a.clone(), a]).unwrap_err();
    assert_eq!(twice.code(), "invalid_token");
    assert!(twice.to_string().contains("two tokens"), "{twice}");
    let bad = parse_tokens(&gate, vec![garbage]).unwrap_err();
    assert!(bad.to_string().contains(&plugin(2).to_hex()), "{bad}");
}
