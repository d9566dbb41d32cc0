//! `enclet demo`: the whole appliance, locally, end to end.
//!
//! 1. With `--attester tpm` (the default), provision and start a fresh swtpm
//!    (state and local CA in `<state>/swtpm`).
//! 2. Start `enclet-enclave` (with `--attester tpm:host=127.0.0.1,port=…`) and
//!    `enclet-parent` (found next to the `enclet` executable) as separate
//!    processes on Unix sockets in the state directory; each logs to a file
//!    there.
//! 3. Wait until the parent's health endpoint reports the enclave (bounded).
//! 4. Load the example plugins (`echo.wasm`, `payout.wasm`) from the plugin
//!    directory and invoke each with a sample input.
//! 5. As a verifier, attest the enclave through the parent and check the
//!    evidence in pure Rust (see `attest.rs`): EK certificate, credential
//!    activation of the AK, quote, event log, image and plugin measurements.
//! 6. Print every plugin's measurement, every result and the verified claims
//!    (text, or one JSON object with `--json`), stop the processes, exit 0.
//!    A failed verification exits 1 with the reason.
//!
//! The state directory defaults to a fresh temporary directory removed at the
//! end; with `--state-dir DIR` everything (sockets, logs) stays in `DIR`.

mod attest;
mod control_plane;
mod processes;
mod release;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::client::{CallError, ParentClient};
use super::plugin::{invoke_bytes, load_bytes};
pub use attest::AttestationReport;
use control_plane::{DemoControlPlane, SECRET_NAME};
use enclet_attestation::Measurement;
use enclet_parent::OperatorAddr;
use processes::Appliance;
pub use release::{ReleaseReport, ReleasedTo};

/// How long to wait for the processes to come up.
const READY_TIMEOUT: Duration = Duration::from_mins(1);

/// The sample plugins and their inputs.
const SAMPLES: &[(&str, &[u8])] = &[
    ("echo", b"hello from enclet"),
    (
        "payout",
        br#"{"currency":"EUR","platform":"market","fee_bps":1000,"items":[{"sku":"book-1","seller":"alice","unit_cents":2000,"quantity":2},{"sku":"mug","seller":"bob","unit_cents":1250,"quantity":1}],"royalties":[{"sku":"book-1","party":"author","bps":1500}]}"#,
    ),
];

/// `enclet demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keep sockets and logs in this directory (default: a temporary one, removed at the end).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Where the example plugins are (default: `$ENCLET_PLUGIN_DIR`, else
    /// `<dir of enclet>/../wasm32-wasip2/release`).
    #[arg(long, env = "ENCLET_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Attestation backend: a fresh swtpm (`tpm`), or none (skips attestation).
    #[arg(long, value_enum, default_value_t = DemoAttester::Tpm)]
    pub attester: DemoAttester,
}

/// The demo's attestation backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoAttester {
    /// TPM 2.0 quotes from a private swtpm, verified in pure Rust.
    Tpm,
    /// No attestation (`"attestation": null`).
    None,
}

/// The `--json` output. Later features add fields; existing ones keep their meaning.
#[derive(Debug, Default, Serialize)]
pub struct DemoReport {
    /// Loaded plugins, in load order.
    pub plugins: Vec<DemoPlugin>,
    /// Invocations, in order.
    pub invocations: Vec<DemoInvocation>,
    /// The state directory, when kept (`--state-dir`).
    pub state_dir: Option<String>,
    /// The verified attestation; `null` with `--attester none`.
    pub attestation: Option<AttestationReport>,
    /// What the control plane released to which plugin (names only); `null`
    /// with `--attester none`.
    pub release: Option<ReleaseReport>,
}

/// A loaded plugin.
#[derive(Debug, Serialize)]
pub struct DemoPlugin {
    /// Name.
    pub name: String,
    /// SHA-384 of the component, 96 lowercase hex characters.
    pub measurement: String,
    /// Component size in bytes.
    pub size_bytes: u64,
}

/// One invocation and its result.
#[derive(Debug, Serialize)]
pub struct DemoInvocation {
    /// Plugin name.
    pub plugin: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// The output (UTF-8, lossy) when `ok`, else the error `code: message`.
    pub output: String,
}

/// Runs the demo; see the module docs.
#[must_use]
pub fn run(args: &DemoArgs) -> ExitCode {
    match super::block_on(demo(args)) {
        Ok(Ok(report)) => {
            if args.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            if report.invocations.iter().all(|i| i.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Ok(Err(message)) | Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<DemoReport, String> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .ok_or("cannot locate the enclet executable")?;
    let plugin_dir = args
        .plugin_dir
        .clone()
        .unwrap_or_else(|| exe_dir.join("../wasm32-wasip2/release"));
    let plugins = read_plugins(&plugin_dir)?;

    let (state_dir, _temp) = state_dir(args.state_dir.as_deref())?;
    let say = |line: String| {
        if !args.json {
            println!("{line}");
        }
    };
    say(format!("state directory: {}", state_dir.display()));
    // Declared before the appliance so it stops after the enclave.
    let swtpm = match args.attester {
        DemoAttester::Tpm => {
            let swtpm = attest::start_swtpm(&state_dir.join("swtpm")).await?;
            say(format!("started swtpm on 127.0.0.1:{}", swtpm.port()));
            Some(swtpm)
        }
        DemoAttester::None => None,
    };
    let enclave_args = swtpm
        .as_ref()
        .map(|s| vec!["--attester".to_owned(), s.attester_config().to_string()])
        .unwrap_or_default();
    let mut control_plane = match &swtpm {
        Some(swtpm) => Some(start_control_plane(&exe_dir, &state_dir, swtpm, &plugins).await?),
        None => None,
    };
    if let Some((cp, _)) = &control_plane {
        say(format!(
            "started enclet-control-plane at {} (CA {}); stored secret {SECRET_NAME}",
            cp.url,
            cp.ca.display()
        ));
    }
    let parent_args = control_plane
        .as_ref()
        .map(|(cp, _)| {
            vec![
                "--control-plane".to_owned(),
                cp.url.clone(),
                "--control-plane-ca".to_owned(),
                cp.ca.display().to_string(),
            ]
        })
        .unwrap_or_default();
    let mut appliance = Appliance::start(&exe_dir, &state_dir, &enclave_args, &parent_args)?;
    say(format!(
        "started enclet-enclave (pid {}) and enclet-parent (pid {}); logs in {}",
        appliance.enclave_pid(),
        appliance.parent_pid(),
        state_dir.display()
    ));
    let client = ParentClient::new(OperatorAddr::Unix(appliance.parent_socket().to_path_buf()));
    let releasing = control_plane
        .as_ref()
        .map(|(cp, key)| (cp.url.as_str(), key.as_slice()));
    let result = match appliance.wait_ready(&client, READY_TIMEOUT).await {
        Ok(()) => exercise(&client, plugins, releasing, &say).await,
        Err(e) => Err(e),
    };
    let result = match (result, &swtpm) {
        (Ok(mut report), Some(swtpm)) => {
            let enclave_exe = exe_dir.join("enclet-enclave");
            match attestation(&client, swtpm, &enclave_exe, &report).await {
                Ok(verified) => {
                    say_attestation(&verified, &say);
                    report.attestation = Some(verified);
                    Ok(report)
                }
                Err(e) => Err(format!("attestation failed: {e}")),
            }
        }
        (other, _) => other,
    };
    let stopped = appliance.stop().await;
    let cp_stopped = match &mut control_plane {
        Some((cp, _)) => cp.stop().await,
        None => Ok(()),
    };
    let mut report = result?;
    stopped?;
    cp_stopped?;
    say(if control_plane.is_some() {
        "stopped enclet-parent, enclet-enclave and enclet-control-plane".to_owned()
    } else {
        "stopped enclet-parent and enclet-enclave".to_owned()
    });
    report.state_dir = args.state_dir.as_ref().map(|d| d.display().to_string());
    Ok(report)
}

/// Verifies the appliance's attestation of the plugins in `report`.
async fn attestation(
    client: &ParentClient,
    swtpm: &enclet_swtpm::Swtpm,
    enclave_exe: &Path,
    report: &DemoReport,
) -> Result<AttestationReport, String> {
    let loaded = report
        .plugins
        .iter()
        .map(|p| p.measurement.parse())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a loaded plugin's measurement: {e}"))?;
    attest::verify(client, swtpm, enclave_exe, &loaded).await
}

/// Starts the control plane with a policy that grants the payout plugin the
/// secret `payout-hmac-key` and the echo plugin nothing, and stores a fresh
/// random key under that name. Returns the key: the demo plays the operator
/// who made it, and checks the payout plugin's MAC with it.
async fn start_control_plane(
    exe_dir: &Path,
    state_dir: &Path,
    swtpm: &enclet_swtpm::Swtpm,
    plugins: &[(&'static str, Vec<u8>)],
) -> Result<(DemoControlPlane, zeroize::Zeroizing<Vec<u8>>), String> {
    let image = attest::image_measurement(&exe_dir.join("enclet-enclave")).await?;
    let grants: Vec<(Measurement, &[&str])> = plugins
        .iter()
        .map(|(name, bytes)| {
            let secrets: &[&str] = if *name == "payout" {
                &[SECRET_NAME]
            } else {
                &[]
            };
            (Measurement::of_plugin(bytes), secrets)
        })
        .collect();
    let cp = DemoControlPlane::start(exe_dir, state_dir, swtpm, &image, &grants).await?;
    let mut key = zeroize::Zeroizing::new(vec![0u8; 32]);
    aws_lc_rs::rand::fill(&mut key).map_err(|_| "the system CSPRNG failed".to_owned())?;
    cp.put_secret(SECRET_NAME, &key).await?;
    Ok((cp, key))
}

fn say_attestation(a: &AttestationReport, say: &impl Fn(String)) {
    say(format!("attestation ({}): verified", a.attester));
    say("  EK certificate  chains to the swtpm CA".to_owned());
    say("  AK              activated against the EK (credential activation)".to_owned());
    say(format!("  image           {}", a.image));
    for p in &a.plugins {
        say(format!("  plugin          {p}"));
    }
    say(format!("  public key      {}", a.public_key));
    say(format!("  nonce           {}", a.nonce));
    for (index, value) in &a.pcrs {
        say(format!("  PCR {index:<11} {value}"));
    }
}

/// The given state directory (created if missing), or a fresh temporary one
/// that is removed when the returned guard drops.
fn state_dir(given: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    if let Some(dir) = given {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        return Ok((dir.to_path_buf(), None));
    }
    let t = tempfile::Builder::new()
        .prefix("enclet-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    Ok((t.path().to_path_buf(), Some(t)))
}

fn read_plugins(dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    SAMPLES
        .iter()
        .map(|(name, _)| {
            let path = dir.join(format!("{name}.wasm"));
            std::fs::read(&path).map(|b| (*name, b)).map_err(|e| {
                format!(
                    "cannot read {}: {e} (build the plugins with scripts/build-plugins, \
                     or pass --plugin-dir / set ENCLET_PLUGIN_DIR)",
                    path.display()
                )
            })
        })
        .collect()
}

async fn exercise(
    client: &ParentClient,
    plugins: Vec<(&'static str, Vec<u8>)>,
    releasing: Option<(&str, &[u8])>,
    say: &impl Fn(String),
) -> Result<DemoReport, String> {
    let mut report = DemoReport::default();
    let mut loaded = Vec::new();
    say("plugins:".to_owned());
    for (name, bytes) in plugins {
        let answer = load_bytes(client, name, bytes)
            .await
            .map_err(|e| format!("loading {name}: {e}"))?;
        say(format!(
            "  {:<8} {}  {} bytes",
            answer.name, answer.measurement, answer.size_bytes
        ));
        loaded.push((name, answer.measurement.clone()));
        report.plugins.push(DemoPlugin {
            name: answer.name,
            measurement: answer.measurement,
            size_bytes: answer.size_bytes,
        });
    }
    let release = match releasing {
        Some((url, _)) => Some(wait_release(client, url, &report, say).await?),
        None => None,
    };
    say("invocations:".to_owned());
    for ((name, measurement), (_, input)) in loaded.into_iter().zip(SAMPLES) {
        let result = invoke_bytes(client, &measurement, input.to_vec()).await;
        let invocation = match result {
            Ok(out) => DemoInvocation {
                plugin: name.to_owned(),
                ok: true,
                output: String::from_utf8_lossy(&out).into_owned(),
            },
            Err(CallError::Transport(e)) => return Err(e),
            Err(e) => DemoInvocation {
                plugin: name.to_owned(),
                ok: false,
                output: e.to_string(),
            },
        };
        say(format!(
            "  {:<8} {} {}",
            invocation.plugin,
            if invocation.ok { "ok   " } else { "ERROR" },
            invocation.output
        ));
        report.invocations.push(invocation);
    }
    if let (Some(mut release), Some((_, key))) = (release, releasing) {
        let payout = report
            .invocations
            .iter()
            .find(|i| i.plugin == "payout" && i.ok)
            .ok_or("the payout plugin did not answer")?;
        release::verify_payout_mac(&payout.output, key)?;
        release.payout_mac = "verified";
        say(format!(
            "  payout's mac verifies with the {SECRET_NAME} the control plane released to it"
        ));
        report.release = Some(release);
    }
    Ok(report)
}

/// Waits for the parent's attestation round to the control plane to cover
/// every loaded plugin, and says who received what (names only).
async fn wait_release(
    client: &ParentClient,
    url: &str,
    report: &DemoReport,
    say: &impl Fn(String),
) -> Result<ReleaseReport, String> {
    let loaded: Vec<String> = report
        .plugins
        .iter()
        .map(|p| p.measurement.clone())
        .collect();
    let (expires_at, plugins) = release::wait(client, &loaded).await?;
    say("release (attested by the control plane, sealed to the enclave key):".to_owned());
    for p in &plugins {
        say(format!(
            "  {:<8} {}",
            p.name.as_deref().unwrap_or("?"),
            if p.secrets.is_empty() {
                "no secrets".to_owned()
            } else {
                p.secrets.join(", ")
            }
        ));
    }
    Ok(ReleaseReport {
        control_plane: url.to_owned(),
        expires_at,
        plugins,
        payout_mac: "not checked",
    })
}
