//! `enclet plugin invoke` input handling that needs no running parent: the
//! input is read (and bounded) before the parent is contacted.
#![allow(clippy::unwrap_used, reason = "test code")]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// Runs `enclet plugin invoke echo EXTRA…` against a parent that is not there.
fn invoke_nowhere(extra: &[&str], stdin: Vec<u8>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("unix:{}", dir.path().join("absent.sock").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_enclet"))
        .args(["plugin", "invoke", "echo"])
        .args(extra)
        .env("ENCLET_PARENT", addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || pipe.write_all(&stdin).is_ok());
    let out = child.wait_with_output().unwrap();
    let _ = writer.join().unwrap();
    out
}

#[test]
fn oversized_stdin_is_refused_before_the_parent_is_contacted() {
    let out = invoke_nowhere(&[], vec![0; 32 * 1024 * 1024 + 1]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin is larger than 33554432 bytes"), "{err}");
    // At the bound the input is read, then the (absent) parent is called.
    let out = invoke_nowhere(&[], vec![0; 32 * 1024 * 1024]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the parent"), "{err}");
}

#[test]
fn oversized_input_files_are_refused_unread() {
    let out = invoke_nowhere(&["--input-file", "/dev/zero"], Vec::new());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/zero is larger than 33554432 bytes"),
        "{err}"
    );
    let out = invoke_nowhere(&["--input-file", "/dev/null"], Vec::new());
    assert_eq!(
        out.status.code(),
        Some(1),
        "read (empty), then the call fails"
    );
}
