//! An enclave started with a publisher key loads only plugins whose manifest
//! that publisher signed: each refusal comes before compilation (the
//! component is junk that would not compile) with its own code, leaves no
//! trace, and a verified load is recorded as a signed load in the event log.

use std::path::{Path, PathBuf};
use std::process::Output;

use enclet_attestation::Measurement;
use enclet_swtpm::Swtpm;

use crate::harness::{Appliance, bin, plugin_dir};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `enclet plugin …` in `dir` without a parent.
pub(crate) fn publisher(dir: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(bin("enclet"))
        .current_dir(dir)
        .arg("plugin")
        .args(args)
        .env_remove("ENCLET_PARENT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    out
}

/// Writes `NAME.toml` pinning `component` with `capability` and `host_api`,
/// signed with `KEY.key` into `NAME.sig`; returns the two paths.
pub(crate) fn signed_manifest(
    dir: &Path,
    name: &str,
    component: &[u8],
    capability: &str,
    host_api: &str,
    key: &str,
) -> (PathBuf, PathBuf) {
    let manifest = format!(
        "schema = 1\nname = \"{name}\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n\
         host_api = \"{host_api}\"\ncomponent_sha384 = \"{}\"\ncapabilities = [\"{capability}\"]\n",
        Measurement::of_plugin(component).to_hex()
    );
    let (toml, sig) = (
        dir.join(format!("{name}.toml")),
        dir.join(format!("{name}.sig")),
    );
    std::fs::write(&toml, manifest).unwrap();
    publisher(
        dir,
        &[
            "sign",
            "--key",
            &format!("{key}.key"),
            "--output-signature",
            sig.to_str().unwrap(),
            toml.to_str().unwrap(),
        ],
    );
    (toml, sig)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_plugins_a_configured_publisher_signed_load() {
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    publisher(k, &["keygen", "--output-key-prefix", "acme"]);
    publisher(k, &["keygen", "--output-key-prefix", "stranger"]);
    let swtpm = Swtpm::start().unwrap();
    let config = swtpm.attester_config().to_string();
    let acme_pub = k.join("acme.pub");
    let app = Appliance::start_full(
        &[
            "--attester",
            &config,
            "--publisher-key",
            acme_pub.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let junk = k.join("junk.wasm");
    std::fs::write(&junk, b"not a component at all").unwrap();
    let junk_bytes = std::fs::read(&junk).unwrap();
    let echo = plugin_dir().join("echo.wasm");
    let echo_bytes = std::fs::read(&echo).unwrap();
    let load = |file: &Path, signed: Option<&(PathBuf, PathBuf)>| {
        let mut args = vec![
            "plugin".to_owned(),
            "load".to_owned(),
            file.display().to_string(),
        ];
        if let Some((toml, sig)) = signed {
            args.extend(["--manifest".to_owned(), toml.display().to_string()]);
            args.extend(["--signature".to_owned(), sig.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        app.enclet(&args)
    };
    let refused = |out: Output, code: &str| {
        assert_eq!(out.status.code(), Some(1), "{code}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains(code),
            "{code}: {}",
            text(&out.stderr)
        );
    };

    // Each refused before compiling the junk (no invalid_component), with its own code.
    refused(load(&junk, None), "unsigned_plugin");
    let by_stranger = signed_manifest(k, "a", &junk_bytes, "log", "0.1.0", "stranger");
    refused(load(&junk, Some(&by_stranger)), "untrusted_signature");
    let pins_echo = signed_manifest(k, "b", &echo_bytes, "log", "0.1.0", "acme");
    refused(load(&junk, Some(&pins_echo)), "component_mismatch");
    let unknown_cap = signed_manifest(k, "c", &junk_bytes, "network", "0.1.0", "acme");
    refused(load(&junk, Some(&unknown_cap)), "unknown_capability");
    let future_api = signed_manifest(k, "d", &junk_bytes, "log", "0.2.0", "acme");
    refused(load(&junk, Some(&future_api)), "unsupported_host_api");
    // The same junk, correctly signed, does reach the compiler.
    let junk_ok = signed_manifest(k, "e", &junk_bytes, "log", "0.1.0", "acme");
    refused(load(&junk, Some(&junk_ok)), "invalid_component");

    // Nothing was half-applied: no plugin, no event.
    let listed = app.enclet(&["plugin", "list", "--json"]);
    assert_eq!(text(&listed.stdout).trim(), r#"{"plugins":[]}"#);

    // A signed echo loads and runs, and is recorded as a signed load.
    let ok = signed_manifest(k, "echo", &echo_bytes, "log", "0.1.0", "acme");
    let loaded = load(&echo, Some(&ok));
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    assert_eq!(
        app.enclet(&["plugin", "invoke", "echo", "--input", "hi"])
            .stdout,
        b"hi"
    );
    let out_dir = app.dir.path().join("evidence");
    let out = app.enclet(&["attest", "--out", out_dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut verify: Vec<String> = v["verify_command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    verify.push("--json".to_owned());
    let checked = std::process::Command::new(bin("enclet"))
        .args(&verify[1..])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let claims: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let events = &claims["claims"]["claims"]["plugin_events"];
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    assert_eq!(events[0]["event"], "signed_load");
    assert_eq!(
        events[0]["measurement"],
        Measurement::of_plugin(&echo_bytes).to_hex()
    );
    let acme = enclet_manifest::PublicKey::from_pem(&std::fs::read(&acme_pub).unwrap()).unwrap();
    assert_eq!(events[0]["publisher_key"], hex::encode(acme.fingerprint()));
    let manifest = std::fs::read(&ok.0).unwrap();
    let digest = enclet_manifest::UnverifiedManifest::parse(&manifest)
        .unwrap()
        .digest();
    assert_eq!(events[0]["manifest_sha384"], hex::encode(digest));
}
