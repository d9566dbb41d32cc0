//! The `enclet` CLI as a Unix tool: `plugin invoke` reads stdin and writes
//! the raw output, `--json` wraps it, and oversized input is refused unread.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::harness::{Appliance, bin};

/// Runs `enclet ARGS` against `app` with `stdin` piped in.
fn enclet_with_stdin(app: &Appliance, args: &[&str], stdin: Vec<u8>) -> Output {
    let mut child = Command::new(bin("enclet"))
        .args(args)
        .env("ENCLET_PARENT", app.parent_addr().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // A refused input closes the pipe early: the writer's error is expected.
    let writer = std::thread::spawn(move || pipe.write_all(&stdin).is_ok());
    let out = child.wait_with_output().unwrap();
    let _ = writer.join().unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_hi_piped_into_plugin_invoke_prints_hi() {
    let app = Appliance::start().await;
    let echo = app.load("echo").await;

    // The shell pipeline of the issue, verbatim.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo hi | '{}' plugin invoke echo",
            bin("enclet").display()
        ))
        .env("ENCLET_PARENT", app.parent_addr().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hi\n");

    // Raw bytes both ways, by measurement too.
    let bytes = vec![0u8, 0xff, 0x9f, b'\n', 0];
    let out = enclet_with_stdin(&app, &["plugin", "invoke", &echo], bytes.clone());
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);

    // --input wins over stdin (which is then not read).
    let out = enclet_with_stdin(
        &app,
        &["plugin", "invoke", "echo", "--input", "given"],
        b"piped".to_vec(),
    );
    assert_eq!(out.stdout, b"given");

    // --json: the envelope instead of the raw bytes.
    let out = enclet_with_stdin(
        &app,
        &["plugin", "invoke", "echo", "--json"],
        b"hi".to_vec(),
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["measurement"], echo.as_str());
    assert_eq!(v["output_len"], 2);
    assert_eq!(v["output_hex"], "6869");
    assert_eq!(v["output_utf8"], "hi");
    let out = enclet_with_stdin(&app, &["plugin", "invoke", "echo", "--json"], vec![0xff]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output_hex"], "ff");
    assert!(v["output_utf8"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_over_the_body_bound_is_refused_and_a_large_one_passes() {
    let app = Appliance::start().await;
    app.load("echo").await;
    let max = 32 * 1024 * 1024;
    let out = enclet_with_stdin(&app, &["plugin", "invoke", "echo"], vec![b'a'; max + 1]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin is larger than 33554432 bytes"), "{err}");
    assert!(out.stdout.is_empty());
    // One byte less is sent and echoed whole.
    let out = enclet_with_stdin(&app, &["plugin", "invoke", "echo"], vec![b'a'; 1024 * 1024]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 1024 * 1024);
}
