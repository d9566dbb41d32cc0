//! `enclet demo --json`: the whole appliance as separate processes.

use std::process::Command;

use enclet_attestation::Measurement;

use crate::harness::{bin, plugin, plugin_dir};

#[test]
fn demo_json_reports_plugins_and_invocations() {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(bin("enclet"))
        .args(["demo", "--json", "--state-dir"])
        .arg(state.path())
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object: {e}"));

    let plugins = report["plugins"].as_array().unwrap();
    let names: Vec<_> = plugins
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "payout"]);
    for p in plugins {
        let m = p["measurement"].as_str().unwrap();
        assert_eq!(m.len(), 96);
        assert!(
            m.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let bytes = plugin(p["name"].as_str().unwrap());
        assert_eq!(m, Measurement::of_plugin(&bytes).to_hex());
        assert_eq!(p["size_bytes"], bytes.len());
    }
    let invocations = report["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 2);
    assert!(invocations.iter().all(|i| i["ok"] == true), "{report}");
    assert_eq!(invocations[0]["plugin"], "echo");
    assert_eq!(invocations[0]["output"], "hello from enclet");
    let payout: serde_json::Value =
        serde_json::from_str(invocations[1]["output"].as_str().unwrap()).unwrap();
    assert_eq!(payout["total_cents"], 5250);

    // TPM attestation is on by default and verified by the demo's verifier.
    let att = &report["attestation"];
    assert_eq!(att["attester"], "tpm", "{report}");
    assert_eq!(att["verified"], true);
    assert_eq!(att["ak_activated"], true);
    assert_eq!(att["trust_basis"], "activated_ak", "{report}");
    assert_eq!(att["ek_certificate_chain"], "ok");
    let measured: Vec<_> = plugins.iter().map(|p| p["measurement"].clone()).collect();
    assert_eq!(att["plugins"].as_array().unwrap(), &measured);
    let image = Measurement::of_plugin(&std::fs::read(bin("enclet-enclave")).unwrap());
    assert_eq!(att["image"], image.to_hex());
    assert_eq!(att["public_key"].as_str().unwrap().len(), 64);
    assert_eq!(att["nonce"].as_str().unwrap().len(), 64);
    for pcr in ["16", "23"] {
        assert_eq!(att["pcrs"][pcr].as_str().unwrap().len(), 64, "{pcr}");
    }
    assert!(
        state.path().join("swtpm/ca").is_dir(),
        "swtpm state stays in --state-dir"
    );

    // The control plane released the payout plugin its secret and the echo
    // plugin none, and the demo checked the payout's MAC with it.
    let release = &report["release"];
    assert_eq!(release["payout_mac"], "verified", "{report}");
    let granted: Vec<(String, Vec<String>)> = release["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                serde_json::from_value(p["secrets"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        granted,
        [
            ("echo".to_owned(), vec![]),
            ("payout".to_owned(), vec!["payout-hmac-key".to_owned()])
        ]
    );
    assert!(
        release["control_plane"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let payout_out = invocations[1]["output"].as_str().unwrap();
    assert!(payout_out.contains("\"mac\":\""), "{payout_out}");

    // Logs stay in the state directory; sockets are gone after the stop.
    for f in ["enclave.log", "parent.log", "control-plane.log"] {
        assert!(state.path().join(f).is_file(), "{f}");
    }
    assert!(!state.path().join("enclave.sock").exists());
    assert!(!state.path().join("parent.sock").exists());
}

#[test]
fn demo_without_an_attester_reports_null_attestation() {
    let out = Command::new(bin("enclet"))
        .args(["demo", "--json", "--attester", "none", "--plugin-dir"])
        .arg(plugin_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["attestation"].is_null(), "{report}");
    assert_eq!(report["invocations"].as_array().unwrap().len(), 2);
}

#[test]
fn demo_rejects_an_unknown_attester() {
    let out = Command::new(bin("enclet"))
        .args(["demo", "--attester", "sev"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sev"));
}

#[test]
fn demo_without_plugins_fails_clearly() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(bin("enclet"))
        .args(["demo", "--json", "--plugin-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("echo.wasm") && stderr.contains("build-plugins"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

fn audit(state: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("enclet"))
        .arg("audit")
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

/// `enclet audit verify` and `tail` work on the directory `enclet demo
/// --state-dir` used; editing or deleting one entry in the middle makes
/// `verify` fail naming that entry.
#[test]
fn the_demo_audit_log_verifies_and_names_an_edited_or_deleted_entry() {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(bin("enclet"))
        .args(["demo", "--json", "--state-dir"])
        .arg(state.path())
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ok = audit(state.path(), &["verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let tail = audit(state.path(), &["tail", "--json", "-n", "1000"]);
    assert!(tail.status.success());
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&tail.stdout).unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "admin",
        "session_opened",
        "activation",
        "nonce_issued",
        "verdict",
        "policy_decision",
        "release",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let text = String::from_utf8_lossy(&tail.stdout);
    assert!(
        text.contains("payout-hmac-key") && !text.contains("\"value\""),
        "{text}"
    );
    let middle = entries[entries.len() / 2]["seq"].as_i64().unwrap();

    let db = rusqlite::Connection::open(state.path().join("store.sqlite")).unwrap();
    // The store refuses updates and deletes of audit rows with triggers;
    // someone with the file drops them first.
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!triggers.is_empty());
    for t in triggers {
        db.execute(&format!("DROP TRIGGER {t}"), []).unwrap();
    }
    // Edit one entry's content in the middle: verify names it.
    let edited = db
        .execute(
            "UPDATE audit SET detail = replace(detail, '\"', '\" ') WHERE seq = ?1",
            [middle],
        )
        .unwrap();
    assert_eq!(edited, 1);
    let broken = audit(state.path(), &["verify"]);
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains(&format!("entry {middle}")), "{stderr}");
    db.execute(
        "UPDATE audit SET detail = replace(detail, '\" ', '\"') WHERE seq = ?1",
        [middle],
    )
    .unwrap();
    assert!(
        audit(state.path(), &["verify"]).status.success(),
        "restored"
    );

    // Delete it: verify names where the chain breaks.
    db.execute("DELETE FROM audit WHERE seq = ?1", [middle])
        .unwrap();
    let broken = audit(state.path(), &["verify"]);
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains(&format!("entry {middle}"))
            || stderr.contains(&format!("entry {}", middle + 1)),
        "{stderr}"
    );
}
