//! `enclet verify tpm` on the real GCP quote and the swtpm quotes: exit codes,
//! caveats and JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::many_single_char_names,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn testdata(file: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../attestation/testdata/tpm");
    std::fs::read(dir.join(file)).unwrap()
}

/// The GCP vector's files, written to a fresh directory.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn gcp() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, src) in [
            ("quote", "gcp_quote.bin"),
            ("sig", "gcp_signature.bin"),
            ("ak", "gcp_ak_public.bin"),
            ("pcrs", "gcp_pcrs.txt"),
        ] {
            std::fs::write(dir.path().join(name), testdata(src)).unwrap();
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn enclet(args: &[&Path], extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enclet"));
    cmd.args(["verify", "tpm"]);
    for (flag, path) in ["--quote", "--signature", "--ak-public"].iter().zip(args) {
        cmd.arg(flag).arg(path);
    }
    cmd.args(extra).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn real_quote_with_its_pcrs_verifies() {
    let f = Files::gcp();
    let pcrs = f.path("pcrs");
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--pcrs", pcrs.to_str().unwrap(), "--nonce", "", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["verdict"], "verified");
    assert_eq!(v["pcrs_checked"], true);
    assert_eq!(v["nonce_checked"], true);
    assert_eq!(v["claims"]["signature_hash"], "sha1");
    assert_eq!(v["claims"]["pcrs"].as_array().unwrap().len(), 24);
    assert_eq!(
        v["claims"]["pcr_digest"],
        "a610f27bc687ce906243287d832706036e79f6e1"
    );
    assert_eq!(v["claims"]["claims"]["evidence"], "tpm");
    // Human output lists the checked values.
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--pcrs", pcrs.to_str().unwrap(), "--nonce", ""],
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("sha1:0       51c323de0c0c694f4601cdd02beb58ff13629f74"),
        "{out}"
    );
    assert!(!out.contains("PCR values were not checked"), "{out}");
}

#[test]
fn without_pcrs_it_says_pcr_values_were_not_checked() {
    let f = Files::gcp();
    let o = enclet(&[&f.path("quote"), &f.path("sig"), &f.path("ak")], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("PCR values were not checked"), "{out}");
    assert!(out.contains("extraData was not checked"), "{out}");
    assert!(out.contains("(not checked)"), "{out}");
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--json"],
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["pcrs_checked"], false);
    assert!(v["claims"]["pcrs"][0]["value"].is_null());
}

#[test]
fn flipped_bytes_are_rejected_with_a_code() {
    let f = Files::gcp();
    let pcrs = f.path("pcrs");
    let quote = testdata("gcp_quote.bin");
    let sig = testdata("gcp_signature.bin");
    // A byte of the pcrDigest, of extraData's neighbourhood, and of the signature.
    for (i, which) in [
        (quote.len() - 1, "quote"),
        (40, "quote"),
        (sig.len() - 1, "sig"),
    ] {
        let mut bytes = if which == "quote" {
            quote.clone()
        } else {
            sig.clone()
        };
        bytes[i] ^= 0x01;
        let bad = f.write("bad", &bytes);
        let (q, s) = if which == "quote" {
            (bad.clone(), f.path("sig"))
        } else {
            (f.path("quote"), bad.clone())
        };
        let o = enclet(
            &[&q, &s, &f.path("ak")],
            &["--pcrs", pcrs.to_str().unwrap(), "--json"],
        );
        assert_eq!(o.status.code(), Some(1), "{which} byte {i}");
        assert!(
            stderr(&o).contains("rejected [tpm.signature]"),
            "{}",
            stderr(&o)
        );
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["verdict"], "rejected");
        assert_eq!(v["error"]["code"], "tpm.signature");
    }
    // A PCR value edited in transit, and a wrong nonce.
    let text = String::from_utf8(testdata("gcp_pcrs.txt")).unwrap();
    let edited = f.write("edited", text.replace("sha1:0=51", "sha1:0=50").as_bytes());
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--pcrs", edited.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("[tpm.pcr_digest]"), "{}", stderr(&o));
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--nonce", "00"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("[tpm.nonce]"), "{}", stderr(&o));
    // A truncated quote.
    let short = f.write("short", &quote[..30]);
    let o = enclet(&[&short, &f.path("sig"), &f.path("ak")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("[tpm.parse.truncated]"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_file_or_bad_usage_is_status_2() {
    let f = Files::gcp();
    let missing = f.path("does-not-exist");
    let o = enclet(&[&f.path("quote"), &missing, &f.path("ak")], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--nonce", "xyz"],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = enclet(&[&f.path("quote")], &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn oversized_or_endless_inputs_are_refused_unread_with_status_2() {
    let f = Files::gcp();
    // One byte over the 1 MiB bound, as the quote, and as the event log.
    let big = f.write("big", &vec![0u8; 1024 * 1024 + 1]);
    let o = enclet(&[&big, &f.path("sig"), &f.path("ak")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("larger than 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    let log = big.to_str().unwrap();
    let pcrs = f.path("pcrs");
    let o = enclet(
        &[&f.path("quote"), &f.path("sig"), &f.path("ak")],
        &["--pcrs", pcrs.to_str().unwrap(), "--event-log", log],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("larger than"), "{}", stderr(&o));
    // A device that never ends is cut at the bound, not read forever.
    let o = enclet(
        &[Path::new("/dev/zero"), &f.path("sig"), &f.path("ak")],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("larger than"), "{}", stderr(&o));
    // At the bound's side of the line, the same file size is read and judged
    // as evidence (exit 1: not a quote), not refused as too large.
    let fits = f.write("fits", &vec![0u8; 1024 * 1024]);
    let o = enclet(&[&fits, &f.path("sig"), &f.path("ak")], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn swtpm_quote_with_nonce_and_pcrs_verifies() {
    let f = Files::gcp();
    let q = f.write("q", &testdata("swtpm/ecc_quote.bin"));
    let s = f.write("s", &testdata("swtpm/ecc_quote_sig.bin"));
    let ak = f.write("ak2", &testdata("swtpm/ak_ecc_public.bin"));
    let pcrs = f.write("p", &testdata("swtpm/pcrs.txt"));
    let o = enclet(
        &[&q, &s, &ak],
        &[
            "--pcrs",
            pcrs.to_str().unwrap(),
            "--nonce",
            "6e6f6e6365",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["claims"]["signature_hash"], "sha256");
    assert_eq!(
        v["claims"]["claims"]["image"],
        "f3489ef80172afd53bc6647f9b07f9b50790b03c0e1b21322becd6533d8ec077"
    );
}

#[test]
fn malformed_pcrs_or_event_log_file_is_status_2() {
    let f = Files::gcp();
    let files = [f.path("quote"), f.path("sig"), f.path("ak")];
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for (name, bytes) in [
        ("syntax", b"sha256:16=zz\n".as_slice()),
        ("bank", b"sha999:16=00\n".as_slice()),
        ("utf8", b"\xff\xfe".as_slice()),
    ] {
        let bad = f.write(name, bytes);
        let o = enclet(&files, &["--pcrs", bad.to_str().unwrap(), "--json"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("malformed --pcrs file"),
            "{}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "no verdict: {}", stdout(&o));
    }
    // A well-formed file that does not match is rejected evidence instead.
    let text = String::from_utf8(testdata("gcp_pcrs.txt")).unwrap();
    let edited = f.write("edited", text.replace("sha1:0=51", "sha1:0=50").as_bytes());
    let o = enclet(&files, &["--pcrs", edited.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // The swtpm quote, whose sha256:16 holds plugin measurements.
    let q = f.write("q", &testdata("swtpm/ecc_quote.bin"));
    let s = f.write("s", &testdata("swtpm/ecc_quote_sig.bin"));
    let ak = f.write("ak2", &testdata("swtpm/ak_ecc_public.bin"));
    let swtpm_pcrs = f.write("p", &testdata("swtpm/pcrs.txt"));
    let garbage = f.write("log", b"not an event log");
    let o = enclet(
        &[&q, &s, &ak],
        &[
            "--pcrs",
            swtpm_pcrs.to_str().unwrap(),
            "--event-log",
            garbage.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("malformed --event-log file"),
        "{}",
        stderr(&o)
    );
    // A well-formed log that does not replay to sha256:16: rejected, status 1.
    let empty = f.write(
        "empty",
        &enclet_attestation::event_log::EventLog::new().to_bytes(),
    );
    let o = enclet(
        &[&q, &s, &ak],
        &[
            "--pcrs",
            swtpm_pcrs.to_str().unwrap(),
            "--event-log",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("rejected ["), "{}", stderr(&o));
}

#[test]
fn output_names_the_trust_basis_and_what_was_checked() {
    let f = Files::gcp();
    let pcrs = f.path("pcrs");
    let files = [f.path("quote"), f.path("sig"), f.path("ak")];
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    // The AK comes from the command line: it is pinned by the caller, never
    // "activated", whatever else was checked.
    let o = enclet(
        &files,
        &["--pcrs", pcrs.to_str().unwrap(), "--nonce", "", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["trust_basis"], "caller_pinned_ak");
    assert_eq!(v["nonce_checked"], true);
    assert_eq!(v["pcrs_checked"], true);
    assert_eq!(v["event_log_checked"], false);
    let claims = &v["claims"]["claims"];
    assert_eq!(claims["trust_basis"]["kind"], "caller_pinned_ak");
    assert_eq!(claims["trust_basis"]["ak_name"], v["claims"]["ak_name"]);
    assert_eq!(
        claims["checked"],
        serde_json::json!({"nonce": true, "pcrs": true, "event_log": false})
    );
    // No event log given: the plugins are unknown, not an empty list.
    assert_eq!(
        claims["plugins"],
        serde_json::json!({"status": "not_checked"})
    );
    // The image PCR (sha256:23) is not in this SHA-1 quote.
    assert!(claims["image"].is_null());
    let caveats = v["caveats"].to_string();
    assert!(caveats.contains("caller_pinned_ak"), "{caveats}");
    assert!(caveats.contains("plugins were not checked"), "{caveats}");

    // The text form says the same.
    let o = enclet(&files, &["--pcrs", pcrs.to_str().unwrap(), "--nonce", ""]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("trust_basis  caller_pinned_ak\n"), "{out}");
    assert!(out.contains("plugins      (not checked)\n"), "{out}");
    assert!(out.contains("no credential activation"), "{out}");
}
