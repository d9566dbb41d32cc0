//! `enclet attest`: fetch fresh evidence from the running appliance and write
//! it as the files the offline verifiers read.
//!
//! The operator API answers attestation as hex JSON; `enclet verify tpm` and
//! `tpm2_checkquote` want raw TPM structures. This command bridges the two:
//!
//! ```text
//! POST /v1/attest {nonce}      ─▶ quote.bin (TPMS_ATTEST), sig.bin (TPMT_SIGNATURE),
//!                                 ak.pub (TPM2B_PUBLIC), pcrs.txt (`--pcrs` format),
//!                                 event_log.bin, public_key.bin
//! GET  /v1/attester/identity   ─▶ ek.der (the EK certificate)
//! ```
//!
//! A TPM quote's `extraData` is not the nonce itself but the enclet
//! qualifying data `H(nonce, enclave key, event-log digest)`
//! ([`tpm::qualifying_data`]); the command computes it from the nonce it sent
//! and prints it as the value both checkers compare against. A Nitro enclave's
//! answer is written as `document.cose`. Nothing is trusted here: the printed
//! commands do the checking.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use enclet_attestation::event_log::EventLog;
use enclet_attestation::tpm::{self, HashAlg, PcrValues};
use enclet_parent::OperatorAddr;
use enclet_parent::api::attest::{AttestJson, AttestationJson, EvidenceJson, Hex, IdentityJson};
use hyper::Method;
use serde_json::{Value, json};

use crate::client::ParentClient;

/// Smallest `--nonce`, in bytes (the enclave refuses shorter ones).
pub const MIN_NONCE_BYTES: usize = 8;

/// Largest `--nonce`, in bytes.
pub const MAX_NONCE_BYTES: usize = 64;

/// Length of the nonce drawn when `--nonce` is not given, in bytes.
const DEFAULT_NONCE_BYTES: usize = 32;

/// Examples after `enclet attest --help`.
const EXAMPLES: &str = "\
Files (TPM): quote.bin (TPMS_ATTEST), sig.bin (TPMT_SIGNATURE), ak.pub
(TPM2B_PUBLIC), pcrs.txt (the --pcrs format of `enclet verify tpm`),
event_log.bin, public_key.bin (the enclave key bound into the quote), ek.der
(the EK certificate). Nitro: document.cose, event_log.bin, public_key.bin.

The quote's extraData is H(nonce, enclave key, event-log digest), printed as
qualifying_data: pass it to `enclet verify tpm --nonce` and `tpm2_checkquote -q`.

Examples:
  enclet attest --out evidence
  enclet attest --nonce 6e6f6e63652d3031 --out evidence --json";

/// `enclet attest`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct AttestArgs {
    /// The verifier's nonce, 8 to 64 bytes as hex [default: 32 random bytes].
    #[arg(long, value_name = "HEX", value_parser = parse_nonce)]
    pub nonce: Option<NonceArg>,
    /// The directory to write the evidence files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the files, the qualifying data and the commands as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A `--nonce` value: [`MIN_NONCE_BYTES`] to [`MAX_NONCE_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceArg(pub Vec<u8>);

fn parse_nonce(s: &str) -> Result<NonceArg, String> {
    let bytes = hex::decode(s).map_err(|e| format!("not hex: {e}"))?;
    if !(MIN_NONCE_BYTES..=MAX_NONCE_BYTES).contains(&bytes.len()) {
        return Err(format!(
            "{} bytes; a nonce is {MIN_NONCE_BYTES} to {MAX_NONCE_BYTES} bytes",
            bytes.len()
        ));
    }
    Ok(NonceArg(bytes))
}

/// A failure and its exit status.
struct Failure(u8, String);

/// Runs `enclet attest` against the parent at `parent`.
#[must_use]
pub fn run(args: &AttestArgs, parent: Option<OperatorAddr>) -> ExitCode {
    let result = match parent {
        None => Err(Failure(
            2,
            "no parent address: pass --parent unix:PATH or set ENCLET_PARENT".to_owned(),
        )),
        Some(addr) => super::block_on(execute(args, ParentClient::new(addr)))
            .unwrap_or_else(|e| Err(Failure(1, e))),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(Failure(status, message)) => {
            eprintln!("enclet attest: {message}");
            ExitCode::from(status)
        }
    }
}

async fn execute(args: &AttestArgs, client: ParentClient) -> Result<String, Failure> {
    let nonce = match &args.nonce {
        Some(NonceArg(n)) => n.clone(),
        None => random_nonce()?,
    };
    let body = serde_json::to_vec(&AttestJson {
        nonce: Hex(nonce.clone()),
    })
    .map_err(|e| Failure(1, format!("encoding the request: {e}")))?;
    let answer: AttestationJson = client
        .call_json(Method::POST, "/v1/attest", body)
        .await
        .map_err(|e| Failure(1, format!("attestation: {e}")))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure(1, format!("creating {}: {e}", args.out.display())))?;
    let summary = match &answer.evidence {
        EvidenceJson::Tpm { .. } => {
            let identity: IdentityJson = client
                .call_json(Method::GET, "/v1/attester/identity", Vec::new())
                .await
                .map_err(|e| Failure(1, format!("attester identity: {e}")))?;
            write_tpm(&args.out, &nonce, &answer, &identity)?
        }
        EvidenceJson::Nitro { document } => write_nitro(&args.out, &nonce, &answer, document)?,
    };
    Ok(if args.json {
        format!("{summary:#}\n")
    } else {
        human(&summary)
    })
}

fn write_tpm(
    dir: &Path,
    nonce: &[u8],
    answer: &AttestationJson,
    identity: &IdentityJson,
) -> Result<Value, Failure> {
    let EvidenceJson::Tpm {
        attest,
        signature,
        ak_public,
        pcrs,
    } = &answer.evidence
    else {
        return Err(Failure(1, "not TPM evidence".to_owned()));
    };
    let log = EventLog::from_bytes(&answer.event_log.0)
        .map_err(|e| Failure(1, format!("the appliance's event log is malformed: {e}")))?;
    let mut values = PcrValues::new();
    for (index, value) in pcrs {
        values
            .insert(HashAlg::Sha256, index.0, value.0.clone())
            .map_err(|e| Failure(1, format!("PCR {}: {e}", index.0)))?;
    }
    let qualifying = tpm::qualifying_data(nonce, &answer.public_key.0, &log.digest());
    let q = hex::encode(qualifying);
    let pcr_text = values.to_text();
    let files = [
        ("quote", "quote.bin", &attest.0[..]),
        ("signature", "sig.bin", &signature.0[..]),
        ("ak_public", "ak.pub", &ak_public.0[..]),
        ("pcrs", "pcrs.txt", pcr_text.as_bytes()),
        ("event_log", "event_log.bin", &answer.event_log.0[..]),
        ("public_key", "public_key.bin", &answer.public_key.0[..]),
        ("ek_certificate", "ek.der", &identity.ek_certificate.0[..]),
    ];
    let paths = write_all(dir, &files)?;
    let p = |k: &str| {
        paths
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let verify = [
        "enclet",
        "verify",
        "tpm",
        "--quote",
        &p("quote"),
        "--signature",
        &p("signature"),
        "--ak-public",
        &p("ak_public"),
        "--pcrs",
        &p("pcrs"),
        "--event-log",
        &p("event_log"),
        "--nonce",
        &q,
    ];
    let checkquote = [
        "tpm2_checkquote",
        "-u",
        &p("ak_public"),
        "-m",
        &p("quote"),
        "-s",
        &p("signature"),
        "-q",
        &q,
    ];
    Ok(json!({
        "kind": "tpm",
        "nonce": hex::encode(nonce),
        "qualifying_data": q,
        "public_key": hex::encode(&answer.public_key.0),
        "files": paths,
        "verify_command": verify,
        "tpm2_checkquote_command": checkquote,
    }))
}

fn write_nitro(
    dir: &Path,
    nonce: &[u8],
    answer: &AttestationJson,
    document: &Hex,
) -> Result<Value, Failure> {
    let files = [
        ("document", "document.cose", &document.0[..]),
        ("event_log", "event_log.bin", &answer.event_log.0[..]),
        ("public_key", "public_key.bin", &answer.public_key.0[..]),
    ];
    let paths = write_all(dir, &files)?;
    let doc = paths
        .get("document")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let verify = [
        "enclet",
        "verify",
        "nitro",
        doc,
        "--pcr",
        "0=EXPECTED_PCR0_HEX",
        "--max-age",
        "300",
    ];
    Ok(json!({
        "kind": "nitro",
        "nonce": hex::encode(nonce),
        "public_key": hex::encode(&answer.public_key.0),
        "files": paths,
        "verify_command": verify,
    }))
}

/// Writes each `(key, file, bytes)` into `dir`; returns `{key: path}`.
fn write_all(dir: &Path, files: &[(&str, &str, &[u8])]) -> Result<Value, Failure> {
    let mut paths = serde_json::Map::new();
    for (key, name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| Failure(1, format!("writing {}: {e}", path.display())))?;
        paths.insert((*key).to_owned(), Value::String(path.display().to_string()));
    }
    Ok(Value::Object(paths))
}

fn human(summary: &Value) -> String {
    let words = |key: &str| {
        summary[key].as_array().map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(shell_quote)
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let mut lines = vec![format!(
        "nonce            {}",
        summary["nonce"].as_str().unwrap_or_default()
    )];
    if let Some(q) = summary["qualifying_data"].as_str() {
        lines.push(format!("qualifying_data  {q}"));
    }
    if let Some(files) = summary["files"].as_object() {
        lines.extend(
            files
                .values()
                .filter_map(Value::as_str)
                .map(|p| format!("wrote            {p}")),
        );
    }
    lines.push("check with:".to_owned());
    lines.extend(words("verify_command").map(|c| format!("  {c}")));
    lines.extend(words("tpm2_checkquote_command").map(|c| format!("  {c}")));
    lines.push(String::new());
    lines.join("\n")
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./=:+,".contains(&b));
    if plain && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn random_nonce() -> Result<Vec<u8>, Failure> {
    let mut out = vec![0u8; DEFAULT_NONCE_BYTES];
    aws_lc_rs::rand::fill(&mut out)
        .map_err(|_| Failure(1, "the system CSPRNG failed".to_owned()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn nonces_are_eight_to_sixty_four_bytes_of_hex() {
        let eight = parse_nonce("00ff00ff00ff00ff").unwrap();
        assert_eq!(eight, NonceArg(vec![0, 255, 0, 255, 0, 255, 0, 255]));
        assert!(parse_nonce(&"ab".repeat(64)).is_ok());
        assert!(
            parse_nonce(&"ab".repeat(65))
                .unwrap_err()
                .contains("8 to 64")
        );
        assert!(
            parse_nonce(&"ab".repeat(7))
                .unwrap_err()
                .contains("8 to 64")
        );
        assert!(parse_nonce("").is_err());
        assert!(parse_nonce("0g").unwrap_err().contains("not hex"));
    }

    #[test]
    fn printed_words_are_shell_quoted_when_needed() {
        assert_eq!(shell_quote("/tmp/x/quote.bin"), "/tmp/x/quote.bin");
        assert_eq!(shell_quote("/tmp/a b/q"), "'/tmp/a b/q'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
