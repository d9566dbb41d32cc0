//! `enclet image measure` and `enclet image reference-values` on the EIF
//! fixtures written by the AWS EIF library (`image/testdata/eif`): output,
//! exit codes, and the control plane's parser accepting what is written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use enclet_control_plane::reference::ReferenceValues;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../image/testdata/eif")
}

/// PCRs the AWS library computed for a fixture: "PCR0" → hex.
fn expected(name: &str) -> BTreeMap<String, String> {
    let all: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap();
    all[name].clone()
}

fn enclet(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enclet"))
        .arg("image")
        .args(args.iter().take(1))
        .arg(file)
        .args(args.iter().skip(1))
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn measure_prints_the_pcrs_the_aws_library_computed() {
    for name in ["base.eif", "signed.eif"] {
        let out = enclet(&["measure"], &fixtures().join(name));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let lines: BTreeMap<String, String> = stdout(&out)
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(' ').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        assert_eq!(lines, expected(name), "{name}");
    }
}

#[test]
fn measure_json_names_pcrs_and_image_facts() {
    let out = enclet(&["measure", "--json"], &fixtures().join("signed.eif"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let want = expected("signed.eif");
    for i in [0, 1, 2, 8] {
        assert_eq!(v[format!("pcr{i}")], want[&format!("PCR{i}")].as_str());
    }
    assert_eq!(v["signed"], true);
    assert_eq!(v["eif_version"], 4);
    assert_eq!(v["arch"], "x86_64");
    assert_eq!(v["hash_algorithm"], "sha384");
    // Unsigned: no pcr8 key at all.
    let out = enclet(&["measure", "--json"], &fixtures().join("base.eif"));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v.get("pcr8").is_none(), "{v}");
    assert_eq!(v["signed"], false);
}

#[test]
fn an_invalid_image_exits_1_with_its_code_and_io_problems_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixtures().join("base.eif")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let bad = dir.path().join("bad.eif");
    std::fs::write(&bad, &bytes).unwrap();

    let out = enclet(&["measure"], &bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[eif_crc_mismatch]"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = enclet(&["measure", "--json"], &bad);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["error"]["code"], "eif_crc_mismatch");
    let out = enclet(&["reference-values"], &bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());

    let out = enclet(&["measure"], &dir.path().join("missing.eif"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = enclet(
        &["measure", "--max-bytes", "1000"],
        &fixtures().join("base.eif"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("larger than 1000 bytes"),
        "{}",
        stderr(&out)
    );
    // The same file under a large enough bound is measured.
    let out = enclet(
        &["measure", "--max-bytes", "100000"],
        &fixtures().join("base.eif"),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn reference_values_are_accepted_by_the_control_plane_parser() {
    for name in ["base.eif", "signed.eif"] {
        let out = enclet(&["reference-values"], &fixtures().join(name));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let refs = ReferenceValues::from_toml(&text).unwrap();
        assert!(!refs.allows_debug());
        let [image] = refs.nitro_images() else {
            panic!("{text}")
        };
        let want = expected(name);
        assert_eq!(hex::encode(image.pcr0), want["PCR0"]);
        assert_eq!(hex::encode(image.pcr1), want["PCR1"]);
        assert_eq!(hex::encode(image.pcr2), want["PCR2"]);
        assert_eq!(image.pcr8.map(hex::encode), want.get("PCR8").cloned());
        // A damaged copy of the file is refused by the same parser.
        let broken = text.replace("pcr1 = \"", "pcr1 = \"0");
        assert!(ReferenceValues::from_toml(&broken).is_err());
    }
}

#[test]
fn reference_values_out_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("reference.toml");
    let out_arg = out_path.to_str().unwrap();
    let base = fixtures().join("base.eif");
    let signed = fixtures().join("signed.eif");

    let out = enclet(&["reference-values", "--out", out_arg], &base);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let first = std::fs::read_to_string(&out_path).unwrap();
    let refs = ReferenceValues::load(&out_path).unwrap();
    assert_eq!(refs.nitro_images()[0].pcr8, None);

    let out = enclet(&["reference-values", "--out", out_arg], &signed);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), first);

    let out = enclet(&["reference-values", "--out", out_arg, "--force"], &signed);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let refs = ReferenceValues::load(&out_path).unwrap();
    assert!(refs.nitro_images()[0].pcr8.is_some());
    // Only the file itself is left: no temporary files behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // --force without --out is a usage error.
    let out = enclet(&["reference-values", "--force"], &base);
    assert_eq!(out.status.code(), Some(2));
}
