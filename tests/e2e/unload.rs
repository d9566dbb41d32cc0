//! Plugin lifecycle from the CLI against real processes (swtpm, enclave,
//! parent): unload while a call runs, the next attestation's event log shows
//! the unload, and limits change without a reload.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enclet_swtpm::Swtpm;

use crate::harness::{Appliance, bin, plugin_dir};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits until the enclave reports a running invocation.
pub(crate) fn wait_for_a_running_call(app: &Appliance) {
    let start = Instant::now();
    loop {
        let out = app.enclet(&["plugin", "health"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["enclave"]["invocations_running"].as_u64() > Some(0) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_mins(2),
            "no call started: {v}\n{}",
            app.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unload_lets_a_running_call_finish_and_the_next_attestation_shows_it() {
    let swtpm = Swtpm::start().unwrap_or_else(|e| {
        panic!("cannot start swtpm: {e}\nrun scripts/setup to install swtpm and swtpm-tools")
    });
    let config = swtpm.attester_config().to_string();
    let app = Appliance::start_full(&["--attester", &config], &[]).await;
    let echo = app.load("echo").await;
    let hostile_wasm = plugin_dir().join("hostile.wasm");
    let loaded = app.enclet(&[
        "plugin",
        "load",
        hostile_wasm.to_str().unwrap(),
        "--fuel",
        "100000000000",
        "--deadline-ms",
        "60000",
        "--json",
    ]);
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    let v: serde_json::Value = serde_json::from_slice(&loaded.stdout).unwrap();
    let hostile = v["measurement"].as_str().unwrap().to_owned();

    // A slow call, running before the unload is asked for.
    let call = Command::new(bin("enclet"))
        .args(["plugin", "invoke", "hostile", "--input", "work:400"])
        .env("ENCLET_PARENT", app.parent_addr().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_a_running_call(&app);
    let unload = app.enclet(&["plugin", "unload", "hostile", "--json"]);
    assert!(unload.status.success(), "{}", text(&unload.stderr));
    let v: serde_json::Value = serde_json::from_slice(&unload.stdout).unwrap();
    assert_eq!(v["measurement"], hostile);
    assert_eq!(v["name"], "hostile");
    // The call in flight completed with its output.
    let call = call.wait_with_output().unwrap();
    assert!(call.status.success(), "{}", text(&call.stderr));
    assert_eq!(call.stdout, b"worked 400");

    // The next call is refused by the enclave; the other plugin serves on.
    let refused = app.enclet(&["plugin", "invoke", &hostile, "--input", "hi"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("unknown_plugin"),
        "{}",
        text(&refused.stderr)
    );
    let by_name = app.enclet(&["plugin", "unload", "hostile"]);
    assert_eq!(by_name.status.code(), Some(1), "{}", text(&by_name.stdout));
    let hi = app.enclet(&["plugin", "invoke", "echo", "--input", "hi"]);
    assert_eq!(hi.stdout, b"hi");

    // The next attestation's event log, verified against the quote, shows
    // both loads and the unload; only echo is live.
    let out_dir = app.dir.path().join("evidence");
    let out = app.enclet(&["attest", "--out", out_dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verify: Vec<String> = v["verify_command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    let mut args = verify[1..].to_vec();
    args.push("--json".to_owned());
    let checked = Command::new(bin("enclet")).args(&args).output().unwrap();
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let claims: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    // `enclet verify tpm --json`: {"claims": {TPM claims…, "claims": {neutral claims}}}.
    let claims = &claims["claims"]["claims"];
    assert_eq!(
        claims["plugin_events"],
        serde_json::json!([
            {"event": "load", "measurement": echo},
            {"event": "load", "measurement": hostile},
            {"event": "unload", "measurement": hostile},
        ]),
        "{claims}"
    );
    assert_eq!(claims["plugins"]["measurements"], serde_json::json!([echo]));
    let plain = Command::new(bin("enclet"))
        .args(&verify[1..])
        .output()
        .unwrap();
    assert!(
        text(&plain.stdout).contains(&format!("event        unload {hostile}")),
        "{}",
        text(&plain.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_change_without_a_reload() {
    let app = Appliance::start().await;
    app.load("echo").await;
    let changed = app.enclet(&[
        "plugin",
        "limits",
        "echo",
        "--max-output-bytes",
        "1",
        "--json",
    ]);
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    let v: serde_json::Value = serde_json::from_slice(&changed.stdout).unwrap();
    assert_eq!(v["limits"]["max_output_bytes"], 1);
    let big = app.enclet(&["plugin", "invoke", "echo", "--input", "hi"]);
    assert_eq!(big.status.code(), Some(1));
    assert!(
        text(&big.stderr).contains("output_too_large"),
        "{}",
        text(&big.stderr)
    );
    // No limit given is a usage error; a refused value changes nothing.
    assert_eq!(
        app.enclet(&["plugin", "limits", "echo"]).status.code(),
        Some(2)
    );
    let zero = app.enclet(&["plugin", "limits", "echo", "--fuel", "0"]);
    assert_eq!(zero.status.code(), Some(1));
    assert!(
        text(&zero.stderr).contains("invalid_limits"),
        "{}",
        text(&zero.stderr)
    );
    let back = app.enclet(&["plugin", "limits", "echo", "--max-output-bytes", "1024"]);
    assert!(back.status.success(), "{}", text(&back.stderr));
    assert_eq!(
        app.enclet(&["plugin", "invoke", "echo", "--input", "hi"])
            .stdout,
        b"hi"
    );
    let missing = app.enclet(&["plugin", "limits", "nope", "--fuel", "5"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("unknown_plugin"),
        "{}",
        text(&missing.stderr)
    );
}
