//! `enclet verify nitro` on the real AWS documents: exit codes and JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../attestation/testdata/nitro")
}

/// (file, own timestamp in seconds, debug, PCR0 hex)
const VECTORS: [(&str, u64, bool, &str); 12] = [
    (
        "01_anjuna_2021-03-17_prod.cose",
        1_616_018_515,
        false,
        "2d151586641b790f3b1b92b8f89678c3aa86e73dd97969c892124be9d2b7fdc62b58a55cd9ee8216f6f5689cebf590ad",
    ),
    (
        "02_anjuna_2021-03-24_prod_pubkey.cose",
        1_616_602_241,
        false,
        "672cd3c91b7ac756037d260051169c70b1de59c7a3a9a8253322c98763697891c722fec043cbf72a824ae5d5ac41fc41",
    ),
    (
        "03_evervault_2022-10-12_debug.cose",
        1_665_582_606,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "04_evervault_2022-10-13_prod.cose",
        1_665_651_482,
        false,
        "f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b",
    ),
    (
        "05_evervault_2023-01-18_prod_from_cert_san.cose",
        1_674_047_239,
        false,
        "d265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af",
    ),
    (
        "06_evervault_2023-01-18_debug_from_cert_san.cose",
        1_674_054_632,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "07_evervault_2023-09-18_debug.cose",
        1_695_049_410,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "08_anjuna_2023-09-21_prod.cose",
        1_695_337_797,
        false,
        "0f0b6b3e05d75450ab3cc91e6e105d2ffcb43edb4a4b7eccd63c9d2cf6e38c864ff6cfe0b8209f8b37059e8cc73469a0",
    ),
    (
        "09_anjuna_2024-01-24_debug_all_optional_fields.cose",
        1_706_120_065,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "10_base_2024-11-25_prod_rebuilt_from_sigstructure.cose",
        1_732_575_521,
        false,
        "ec74bfbe7f7445a6c7610e152935e028276f638042b74797b119648e13f7a3675796b721034c320f140ea001b41aeae2",
    ),
    (
        "11_base_2024-11-30_prod.cose",
        1_732_983_768,
        false,
        "ec74bfbe7f7445a6c7610e152935e028276f638042b74797b119648e13f7a3675796b721034c320f140ea001b41aeae2",
    ),
    (
        "12_base_2026-01-03_prod_indefinite_map.cose",
        1_767_472_867,
        false,
        "4b8d4cf2a99e05ce1b5bddaf9d21cb446eb0e606c5bebd1ebf02b473a22165f7b68b0bb0d1ac5a90f0311e493522cfab",
    ),
];

/// 2026-11-22T00:00:00Z: after every vector's certificates expired.
const LATER: &str = "1795305600";

fn enclet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enclet"))
        .arg("verify")
        .arg("nitro")
        .args(args)
        .output()
        .unwrap()
}

fn doc(name: &str) -> String {
    testdata().join(name).to_str().unwrap().to_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn all_vectors_verify_at_document_time_and_at_an_explicit_time() {
    for (name, at, debug, pcr0) in VECTORS {
        let pcr = format!("0={pcr0}");
        let mut base = vec![doc(name), "--pcr".into(), pcr];
        if debug {
            base.push("--allow-debug".into());
        }
        for when in [
            vec!["--at-document-time".to_owned()],
            vec!["--at".to_owned(), at.to_string()],
        ] {
            let mut args = base.clone();
            args.extend(when);
            args.push("--json".into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = enclet(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v = json(&out);
            assert_eq!(v["verdict"], "verified");
            assert_eq!(v["trust_basis"], "aws_nitro_root");
            assert_eq!(v["claims"]["nonce_checked"], false);
            assert_eq!(
                v["claims"]["root_sha256"],
                "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
            );
            assert_eq!(v["verified_at"], at);
            assert_eq!(v["debug"], debug);
            assert_eq!(v["claims"]["pcrs"]["0"], pcr0);
            assert_eq!(v["claims"]["digest"], "SHA384");
            assert_eq!(v["claims"]["timestamp_ms"].as_u64().unwrap() / 1000, at);
            assert!(v["claims"]["module_id"].as_str().unwrap().starts_with("i-"));
            assert_eq!(v["claims"]["certificates"].as_array().unwrap().len(), 5);
            assert!(
                v["claims"]["certificates"][0]["subject"]
                    .as_str()
                    .unwrap()
                    .contains("aws.nitro-enclaves")
            );
        }
    }
}

#[test]
fn debug_documents_need_allow_debug() {
    for (name, _, debug, _) in VECTORS.iter().filter(|v| v.2) {
        assert!(debug);
        let out = enclet(&[&doc(name), "--any-image", "--at-document-time", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let v = json(&out);
        assert_eq!(v["verdict"], "rejected");
        assert_eq!(v["error"]["code"], "nitro.policy.debug");
        // Rejected documents show their decoded, unverified fields.
        assert_eq!(v["unverified_claims"]["pcrs"]["0"], "0".repeat(96));
        assert!(v.get("claims").is_none());
        assert!(String::from_utf8_lossy(&out.stderr).contains("debug"));
    }
}

#[test]
fn all_vectors_are_rejected_today_naming_the_expired_certificate() {
    for (name, ..) in VECTORS {
        let out = enclet(&[
            &doc(name),
            "--any-image",
            "--at",
            LATER,
            "--allow-debug",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let v = json(&out);
        assert_eq!(v["error"]["code"], "nitro.chain.expired", "{name}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("cabundle[1]") && msg.contains("CN="), "{msg}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    }
    // Without --at: the current time, long after these documents expired.
    let out = enclet(&[&doc(VECTORS[11].0), "--any-image"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nitro.chain.expired"));
}

#[test]
fn policy_flags_are_enforced_with_their_error_codes() {
    let (name, at, _, pcr0) = VECTORS[8]; // debug, has every optional field
    let at = at.to_string();
    let pin0 = format!("0={pcr0}");
    let code = |extra: &[&str]| {
        let mut args = vec![
            doc(name),
            "--pcr".into(),
            pin0.clone(),
            "--at".into(),
            at.clone(),
            "--allow-debug".into(),
            "--json".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = enclet(&args);
        (
            out.status.code(),
            json(&out)["error"]["code"].as_str().map(str::to_owned),
        )
    };
    assert_eq!(code(&["--nonce", "4e6f6e63650a"]), (Some(0), None));
    assert_eq!(
        code(&["--nonce", "00"]).1.as_deref(),
        Some("nitro.policy.nonce")
    );
    let wrong = format!("4={pcr0}");
    let out = code(&["--pcr", &wrong]);
    assert_eq!(
        (out.0, out.1.as_deref()),
        (Some(1), Some("nitro.policy.pcr_mismatch"))
    );
    assert_eq!(code(&["--max-age", "0"]), (Some(0), None));
    let out = enclet(&[
        &doc(name),
        "--pcr",
        &pin0,
        "--at",
        "1706120165",
        "--allow-debug",
        "--max-age",
        "60",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["code"], "nitro.policy.too_old");
}

#[test]
fn pcr_mismatch_names_the_index() {
    let (name, ..) = VECTORS[11];
    let out = enclet(&[
        &doc(name),
        "--at-document-time",
        "--pcr",
        &format!("2={}", "ab".repeat(48)),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PCR2 is 16efcc1d") && err.contains("expected abab"),
        "{err}"
    );
}

#[test]
fn roots_can_be_pinned_from_pem() {
    let (name, at, ..) = VECTORS[11];
    let root = testdata().join("aws_nitro_enclaves_root_g1.pem");
    let out = enclet(&[
        &doc(name),
        "--any-image",
        "--at",
        &at.to_string(),
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("i-0368fa67e156d6d23-enc019b8596b1a9dad6"),
        "{stdout}"
    );
    // A PEM file that is not the pinned root: a bad --root file is a usage error.
    let not_pem = testdata().join("aws_nitro_enclaves_root_g1.der");
    let out = enclet(&[
        &doc(name),
        "--any-image",
        "--at-document-time",
        "--root",
        not_pem.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_input_and_usage_exit_codes() {
    let negative = testdata().join("negative/base_2026-01-03_as_published_truncated_key.cose");
    let out = enclet(&[
        negative.to_str().unwrap(),
        "--any-image",
        "--at-document-time",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert!(
        v["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("nitro.parse")
    );
    assert!(v["unverified_claims"].is_null());

    let out = enclet(&["/nonexistent/doc.cose", "--any-image"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    let d = doc(VECTORS[0].0);
    for bad in [
        vec![d.as_str(), "--pcr", "32=00"],
        vec![d.as_str(), "--pcr", "0=zz"],
        vec![d.as_str(), "--pcr", "0=00"],
        vec![d.as_str(), "--at", "1", "--at-document-time"],
        // The age at the document's own time is always zero: never a check.
        vec![d.as_str(), "--at-document-time", "--max-age", "60"],
        vec![d.as_str(), "--max-age", "60", "--at-document-time"],
        vec![d.as_str(), "--nonce", "abc"],
        vec![],
    ] {
        assert_eq!(enclet(&bad).status.code(), Some(2), "{bad:?}");
    }
}

/// The document of vector 12 and its PCR0, pinned.
fn pinned_12() -> (String, String) {
    let (name, _, _, pcr0) = VECTORS[11];
    (doc(name), format!("0={pcr0}"))
}

#[test]
fn without_pcr_or_any_image_it_fails_closed() {
    let (d, pin) = pinned_12();
    for extra in [vec![], vec!["--json"], vec!["--allow-debug"]] {
        let mut args = vec![d.as_str(), "--at-document-time"];
        args.extend(extra);
        let out = enclet(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "nothing verified, nothing printed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no --pcr given") && err.contains("--pcr 0=HEX"),
            "{err}"
        );
        assert!(err.contains("--any-image"), "{err}");
    }
    // The same document with its PCR pinned verifies.
    let out = enclet(&[&d, "--at-document-time", "--pcr", &pin, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["image_policy"], "pinned_pcrs");
    let out = enclet(&[&d, "--at-document-time", "--pcr", &pin]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("pinned PCRs matched"));
}

#[test]
fn any_image_accepts_a_genuine_document_and_says_so() {
    let (d, pin) = pinned_12();
    let out = enclet(&[&d, "--at-document-time", "--any-image", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["verdict"], "verified");
    assert_eq!(v["image_policy"], "any_image");
    let out = enclet(&[&d, "--at-document-time", "--any-image"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ANY image accepted (--any-image)"), "{text}");
    // Still a real verification: an expired chain is rejected.
    let out = enclet(&[&d, "--at", LATER, "--any-image", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["image_policy"], "any_image");
    // --any-image and --pcr contradict each other: usage error.
    let out = enclet(&[&d, "--at-document-time", "--any-image", "--pcr", &pin]);
    assert_eq!(out.status.code(), Some(2));
    // The help says what the flag does.
    let help = enclet(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--any-image") && help.contains("ANY enclave image"),
        "{help}"
    );
}

#[test]
fn a_pcr_index_given_twice_is_a_usage_error() {
    let (d, pin) = pinned_12();
    let out = enclet(&[&d, "--at-document-time", "--pcr", &pin, "--pcr", &pin]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pcr 0 is given more than once"), "{err}");
    // Two different indexes are fine (PCR0 matches, PCR2 is checked too).
    let other = format!("2={}", "ab".repeat(48));
    let out = enclet(&[&d, "--at-document-time", "--pcr", &pin, "--pcr", &other]);
    assert_eq!(out.status.code(), Some(1), "a mismatch, not a usage error");
}

#[test]
fn oversized_inputs_are_refused_unread() {
    let (d, pin) = pinned_12();
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&d).unwrap();
    bytes.resize(32 * 1024 + 1, 0);
    let big = dir.path().join("big.cose");
    std::fs::write(&big, &bytes).unwrap();
    let big = big.to_str().unwrap();
    let out = enclet(&[big, "--at-document-time", "--pcr", &pin]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(big) && err.contains("32768 bytes"), "{err}");
    // One byte less is read and parsed (and rejected as a document: exit 1).
    bytes.truncate(32 * 1024);
    std::fs::write(dir.path().join("big.cose"), &bytes).unwrap();
    let out = enclet(&[big, "--at-document-time", "--pcr", &pin]);
    assert_eq!(out.status.code(), Some(1));
    // A root "PEM" without a length (a device) is cut off at its bound.
    let out = enclet(&[
        &d,
        "--at-document-time",
        "--pcr",
        &pin,
        "--root",
        "/dev/zero",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("65536 bytes"));
}
