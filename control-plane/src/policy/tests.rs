//! Loading and reading decisions, on hand-written inputs. (Decisions over
//! real verified claims are in `tests/policy/`.)

use serde_json::json;

use super::*;
use enclet_attestation::Measurement;

fn m(name: &str) -> Measurement {
    Measurement::of_plugin(name.as_bytes())
}

/// Input of a trusted enclave with plugins `a` and `b`.
fn input(kind: &str, plugins: &[Measurement]) -> PolicyInput {
    let hex: Vec<String> = plugins.iter().map(Measurement::to_hex).collect();
    PolicyInput::raw(
        json!({
            "evidence": "tpm",
            "trust_basis": {"kind": kind},
            "checked": {"nonce": true, "pcrs": true, "event_log": true},
            "plugins": {"status": "replayed", "measurements": hex},
            "debug": false,
            "plugins_named": [],
        }),
        plugins,
    )
}

/// A policy whose decision is `body` (Rego), for any input.
fn fixed(body: &str) -> Result<Policy, PolicyError> {
    Policy::from_source("fixed.rego", &format!("package enclet\n{body}\n"), None)
}

/// A policy that answers well-formed at load time (the synthetic input has
/// `user_data` of 48 zero bytes) and `odd` for every other input.
fn odd_after_load(odd: &str) -> Policy {
    odd_after_load_with(odd, "")
}

/// As [`odd_after_load`], with extra rules.
fn odd_after_load_with(odd: &str, extra: &str) -> Policy {
    let rego = format!(
        "package enclet\n\
         synthetic if input.plugins_named[0].name == \"load-time-check\"\n\
         good := {{\"enclave\": {{\"allow\": true, \"rule\": \"ok\"}},\n\
           \"plugins\": {{m: {{\"allow\": true, \"rule\": \"ok\", \"secrets\": [\"s\"]}} | some m in input.plugins.measurements}}}}\n\
         decision := good if synthetic\n\
         decision := {odd} if not synthetic\n{extra}\n"
    );
    Policy::from_source("odd.rego", &rego, None).unwrap()
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn a_policy_is_send_and_sync() {
    assert_send_sync::<Policy>();
    assert_send_sync::<PolicyInput>();
}

#[test]
fn the_default_policy_loads_with_and_without_data() {
    assert!(Policy::default_with_data(None).is_ok());
    let data = json!({"plugins": {m("a").to_hex(): {"secrets": ["k"]}}});
    let policy = Policy::default_with_data(Some(data)).unwrap();
    let d = policy
        .evaluate(&input("activated_ak", &[m("a"), m("b")]))
        .unwrap();
    assert!(d.enclave.allow && d.problems.is_empty(), "{d:?}");
    assert_eq!(
        (d.plugins[0].allow, d.plugins[0].secrets.clone()),
        (true, vec!["k".to_owned()])
    );
    assert_eq!(
        (d.plugins[1].allow, d.plugins[1].rule.as_str()),
        (false, "unlisted_plugin")
    );
    // Data that is not an object is refused.
    let e = Policy::default_with_data(Some(json!([1]))).unwrap_err();
    assert_eq!(e.code(), "policy_data");
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let rego = "package enclet\n\ndecision := {\"enclave\": \n  x y z ]\n";
    let e = Policy::from_source("bad.rego", rego, None).unwrap_err();
    let PolicyError::Parse {
        file,
        line,
        column,
        message,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((file.as_str(), *line), ("bad.rego", 4), "{e}");
    assert!(*column >= 3, "{e}");
    assert!(!message.is_empty() && !message.contains("-->"), "{e}");
    assert_eq!(e.code(), "policy_parse");
    // The same policy, closed properly, parses (and fails later for shape).
    let e = Policy::from_source(
        "bad.rego",
        "package enclet\n\ndecision := {\"enclave\": 1}\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "policy_shape", "{e}");
}

#[test]
fn a_policy_without_the_decision_rule_is_refused() {
    let e = Policy::from_source("p.rego", "package other\ndecision := 1\n", None).unwrap_err();
    assert_eq!(e.code(), "policy_shape");
    assert!(e.to_string().contains(DECISION_RULE), "{e}");
}

#[test]
fn an_evaluation_error_at_load_refuses_the_policy() {
    // Two complete definitions with different values: a conflict at evaluation.
    let conflict = "x := 1 if true\nx := 2 if true\n\
                    decision := {\"enclave\": {\"allow\": x == 1, \"rule\": \"r\"}, \"plugins\": {}}";
    let e = fixed(conflict).unwrap_err();
    assert_eq!(e.code(), "policy_evaluate", "{e}");
    // Without the second definition it evaluates (and fails only for the
    // missing plugin entry, a shape error).
    let e = fixed("x := 1 if true\ndecision := {\"enclave\": {\"allow\": x == 1, \"rule\": \"r\"}, \"plugins\": {}}")
        .unwrap_err();
    assert_eq!(e.code(), "policy_shape", "{e}");
    assert!(e.to_string().contains("no decision for plugin"), "{e}");
}

#[test]
fn a_malformed_decision_at_load_refuses_the_policy() {
    for (body, needle) in [
        ("decision := 1", "not an object"),
        (
            "decision := {\"enclave\": {\"allow\": \"yes\", \"rule\": \"r\"}, \"plugins\": {}}",
            "allow",
        ),
        (
            "decision := {\"enclave\": {\"allow\": true, \"rule\": \"\"}, \"plugins\": {}}",
            "rule",
        ),
        (
            "decision := {\"enclave\": {\"allow\": true, \"rule\": \"r\"}, \"plugins\": {}, \"x\": 1}",
            "unknown key",
        ),
        (
            "decision := {\"enclave\": {\"allow\": true, \"rule\": \"r\"}, \"plugins\": []}",
            "not an object",
        ),
        ("decision := 1 if false", "undefined"),
    ] {
        let e = fixed(body).unwrap_err();
        assert_eq!(e.code(), "policy_shape", "{body}: {e}");
        assert!(e.to_string().contains(needle), "{body}: {e}");
    }
}

#[test]
fn fail_closed_after_load_denies_with_no_or_invalid_decision() {
    let plugins = [m("a"), m("b")];
    let a = m("a").to_hex();
    let ok_enclave = "\"enclave\": {\"allow\": true, \"rule\": \"ok\"}";
    for (odd, enclave_rule, plugin_rules) in [
        // Undefined for this input.
        (
            "input.no_such_field",
            NO_DECISION,
            [NO_DECISION, NO_DECISION],
        ),
        // Not an object at all.
        (
            "[true]",
            INVALID_DECISION,
            [INVALID_DECISION, INVALID_DECISION],
        ),
        // A missing entry (b) is denied; a: allowed.
        (
            &format!(
                "{{{ok_enclave}, \"plugins\": {{\"{a}\": {{\"allow\": true, \"rule\": \"ok\"}}}}}}"
            ),
            "ok",
            ["ok", NO_DECISION],
        ),
        // Wrong types: allow as a string; secrets as a string.
        (
            &format!(
                "{{{ok_enclave}, \"plugins\": {{\"{a}\": {{\"allow\": \"true\", \"rule\": \"ok\"}}}}}}"
            ),
            "ok",
            [INVALID_DECISION, NO_DECISION],
        ),
        (
            &format!(
                "{{{ok_enclave}, \"plugins\": {{\"{a}\": {{\"allow\": true, \"rule\": \"ok\", \"secrets\": \"k\"}}}}}}"
            ),
            "ok",
            [INVALID_DECISION, NO_DECISION],
        ),
        // The enclave verdict with a numeric rule.
        (
            "{\"enclave\": {\"allow\": true, \"rule\": 7}, \"plugins\": {}}",
            INVALID_DECISION,
            [NO_DECISION, NO_DECISION],
        ),
    ] {
        let policy = odd_after_load(odd);
        let d = policy.evaluate(&input("activated_ak", &plugins)).unwrap();
        assert_eq!(d.enclave.rule, enclave_rule, "{odd}: {d:?}");
        assert_eq!(d.enclave.allow, enclave_rule == "ok", "{odd}");
        for (p, rule) in d.plugins.iter().zip(plugin_rules) {
            assert_eq!(p.rule, rule, "{odd}: {d:?}");
            assert_eq!(p.allow, rule == "ok", "{odd}");
        }
        assert!(!d.problems.is_empty(), "{odd}");
        assert_eq!(d.refusal().unwrap().code, "policy_denied");
    }
}

#[test]
fn an_evaluation_error_after_load_is_a_denial() {
    // Conflicting values only for inputs other than the synthetic one.
    let policy = odd_after_load_with(
        "{\"enclave\": {\"allow\": x == 1, \"rule\": \"ok\"}, \"plugins\": {}}",
        "x := 1 if not synthetic\nx := 2 if not synthetic",
    );
    let d = policy.evaluate(&input("activated_ak", &[m("a")])).unwrap();
    assert_eq!(
        (d.enclave.allow, d.enclave.rule.as_str()),
        (false, NO_DECISION),
        "{d:?}"
    );
    assert!(!d.plugins[0].allow);
    assert!(d.problems[0].contains("evaluation failed"), "{d:?}");
}

#[test]
fn denied_plugins_get_no_secrets_and_secrets_are_checked() {
    let a = m("a").to_hex();
    let policy = odd_after_load(&format!(
        "{{\"enclave\": {{\"allow\": true, \"rule\": \"ok\"}}, \"plugins\": {{\"{a}\": {{\"allow\": false, \"rule\": \"no\", \"secrets\": [\"k\"]}}}}}}"
    ));
    let d = policy.evaluate(&input("activated_ak", &[m("a")])).unwrap();
    assert_eq!((d.plugins[0].allow, d.plugins[0].secrets.len()), (false, 0));
    assert!(d.problems.is_empty());
    let refusal = d.refusal().unwrap();
    assert!(
        refusal.message.contains("`no`") && refusal.message.contains(&a),
        "{refusal}"
    );
    // A set of secrets is accepted (deduplicated); too many are not.
    let set = odd_after_load(&format!(
        "{{\"enclave\": {{\"allow\": true, \"rule\": \"ok\"}}, \"plugins\": {{\"{a}\": {{\"allow\": true, \"rule\": \"ok\", \"secrets\": {{\"k\", \"j\"}}}}}}}}"
    ));
    let d = set.evaluate(&input("activated_ak", &[m("a")])).unwrap();
    assert_eq!(d.plugins[0].secrets, ["j", "k"]);
    assert!(d.refusal().is_none());
    let many = odd_after_load_with(
        &format!(
            "{{\"enclave\": {{\"allow\": true, \"rule\": \"ok\"}}, \"plugins\": {{\"{a}\": {{\"allow\": true, \"rule\": \"ok\", \"secrets\": many}}}}}}"
        ),
        &format!("many := [sprintf(\"k%d\", [i]) | some i in numbers.range(0, {MAX_SECRETS})]"),
    );
    let d = many.evaluate(&input("activated_ak", &[m("a")])).unwrap();
    assert_eq!(d.plugins[0].rule, INVALID_DECISION, "{d:?}");
}

#[test]
fn files_load_and_a_syntax_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let rego = dir.path().join("p.rego");
    std::fs::write(&rego, DEFAULT_REGO).unwrap();
    let data = dir.path().join("data.json");
    std::fs::write(&data, "{\"plugins\": {}}").unwrap();
    assert!(Policy::from_files(&rego, Some(&data)).is_ok());
    std::fs::write(&data, "{\"plugins\": ").unwrap();
    assert_eq!(
        Policy::from_files(&rego, Some(&data)).unwrap_err().code(),
        "policy_data"
    );
    std::fs::write(&rego, format!("{DEFAULT_REGO}\nbroken := {{\n")).unwrap();
    let e = Policy::from_files(&rego, None).unwrap_err();
    assert!(
        matches!(&e, PolicyError::Parse { file, .. } if file.ends_with("p.rego")),
        "{e:?}"
    );
    let e = Policy::from_files(&dir.path().join("absent.rego"), None).unwrap_err();
    assert_eq!(e.code(), "policy_io");
}

#[test]
fn the_shipped_example_policy_loads_with_its_data() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let path = |f: &str| std::path::PathBuf::from(dir).join("policy").join(f);
    let p = Policy::from_files(&path("example.rego"), Some(&path("data.example.json"))).unwrap();
    assert_eq!(p.name(), path("example.rego").display().to_string());
    let d = p.evaluate(&input("caller_pinned_ak", &[])).unwrap();
    assert_eq!(d.enclave.rule, "tpm_needs_activated_ak");
}

#[test]
fn capabilities_are_read_strictly_and_only_for_allowed_plugins() {
    let a = m("a").to_hex();
    let verdict = |allow: bool, capabilities: &str| {
        odd_after_load(&format!(
            "{{\"enclave\": {{\"allow\": true, \"rule\": \"ok\"}}, \"plugins\": {{\"{a}\": {{\"allow\": {allow}, \"rule\": \"ok\", \"capabilities\": {capabilities}}}}}}}"
        ))
        .evaluate(&input("activated_ak", &[m("a")]))
        .unwrap()
    };
    let d = verdict(true, "[\"log\", \"log\"]");
    assert_eq!(d.plugins[0].capabilities, ["log"]);
    assert!(d.problems.is_empty(), "{d:?}");
    // Denied: granted nothing.
    assert!(
        verdict(false, "[\"log\"]").plugins[0]
            .capabilities
            .is_empty()
    );
    // Unknown, a secret (granted with `secrets`), a wrong type: invalid.
    for bad in ["[\"network\"]", "[\"secret:k\"]", "\"log\"", "[1]"] {
        let d = verdict(true, bad);
        assert_eq!(d.plugins[0].rule, INVALID_DECISION, "{bad}");
        assert!(
            !d.plugins[0].allow && d.plugins[0].capabilities.is_empty(),
            "{bad}"
        );
    }
    let d = verdict(true, "[\"network\"]");
    assert!(
        d.problems[0].contains("unknown capability \"network\""),
        "{d:?}"
    );
}
