//! `enclet plugin keygen | sign | verify | inspect`: a publisher's tools,
//! offline (no parent needed).
//!
//! Signatures are cosign's blob format (see [`enclet_manifest::signature`]):
//! `enclet plugin sign --key KEY FILE > SIG` and `enclet plugin verify --key
//! PUB --signature SIG FILE` mirror `cosign sign-blob` / `cosign verify-blob`,
//! and openssl makes and checks the same signatures.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use enclet_manifest::signature::verify_manifest;
use enclet_manifest::{ManifestError, PublicKey, SigningKey, UnverifiedManifest};
use serde_json::json;

use super::Failure;

/// The largest file `sign` and `verify` read (a manifest, or any blob).
const MAX_BLOB_BYTES: u64 = 32 * 1024 * 1024;
/// The largest key or signature file read.
const MAX_SMALL_FILE: u64 = 16 * 1024;

pub(super) const KEYGEN_HELP: &str = "\
Writes PREFIX.key (the private key, PEM PKCS#8 ECDSA P-256, mode 0600) and
PREFIX.pub (the public key, PEM SPKI): the formats `cosign sign-blob --key`
and openssl read. Existing files are not replaced unless --force is given.
Give PREFIX.pub to operators: the enclave's configuration lists the publisher
keys it accepts. Exit status 0 written, 2 usage error or a failed write.

Examples:
  enclet plugin keygen --output-key-prefix acme
  openssl pkey -in acme.key -pubout    # the same public key";

pub(super) const SIGN_HELP: &str = "\
Signs FILE's exact bytes (a plugin manifest, usually) and prints the signature
as cosign does: base64 of the DER ECDSA P-256 SHA-256 signature. With
--output-signature the signature is written to that file (no newline).
Exit status 0 signed, 2 usage error (unreadable file, not a P-256 PKCS#8 key).

Examples:
  enclet plugin sign --key acme.key payout.toml > payout.toml.sig
  openssl dgst -sha256 -sign acme.key payout.toml | base64 -w0   # equivalent";

pub(super) const VERIFY_HELP: &str = "\
Checks a cosign-format signature over FILE's exact bytes with a PEM public
key (SPKI). Prints `Verified OK`. Exit status 0 valid, 1 invalid (another
key, other bytes, a malformed signature), 2 usage error (unreadable file,
not a P-256 public key).

Examples:
  enclet plugin verify --key acme.pub --signature payout.toml.sig payout.toml
  cosign verify-blob --key acme.pub --signature payout.toml.sig payout.toml";

pub(super) const INSPECT_HELP: &str = "\
Parses a plugin manifest strictly (unknown keys and capabilities are errors
naming them) and prints its fields. With --component, checks that the
component's SHA-384 is the one the manifest pins; with --key and --signature,
checks the publisher's signature; always checks that this build serves the
host API version the manifest targets. Exit status 0 every check passed,
1 a check failed or the manifest is invalid, 2 usage error.

Examples:
  enclet plugin inspect payout.toml --component payout.wasm
  enclet plugin inspect payout.toml --key acme.pub --signature payout.toml.sig --json";

/// `enclet plugin keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Prefix of the two files written (PREFIX.key, PREFIX.pub).
    #[arg(long, default_value = "publisher", value_name = "PREFIX")]
    pub output_key_prefix: String,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// `enclet plugin sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key (PEM PKCS#8, ECDSA P-256).
    #[arg(long, value_name = "KEY.pem")]
    pub key: PathBuf,
    /// Write the signature to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_signature: Option<PathBuf>,
    /// The file to sign.
    pub file: PathBuf,
}

/// `enclet plugin verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The publisher's public key (PEM SPKI, ECDSA P-256).
    #[arg(long, value_name = "PUB.pem")]
    pub key: PathBuf,
    /// The signature file (base64 DER, as cosign writes it).
    #[arg(long, value_name = "SIG")]
    pub signature: PathBuf,
    /// The signed file.
    pub file: PathBuf,
}

/// `enclet plugin inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The manifest (TOML).
    pub manifest: PathBuf,
    /// The component the manifest should pin.
    #[arg(long, value_name = "FILE.wasm")]
    pub component: Option<PathBuf>,
    /// The publisher's public key, to check --signature.
    #[arg(long, value_name = "PUB.pem", requires = "signature")]
    pub key: Option<PathBuf>,
    /// The manifest's signature.
    #[arg(long, value_name = "SIG", requires = "key")]
    pub signature: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn usage(message: String) -> Failure {
    Failure { status: 2, message }
}

fn invalid(e: &ManifestError) -> Failure {
    Failure {
        status: 1,
        message: e.to_string(),
    }
}

fn read(path: &Path, max: u64) -> Result<Vec<u8>, Failure> {
    crate::bounded::read_file(path, max).map_err(|e| usage(e.to_string()))
}

/// The headers that carry a manifest and its signature with a load (both or
/// neither; clap enforces that).
pub(super) fn signed_headers(
    manifest: Option<&Path>,
    signature: Option<&Path>,
) -> Result<Vec<(&'static str, String)>, Failure> {
    use base64::Engine as _;
    let (Some(manifest), Some(signature)) = (manifest, signature) else {
        return Ok(Vec::new());
    };
    let manifest = read(
        manifest,
        enclet_manifest::manifest::MAX_MANIFEST_BYTES as u64,
    )?;
    let signature = read(signature, MAX_SMALL_FILE)?;
    let signature = String::from_utf8(signature)
        .map_err(|_| usage("the signature file is not base64 text".to_owned()))?;
    Ok(vec![
        (
            "enclet-manifest",
            base64::engine::general_purpose::STANDARD.encode(manifest),
        ),
        ("enclet-signature", signature.trim().to_owned()),
    ])
}

pub(super) fn keygen(args: &KeygenArgs) -> Result<(), Failure> {
    let key_path = PathBuf::from(format!("{}.key", args.output_key_prefix));
    let pub_path = PathBuf::from(format!("{}.pub", args.output_key_prefix));
    if !args.force {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                return Err(usage(format!(
                    "{} exists: pass --force to replace it",
                    p.display()
                )));
            }
        }
    }
    let key = SigningKey::generate().map_err(|e| usage(e.to_string()))?;
    let private = key.to_pem().map_err(|e| usage(e.to_string()))?;
    write_private(&key_path, private.as_bytes())?;
    std::fs::write(&pub_path, key.public_key().to_pem())
        .map_err(|e| usage(format!("cannot write {}: {e}", pub_path.display())))?;
    println!(
        "wrote {} (private, 0600) and {} (public key sha256:{})",
        key_path.display(),
        pub_path.display(),
        hex::encode(key.public_key().fingerprint())
    );
    Ok(())
}

/// Writes a private key readable by its owner only, from its creation on.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))
}

pub(super) fn sign(args: &SignArgs) -> Result<(), Failure> {
    let key = SigningKey::from_pem(&read(&args.key, MAX_SMALL_FILE)?)
        .map_err(|e| usage(format!("{}: {e}", args.key.display())))?;
    let bytes = read(&args.file, MAX_BLOB_BYTES)?;
    let signature = key.sign(&bytes).map_err(|e| usage(e.to_string()))?;
    if let Some(path) = &args.output_signature {
        return std::fs::write(path, &signature)
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())));
    }
    println!("{signature}");
    Ok(())
}

pub(super) fn verify(args: &VerifyArgs) -> Result<(), Failure> {
    let key = PublicKey::from_pem(&read(&args.key, MAX_SMALL_FILE)?)
        .map_err(|e| usage(format!("{}: {e}", args.key.display())))?;
    let signature = read(&args.signature, MAX_SMALL_FILE)?;
    let bytes = read(&args.file, MAX_BLOB_BYTES)?;
    key.verify(&bytes, &signature).map_err(|e| invalid(&e))?;
    println!("Verified OK");
    Ok(())
}

pub(super) fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let bytes = read(
        &args.manifest,
        enclet_manifest::manifest::MAX_MANIFEST_BYTES as u64,
    )?;
    let manifest = UnverifiedManifest::parse(&bytes).map_err(|e| invalid(&e))?;
    let mut checks = serde_json::Map::new();
    let mut failure = None;
    let mut record = |name: &str, result: Result<String, ManifestError>| {
        let value = match result {
            Ok(detail) => json!({"ok": true, "detail": detail}),
            Err(e) => {
                failure.get_or_insert_with(|| invalid(&e));
                json!({"ok": false, "detail": e.to_string()})
            }
        };
        checks.insert(name.to_owned(), value);
    };
    record(
        "host_api",
        manifest
            .check_host_api()
            .map(|()| format!("served by host API {}", enclet_manifest::HOST_API_VERSION)),
    );
    if let Some(path) = &args.component {
        let component = read(path, MAX_BLOB_BYTES)?;
        record(
            "component",
            manifest
                .check_component(&component)
                .map(|()| format!("{} matches", path.display())),
        );
    }
    if let (Some(key), Some(sig)) = (&args.key, &args.signature) {
        let key = PublicKey::from_pem(&read(key, MAX_SMALL_FILE)?)
            .map_err(|e| usage(format!("{}: {e}", key.display())))?;
        let sig = read(sig, MAX_SMALL_FILE)?;
        record(
            "signature",
            verify_manifest(manifest.clone(), &key, &sig)
                .map(|v| format!("publisher key sha256:{}", hex::encode(v.publisher_key()))),
        );
    }
    print_manifest(&manifest, &checks, args.json);
    failure.map_or(Ok(()), Err)
}

fn print_manifest(
    m: &UnverifiedManifest,
    checks: &serde_json::Map<String, serde_json::Value>,
    json: bool,
) {
    let capabilities: Vec<String> = m.capabilities().iter().map(ToString::to_string).collect();
    if json {
        let out = json!({
            "name": m.name(),
            "version": m.version().to_string(),
            "publisher": m.publisher(),
            "host_api": m.host_api().to_string(),
            "component_sha384": m.component().to_hex(),
            "capabilities": capabilities,
            "limits": m.limits(),
            "manifest_sha384": hex::encode(m.digest()),
            "checks": checks,
        });
        println!("{out}");
        return;
    }
    println!("name             {} {}", m.name(), m.version());
    println!("publisher        {}", m.publisher());
    println!("host_api         {}", m.host_api());
    println!("component        {}", m.component());
    println!("capabilities     {}", capabilities.join(", "));
    println!("manifest_sha384  {}", hex::encode(m.digest()));
    for (name, check) in checks {
        let ok = check["ok"].as_bool().unwrap_or(false);
        let detail = check["detail"].as_str().unwrap_or_default();
        println!(
            "check {name:<10} {} {detail}",
            if ok { "ok  " } else { "FAIL" }
        );
    }
}
