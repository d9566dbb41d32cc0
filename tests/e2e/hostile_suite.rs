//! Hostile loads beside plugins that keep serving, with real processes: a
//! component importing an interface the host does not provide, and a signed
//! manifest pinning other bytes than those sent. Each is refused at load with
//! its own code while a call of another plugin is running, that call
//! completes, the plugins already loaded keep answering, and nothing of the
//! refused load is registered.
//!
//! (Asking for another plugin's secret is covered in `release/flow.rs`, with
//! a real control plane releasing it.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use enclet_swtpm::Swtpm;

use crate::harness::{Appliance, api_error, bin, load_via_api, plugin, plugin_dir};
use crate::signed::{publisher, signed_manifest};
use crate::unload::wait_for_a_running_call;

/// The interface `sdk/plugins/stranger` imports and the host does not link.
const INTENTS: &str = "enclet:plugin/intents@0.1.0";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `enclet plugin load FILE` with limits that let `work:400` finish, and the
/// manifest and signature if given.
fn load_cli(app: &Appliance, file: &Path, signed: Option<&(PathBuf, PathBuf)>) -> Output {
    let mut args = vec![
        "plugin".to_owned(),
        "load".to_owned(),
        file.display().to_string(),
        "--fuel".to_owned(),
        "100000000000".to_owned(),
        "--deadline-ms".to_owned(),
        "60000".to_owned(),
    ];
    if let Some((toml, sig)) = signed {
        args.extend(["--manifest".to_owned(), toml.display().to_string()]);
        args.extend(["--signature".to_owned(), sig.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    app.enclet(&args)
}

/// A slow `hostile` call (`work:400`) through the CLI, running once this returns.
fn slow_call(app: &Appliance) -> Child {
    let call = Command::new(bin("enclet"))
        .args(["plugin", "invoke", "hostile", "--input", "work:400"])
        .env("ENCLET_PARENT", app.parent_addr().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_a_running_call(app);
    call
}

/// The refused load: exit 1 naming `code` (and `also`, if given).
fn assert_refused(out: &Output, code: &str, also: Option<&str>) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{code}: {stderr}");
    assert!(stderr.contains(code), "{code}: {stderr}");
    if let Some(also) = also {
        assert!(stderr.contains(also), "{also}: {stderr}");
    }
}

/// The slow call finished with its output, echo answers, and exactly
/// `names` are loaded.
async fn assert_others_served(app: &Appliance, call: Child, echo: &str, names: &[&str]) {
    let call = call.wait_with_output().unwrap();
    assert!(call.status.success(), "{}", text(&call.stderr));
    assert_eq!(call.stdout, b"worked 400");
    assert_eq!(
        app.invoke(echo, b"still here").await.unwrap(),
        b"still here"
    );
    let list = app.enclet(&["plugin", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let loaded: Vec<&str> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, names);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_importing_what_the_host_lacks_is_refused_at_load_while_others_serve() {
    let app = Appliance::start().await;
    let echo = app.load("echo").await;
    // hostile imports WASI, log and secrets like any std plugin: it loads.
    let loaded = load_cli(&app, &plugin_dir().join("hostile.wasm"), None);
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    let call = slow_call(&app);

    // Through the API: 422 with its own code, naming the import.
    let err = load_via_api(&app.api(), "stranger", plugin("stranger"))
        .await
        .unwrap_err();
    let (status, code, message) = api_error(err);
    assert_eq!(
        (status, code.as_str()),
        (422, "unsupported_import"),
        "{message}"
    );
    assert!(message.contains(INTENTS), "{message}");
    // Through the CLI, the same.
    let stranger = plugin_dir().join("stranger.wasm");
    assert_refused(
        &load_cli(&app, &stranger, None),
        "unsupported_import",
        Some(INTENTS),
    );
    // Nothing registered: even an input that would not reach the import
    // finds no plugin.
    let out = app.enclet(&["plugin", "invoke", "stranger", "--input", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown_plugin"),
        "{}",
        text(&out.stderr)
    );

    assert_others_served(&app, call, &echo, &["echo", "hostile"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_pinning_other_bytes_is_refused_while_others_serve() {
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    publisher(k, &["keygen", "--output-key-prefix", "acme"]);
    let swtpm = Swtpm::start().unwrap_or_else(|e| {
        panic!("cannot start swtpm: {e}\nrun scripts/setup to install swtpm and swtpm-tools")
    });
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
    let signed =
        |name: &str, pinned: &[u8]| signed_manifest(k, name, pinned, "log", "0.1.0", "acme");
    let echo_path = plugin_dir().join("echo.wasm");
    let hostile_path = plugin_dir().join("hostile.wasm");
    let payout_path = plugin_dir().join("payout.wasm");
    let (echo_bytes, hostile_bytes, payout_bytes) =
        (plugin("echo"), plugin("hostile"), plugin("payout"));
    for (path, bytes, name) in [
        (&echo_path, &echo_bytes, "echo"),
        (&hostile_path, &hostile_bytes, "hostile"),
    ] {
        let loaded = load_cli(&app, path, Some(&signed(name, bytes)));
        assert!(loaded.status.success(), "{name}: {}", text(&loaded.stderr));
    }
    let echo = enclet_attestation::Measurement::of_plugin(&echo_bytes).to_hex();
    let call = slow_call(&app);

    // payout's bytes under a manifest (correctly signed) that pins echo's.
    let pins_echo = signed("payout", &echo_bytes);
    assert_refused(
        &load_cli(&app, &payout_path, Some(&pins_echo)),
        "component_mismatch",
        None,
    );
    // A correctly signed manifest does not make a stranger's imports acceptable.
    let stranger_path = plugin_dir().join("stranger.wasm");
    let stranger = signed("stranger", &plugin("stranger"));
    assert_refused(
        &load_cli(&app, &stranger_path, Some(&stranger)),
        "unsupported_import",
        Some(INTENTS),
    );

    assert_others_served(&app, call, &echo, &["echo", "hostile"]).await;
    // The close variant: a manifest pinning payout's own bytes loads.
    let own = signed("payout", &payout_bytes);
    let loaded = load_cli(&app, &payout_path, Some(&own));
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
}
