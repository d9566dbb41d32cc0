//! The shipped policies over really verified claims (an activated swtpm quote,
//! a real AWS document): allow, deny with rule and plugin named, fail closed.

use enclet_attestation::Measurement;
use enclet_attestation::nitro::{self, NitroPolicy, NitroVerifier};
use enclet_attestation::tpm::{
    self, ExpectedExtraData, HashAlg, PcrValues, QuoteEvidence, TpmExpectations,
};
use enclet_control_plane::policy::{DEFAULT_REGO, NO_DECISION, Policy, PolicyInput};
use enclet_control_plane::verify::VerifiedEnclave;
use serde_json::json;

use crate::support::{Fixture, PUBLIC_KEY, random, tpm_enclave, vector};

fn names(plugins: &[Measurement; 2]) -> Vec<(Measurement, String)> {
    vec![
        (plugins[0], "payout".to_owned()),
        (plugins[1], "report".to_owned()),
        (Measurement::of_plugin(b"not loaded"), "ghost".to_owned()),
    ]
}

fn default_listing(plugins: &[Measurement]) -> Policy {
    let listed: serde_json::Map<String, serde_json::Value> = plugins
        .iter()
        .enumerate()
        .map(|(i, m)| (m.to_hex(), json!({"secrets": [format!("secret-{i}")]})))
        .collect();
    Policy::default_with_data(Some(json!({ "plugins": listed }))).unwrap()
}

#[test]
fn the_input_is_the_claims_with_debug_and_named_plugins() {
    let (enclave, plugins) = tpm_enclave();
    let input = PolicyInput::new(enclave, &names(plugins)[..1]);
    let j = input.as_json();
    assert_eq!(j["trust_basis"]["kind"], "activated_ak");
    assert_eq!(j["debug"], false);
    assert_eq!(j["plugins"]["measurements"][1], plugins[1].to_hex());
    assert_eq!(
        j["plugins_named"],
        json!([
            {"measurement": plugins[0].to_hex(), "name": "payout"},
            {"measurement": plugins[1].to_hex(), "name": null},
        ])
    );
    // Names of plugins the evidence does not attest are dropped.
    let all = PolicyInput::new(enclave, &names(plugins));
    assert_eq!(all.as_json()["plugins_named"].as_array().unwrap().len(), 2);
}

#[test]
fn the_default_policy_allows_a_trusted_enclave_and_grants_secrets() {
    let (enclave, plugins) = tpm_enclave();
    let d = default_listing(plugins)
        .evaluate(&PolicyInput::new(enclave, &names(plugins)))
        .unwrap();
    assert!(d.refusal().is_none(), "{d:?}");
    assert_eq!(
        (d.enclave.allow, d.enclave.rule.as_str()),
        (true, "trusted_enclave")
    );
    let got: Vec<_> = d
        .plugins
        .iter()
        .map(|p| (p.measurement, p.name.as_deref(), p.allow, p.secrets.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                plugins[0],
                Some("payout"),
                true,
                vec!["secret-0".to_owned()]
            ),
            (
                plugins[1],
                Some("report"),
                true,
                vec!["secret-1".to_owned()]
            ),
        ]
    );
}

#[test]
fn an_unlisted_plugin_is_denied_naming_the_rule_and_the_plugin() {
    let (enclave, plugins) = tpm_enclave();
    let d = default_listing(&plugins[..1])
        .evaluate(&PolicyInput::new(enclave, &names(plugins)))
        .unwrap();
    assert!(d.enclave.allow && d.plugins[0].allow);
    assert_eq!(
        (d.plugins[1].allow, d.plugins[1].rule.as_str()),
        (false, "unlisted_plugin")
    );
    assert!(d.plugins[1].secrets.is_empty());
    let r = d.refusal().unwrap();
    assert_eq!(r.code, "policy_denied");
    assert!(r.message.contains("unlisted_plugin"), "{r}");
    assert!(
        r.message.contains(&plugins[1].to_hex()) && r.message.contains("report"),
        "{r}"
    );
}

/// The same quote verified with the AK taken from the evidence (no activation).
fn caller_pinned() -> VerifiedEnclave {
    let f = Fixture::new();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);
    let mut pcrs = PcrValues::new();
    for (i, v) in &ev.pcrs {
        pcrs.insert(HashAlg::Sha256, *i, v.clone()).unwrap();
    }
    let claims = tpm::verify_quote(
        &QuoteEvidence {
            attest: &ev.attest,
            signature: &ev.signature,
            ak_public: &ev.ak_public,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Enclet {
                nonce: &nonce,
                public_key: PUBLIC_KEY,
            },
            pcrs: Some(&pcrs),
            event_log: Some(&f.log),
            activated_ak: None,
        },
    )
    .unwrap()
    .into_claims();
    VerifiedEnclave {
        claims,
        debug: false,
    }
}

#[test]
fn a_caller_pinned_ak_is_denied_and_the_activated_one_is_not() {
    let (trusted, plugins) = tpm_enclave();
    let pinned = caller_pinned();
    assert_eq!(pinned.claims.trust_basis.as_str(), "caller_pinned_ak");
    // Same checks made, same plugins: only the basis differs.
    assert_eq!(pinned.claims.checked, trusted.claims.checked);
    let policy = default_listing(plugins);
    let d = policy.evaluate(&PolicyInput::new(&pinned, &[])).unwrap();
    assert_eq!(
        (d.enclave.allow, d.enclave.rule.as_str()),
        (false, "untrusted_basis")
    );
    let r = d.refusal().unwrap();
    assert!(
        r.message.contains("enclave") && r.message.contains("untrusted_basis"),
        "{r}"
    );
    let d = policy.evaluate(&PolicyInput::new(trusted, &[])).unwrap();
    assert!(d.enclave.allow);
}

#[test]
fn nitro_claims_without_a_replayed_log_are_denied() {
    let v = vector("12_");
    let claims = nitro::verify(
        &v.bytes,
        &NitroVerifier::aws(),
        &NitroPolicy::insecure_any_image(),
        v.at,
    )
    .unwrap()
    .into_claims();
    assert_eq!(claims.trust_basis.as_str(), "aws_nitro_root");
    let enclave = VerifiedEnclave {
        claims,
        debug: false,
    };
    let policy = Policy::default_with_data(None).unwrap();
    let d = policy.evaluate(&PolicyInput::new(&enclave, &[])).unwrap();
    assert_eq!(
        (d.enclave.allow, d.enclave.rule.as_str()),
        (false, "unchecked_evidence")
    );
    assert!(d.plugins.is_empty());
    // The example policy says the same under its own rule names.
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policy");
    let example = Policy::from_files(
        &dir.join("example.rego"),
        Some(&dir.join("data.example.json")),
    )
    .unwrap();
    let d = example.evaluate(&PolicyInput::new(&enclave, &[])).unwrap();
    assert_eq!(d.enclave.rule, "unchecked_evidence");
}

#[test]
fn a_policy_that_forgets_a_plugin_denies_it() {
    let (enclave, plugins) = tpm_enclave();
    let first = plugins[0].to_hex();
    // Allows only entries it knows about, by a literal key: the second plugin
    // (and the load-time check's plugin) get no entry.
    let rego = format!(
        "package enclet\n\
         check := input.plugins_named[0].name == \"load-time-check\"\n\
         known[m] := {{\"allow\": true, \"rule\": \"known\"}} if {{ some m in input.plugins.measurements; m == \"{first}\" }}\n\
         known[m] := {{\"allow\": true, \"rule\": \"check\"}} if {{ some m in input.plugins.measurements; check }}\n\
         decision := {{\"enclave\": {{\"allow\": true, \"rule\": \"any\"}}, \"plugins\": known}}\n"
    );
    let policy = Policy::from_source("forgets.rego", &rego, None).unwrap();
    let d = policy
        .evaluate(&PolicyInput::new(enclave, &names(plugins)))
        .unwrap();
    assert!(d.plugins[0].allow);
    assert_eq!(
        (d.plugins[1].allow, d.plugins[1].rule.as_str()),
        (false, NO_DECISION)
    );
    let r = d.refusal().unwrap();
    assert!(
        r.message.contains(&plugins[1].to_hex()) && r.message.contains(NO_DECISION),
        "{r}"
    );
}

#[test]
fn many_threads_evaluate_one_policy_at_once() {
    let (enclave, plugins) = tpm_enclave();
    let policy = default_listing(&plugins[..1]);
    let input = PolicyInput::new(enclave, &names(plugins));
    let expected = policy.evaluate(&input).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..20)
                        .map(|_| policy.evaluate(&input).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap().iter().all(|d| *d == expected));
        }
    });
    assert!(!expected.plugins[1].allow);
}

#[test]
fn the_example_policy_withholds_nitro_only_secrets_from_tpm_enclaves() {
    let (enclave, plugins) = tpm_enclave();
    let [payout, report] = plugins.map(|m| m.to_hex());
    let data = json!({
        "plugins": {
            payout.clone(): {"secrets": ["payout-hmac-key", "payout-test-key"]},
            report.clone(): {"secrets": [], "evidence": ["nitro"]},
        },
        "nitro_only_secrets": ["payout-hmac-key"],
    });
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policy");
    let rego = std::fs::read_to_string(dir.join("example.rego")).unwrap();
    let policy = Policy::from_source("example.rego", &rego, Some(data.clone())).unwrap();
    let d = policy.evaluate(&PolicyInput::new(enclave, &[])).unwrap();
    assert_eq!(d.enclave.rule, "trusted_enclave");
    assert_eq!(d.plugins[0].secrets, ["payout-test-key"]);
    assert_eq!(
        (d.plugins[1].allow, d.plugins[1].rule.as_str()),
        (false, "evidence_not_allowed")
    );
    // Exclusive: payout may not share the enclave with report.
    let mut exclusive = data;
    exclusive["exclusive_plugins"] = json!([payout]);
    exclusive["plugins"][&report]["evidence"] = json!(["tpm"]);
    let policy = Policy::from_source("example.rego", &rego, Some(exclusive)).unwrap();
    let d = policy.evaluate(&PolicyInput::new(enclave, &[])).unwrap();
    assert_eq!(d.plugins[0].rule, "exclusive_plugin_not_alone");
    assert!(d.plugins[1].allow);
    // And the default policy is the one shipped as DEFAULT_REGO.
    assert_eq!(
        std::fs::read_to_string(dir.join("default.rego")).unwrap(),
        DEFAULT_REGO
    );
}
