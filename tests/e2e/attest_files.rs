//! `enclet attest --out DIR` against an appliance attesting with a private
//! swtpm: the written files verify with `enclet verify tpm` and with
//! `tpm2_checkquote`, and one flipped byte fails both.

use std::path::Path;
use std::process::{Command, Output};

use enclet_swtpm::Swtpm;

use crate::harness::{Appliance, bin};

fn run(program: &Path, args: &[String]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn words(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// Runs a printed command (`enclet …` from this build, `tpm2_checkquote` from PATH).
fn run_printed(command: &[String]) -> Output {
    let program = match command[0].as_str() {
        "enclet" => bin("enclet"),
        other => other.into(),
    };
    run(&program, &command[1..])
}

fn flip_byte(path: &str, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn attest_writes_files_that_enclet_and_tpm2_checkquote_verify() {
    let swtpm = Swtpm::start().unwrap_or_else(|e| {
        panic!("cannot start swtpm: {e}\nrun scripts/setup to install swtpm and swtpm-tools")
    });
    let config = swtpm.attester_config().to_string();
    let app = Appliance::start_full(&["--attester", &config], &[]).await;
    app.load("echo").await;
    let out_dir = app.dir.path().join("evidence");
    let out_str = out_dir.to_str().unwrap();

    let out = app.enclet(&[
        "attest",
        "--nonce",
        "6e6f6e63652d3031",
        "--out",
        out_str,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        app.logs()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "tpm");
    assert_eq!(v["nonce"], "6e6f6e63652d3031");
    for file in [
        "quote.bin",
        "sig.bin",
        "ak.pub",
        "pcrs.txt",
        "event_log.bin",
        "ek.der",
    ] {
        let path = out_dir.join(file);
        assert!(std::fs::metadata(&path).unwrap().len() > 0, "{file}");
    }
    let pcrs = std::fs::read_to_string(out_dir.join("pcrs.txt")).unwrap();
    assert!(
        pcrs.contains("sha256:16=") && pcrs.contains("sha256:23="),
        "{pcrs}"
    );

    let verify = words(&v["verify_command"]);
    let checkquote = words(&v["tpm2_checkquote_command"]);
    let q = v["qualifying_data"].as_str().unwrap();
    assert!(verify.ends_with(&["--nonce".to_owned(), q.to_owned()]));
    assert!(checkquote.ends_with(&["-q".to_owned(), q.to_owned()]));

    let ok = run_printed(&verify);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(text.contains("caller_pinned_ak"), "{text}");
    let ok = run_printed(&checkquote);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // The text form prints the same commands.
    let text_out = app.enclet(&["attest", "--out", out_str]);
    assert!(text_out.status.success());
    let text = String::from_utf8_lossy(&text_out.stdout);
    assert!(
        text.contains("enclet verify tpm --quote") && text.contains("tpm2_checkquote -u"),
        "{text}"
    );

    // A nonce the quote does not bind fails both checkers.
    let mut stale = verify.clone();
    *stale.last_mut().unwrap() = "00".repeat(32);
    assert_eq!(run_printed(&stale).status.code(), Some(1));
    let mut stale = checkquote.clone();
    *stale.last_mut().unwrap() = "00".repeat(32);
    assert!(!run_printed(&stale).status.success());

    // The --json files, re-fetched: the second run overwrote them with a fresh
    // nonce, so write them again for the flip test.
    let out = app.enclet(&[
        "attest",
        "--nonce",
        "6e6f6e63652d3031",
        "--out",
        out_str,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verify = words(&v["verify_command"]);
    let checkquote = words(&v["tpm2_checkquote_command"]);
    assert!(run_printed(&verify).status.success());
    assert!(run_printed(&checkquote).status.success());
    // One byte flipped in the quote (in qualifiedSigner, past magic and type):
    // both checkers reject the same files.
    flip_byte(v["files"]["quote"].as_str().unwrap(), 20);
    let bad = run_printed(&verify);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
    assert!(!run_printed(&checkquote).status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn attest_without_an_attester_fails_and_writes_nothing() {
    let app = Appliance::start().await;
    let out_dir = app.dir.path().join("evidence");
    let out = app.enclet(&["attest", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_attester"));
    assert!(!out_dir.exists());
    // A malformed or too short nonce is a usage error, before any call.
    for nonce in ["xyz", "6e6f6e6365"] {
        let out = app.enclet(&[
            "attest",
            "--nonce",
            nonce,
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{nonce}");
    }
}
