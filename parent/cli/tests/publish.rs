//! `enclet plugin keygen | sign | verify | inspect` on the built binary, and
//! signatures that openssl makes and checks, both ways.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;

fn enclet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enclet"))
        .current_dir(dir)
        .args(["plugin"])
        .args(args)
        .env_remove("ENCLET_PARENT")
        .output()
        .unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed with the system")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha384_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha384::digest(bytes))
}

/// A temporary directory with a key pair (`acme.key`, `acme.pub`), a
/// component and its manifest.
fn publisher() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let out = enclet(&path, &["keygen", "--output-key-prefix", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(path.join("payout.wasm"), b"component bytes").unwrap();
    let manifest = format!(
        "schema = 1\nname = \"payout\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n\
         host_api = \"0.1.0\"\ncomponent_sha384 = \"{}\"\n\
         capabilities = [\"log\", \"secret:payout-hmac-key\"]\n",
        sha384_hex(b"component bytes")
    );
    std::fs::write(path.join("payout.toml"), manifest).unwrap();
    (dir, path)
}

#[test]
fn keygen_sign_and_verify_round_trip_and_reject_close_variants() {
    let (_dir, p) = publisher();
    let mode = std::fs::metadata(p.join("acme.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // keygen refuses to replace the pair.
    let again = enclet(&p, &["keygen", "--output-key-prefix", "acme"]);
    assert_eq!(again.status.code(), Some(2));

    let signed = enclet(&p, &["sign", "--key", "acme.key", "payout.toml"]);
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    std::fs::write(p.join("payout.sig"), &signed.stdout).unwrap();
    let ok = enclet(
        &p,
        &[
            "verify",
            "--key",
            "acme.pub",
            "--signature",
            "payout.sig",
            "payout.toml",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "Verified OK\n");

    // One byte more in the file: invalid, exit 1.
    let mut edited = std::fs::read(p.join("payout.toml")).unwrap();
    edited.push(b'\n');
    std::fs::write(p.join("edited.toml"), edited).unwrap();
    let bad = enclet(
        &p,
        &[
            "verify",
            "--key",
            "acme.pub",
            "--signature",
            "payout.sig",
            "edited.toml",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    // Another publisher's key: invalid, exit 1.
    enclet(&p, &["keygen", "--output-key-prefix", "other"]);
    let other = enclet(
        &p,
        &[
            "verify",
            "--key",
            "other.pub",
            "--signature",
            "payout.sig",
            "payout.toml",
        ],
    );
    assert_eq!(other.status.code(), Some(1));
    // A private key where the public one belongs, or a missing file: usage, exit 2.
    let usage = enclet(
        &p,
        &[
            "verify",
            "--key",
            "acme.key",
            "--signature",
            "payout.sig",
            "payout.toml",
        ],
    );
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage.stderr));
    let missing = enclet(
        &p,
        &[
            "verify",
            "--key",
            "acme.pub",
            "--signature",
            "nope.sig",
            "payout.toml",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    // A garbled signature is an invalid signature, exit 1.
    std::fs::write(p.join("garbled.sig"), "not base64!").unwrap();
    let garbled = enclet(
        &p,
        &[
            "verify",
            "--key",
            "acme.pub",
            "--signature",
            "garbled.sig",
            "payout.toml",
        ],
    );
    assert_eq!(garbled.status.code(), Some(1));
}

#[test]
fn openssl_signatures_verify_here_and_ours_verify_with_openssl() {
    let (_dir, p) = publisher();
    // openssl signs with our key; we verify.
    let der = openssl(&p, &["dgst", "-sha256", "-sign", "acme.key", "payout.toml"]);
    assert!(der.status.success(), "{}", text(&der.stderr));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
    std::fs::write(p.join("openssl.sig"), b64).unwrap();
    let ok = enclet(
        &p,
        &[
            "verify",
            "--key",
            "acme.pub",
            "--signature",
            "openssl.sig",
            "payout.toml",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    // We sign (to a file, as cosign's --output-signature); openssl verifies.
    let signed = enclet(
        &p,
        &[
            "sign",
            "--key",
            "acme.key",
            "--output-signature",
            "ours.sig",
            "payout.toml",
        ],
    );
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let ours = std::fs::read_to_string(p.join("ours.sig")).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(ours.trim())
        .unwrap();
    std::fs::write(p.join("ours.der"), der).unwrap();
    let checked = openssl(
        &p,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "acme.pub",
            "-signature",
            "ours.der",
            "payout.toml",
        ],
    );
    assert!(checked.status.success(), "{}", text(&checked.stdout));
    assert_eq!(text(&checked.stdout).trim(), "Verified OK");
    // ...and refuses it over other bytes, as we do.
    std::fs::write(p.join("other.toml"), b"other bytes").unwrap();
    let refused = openssl(
        &p,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "acme.pub",
            "-signature",
            "ours.der",
            "other.toml",
        ],
    );
    assert!(!refused.status.success());
}

#[test]
fn a_key_openssl_generated_signs_here_and_its_public_half_verifies() {
    let (_dir, p) = publisher();
    let generated = openssl(
        &p,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ossl.key",
        ],
    );
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    assert!(
        openssl(
            &p,
            &["pkey", "-in", "ossl.key", "-pubout", "-out", "ossl.pub"]
        )
        .status
        .success()
    );
    let signed = enclet(
        &p,
        &[
            "sign",
            "--key",
            "ossl.key",
            "--output-signature",
            "o.sig",
            "payout.toml",
        ],
    );
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let ok = enclet(
        &p,
        &[
            "verify",
            "--key",
            "ossl.pub",
            "--signature",
            "o.sig",
            "payout.toml",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
}

#[test]
fn inspect_checks_the_component_the_signature_and_the_manifest_rules() {
    let (_dir, p) = publisher();
    enclet(
        &p,
        &[
            "sign",
            "--key",
            "acme.key",
            "--output-signature",
            "payout.sig",
            "payout.toml",
        ],
    );
    let ok = enclet(
        &p,
        &[
            "inspect",
            "payout.toml",
            "--component",
            "payout.wasm",
            "--key",
            "acme.pub",
            "--signature",
            "payout.sig",
            "--json",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["name"], "payout");
    assert_eq!(v["capabilities"][1], "secret:payout-hmac-key");
    for check in ["host_api", "component", "signature"] {
        assert_eq!(v["checks"][check]["ok"], true, "{check}: {v}");
    }
    // Other component bytes: exit 1, both hashes named.
    std::fs::write(p.join("other.wasm"), b"other bytes").unwrap();
    let wrong = enclet(&p, &["inspect", "payout.toml", "--component", "other.wasm"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains(&sha384_hex(b"other bytes")),
        "{}",
        text(&wrong.stderr)
    );
    // An unknown capability, an unknown key, an unsupported host API: exit 1, named.
    let manifest = std::fs::read_to_string(p.join("payout.toml")).unwrap();
    for (from, to, named) in [
        ("\"log\",", "\"log\", \"network\",", "network"),
        ("schema = 1\n", "schema = 1\nsandbox = false\n", "sandbox"),
        ("host_api = \"0.1.0\"", "host_api = \"0.2.0\"", "0.2.0"),
    ] {
        std::fs::write(p.join("bad.toml"), manifest.replace(from, to)).unwrap();
        let bad = enclet(&p, &["inspect", "bad.toml"]);
        assert_eq!(bad.status.code(), Some(1), "{to}");
        assert!(
            text(&bad.stderr).contains(named),
            "{to}: {}",
            text(&bad.stderr)
        );
    }
}
