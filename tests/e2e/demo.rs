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

    // Logs stay in the state directory; sockets are gone after the stop.
    for f in ["enclave.log", "parent.log"] {
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
