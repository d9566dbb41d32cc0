//! `enclet verify nitro`: check an AWS Nitro Enclaves attestation document offline.
//!
//! A thin layer over [`enclet_attestation::nitro`]: it reads the files, picks
//! the verification time (the clock, `--at`, or the document's own timestamp),
//! builds the policy from the flags and reports the verdict as text or JSON.

use crate::stdout::print;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use enclet_attestation::UnixTime;
use enclet_attestation::nitro::{
    MAX_DOCUMENT_LEN, NitroClaims, NitroError, NitroPolicy, NitroRoot, NitroVerifier,
    UnverifiedNitroDocument,
};
use serde_json::json;

/// The examples, shown by both `-h` and `--help`.
macro_rules! examples {
    () => {
        "\
Examples:
  enclet verify nitro doc.cose --pcr 0=4b8d4cf2…cfab --max-age 300 --nonce 00ff…
  enclet verify nitro doc.cose --any-image --at-document-time   # inspect, trust no image
  enclet verify nitro old.cose --at-document-time --json
  enclet verify nitro doc.cose --at 1767472867 --root my-root.pem"
    };
}

const EXAMPLES: &str = examples!();

/// `--help` text: what is checked, how time works, exit status, examples.
/// (Shown after the options because the one-line summary comes from the
/// `verify` subcommand list.)
const LONG_HELP: &str = concat!(
    "\
Verify an AWS Nitro Enclaves attestation document (a COSE_Sign1 signed by the
Nitro Secure Module), offline.

Checks, in order: the certificate chain from the pinned root (the AWS Nitro
Enclaves Root-G1 built into enclet, or --root) through the document's cabundle
to its leaf certificate, each certificate valid at the verification time; the
ES384 signature of the document with the leaf key; then the policy: expected
PCR values (--pcr; required unless --any-image), no debug-mode enclave
(PCR0/1/2 all zero) unless --allow-debug, age (--max-age) and nonce (--nonce).

The leaf certificate of a document lives about three hours. To check an old
document, verify it as of a time when it was valid: --at-document-time uses the
document's own (signed) timestamp, --at a time you choose. Without either, the
current time is used.

Fails closed: without --pcr the command refuses (exit 2); pass --any-image to
accept a genuine document from any enclave image (to inspect one, never to
decide whether to trust it). Input files are read only up to their bound (the
document 32 KiB, a --root PEM 64 KiB); bigger ones are refused unread (exit 2).

Exit status: 0 verified and policy met; 1 rejected (reason on stderr and, with
--json, in the output); 2 usage error or unreadable file.",
    "\n\n",
    examples!()
);

/// Arguments of `enclet verify nitro`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES, after_long_help = LONG_HELP)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is an independent command-line flag"
)]
pub struct NitroArgs {
    /// The attestation document file: the raw signed COSE bytes returned by
    /// the NSM (tagged or untagged), not base64.
    #[arg(value_name = "DOC")]
    pub document: PathBuf,

    /// Pin this root certificate (PEM) instead of the built-in AWS Nitro
    /// Enclaves Root-G1. The document's cabundle[0] must equal it.
    #[arg(long, value_name = "PEM")]
    pub root: Option<PathBuf>,

    /// Verify as of this time, in seconds since the Unix epoch (default: now).
    #[arg(long, value_name = "UNIX_SECONDS", conflicts_with = "at_document_time")]
    pub at: Option<u64>,

    /// Verify as of the document's own timestamp: for documents whose
    /// three-hour leaf certificate has since expired.
    #[arg(long)]
    pub at_document_time: bool,

    /// Require PCR N (0-31) to equal HEX; repeat for several PCRs (each index
    /// once). At least one is required unless --any-image.
    #[arg(long = "pcr", value_name = "N=HEX", value_parser = parse_pcr)]
    pub pcrs: Vec<PcrArg>,

    /// Accept a genuine document from ANY enclave image: no PCR is checked.
    /// For inspecting documents, never for deciding to trust an enclave.
    #[arg(long, conflicts_with = "pcrs")]
    pub any_image: bool,

    /// Accept debug-mode enclaves (PCR0/1/2 all zero), whose memory the parent
    /// instance can read. For development only.
    #[arg(long)]
    pub allow_debug: bool,

    /// Reject documents older than SECONDS at the verification time. Not with
    /// --at-document-time, where the age is always zero.
    #[arg(long, value_name = "SECONDS", conflicts_with = "at_document_time")]
    pub max_age: Option<u64>,

    /// Require the document's nonce to equal HEX.
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub nonce: Option<HexArg>,

    /// Print the decoded claims and the verdict as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A `--pcr N=HEX` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrArg {
    /// PCR index.
    pub index: u8,
    /// Expected value.
    pub value: Vec<u8>,
}

/// A hex-encoded byte string argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexArg(pub Vec<u8>);

fn parse_pcr(s: &str) -> Result<PcrArg, String> {
    let (n, h) = s
        .split_once('=')
        .ok_or_else(|| "expected N=HEX, e.g. 0=4b8d…".to_owned())?;
    let index: u8 = n
        .parse()
        .ok()
        .filter(|i| *i < 32)
        .ok_or_else(|| format!("PCR index {n:?} is not 0-31"))?;
    let value = hex::decode(h).map_err(|e| format!("PCR{index} value: {e}"))?;
    if ![32, 48, 64].contains(&value.len()) {
        return Err(format!(
            "PCR{index} value is {} bytes; PCRs are 32, 48 or 64 bytes (SHA-384: 96 hex digits)",
            value.len()
        ));
    }
    Ok(PcrArg { index, value })
}

fn parse_hex(s: &str) -> Result<HexArg, String> {
    hex::decode(s).map(HexArg).map_err(|e| e.to_string())
}

/// A failure before verification could start: exit status 2.
struct UsageError(String);

/// Runs `enclet verify nitro`.
#[must_use]
pub fn run(args: &NitroArgs) -> ExitCode {
    match prepare(args) {
        Err(UsageError(msg)) => {
            eprintln!("enclet verify nitro: {msg}");
            ExitCode::from(2)
        }
        Ok((bytes, verifier, policy)) => report(args, verify(args, &bytes, &verifier, &policy)),
    }
}

/// The largest `--root` PEM file read (one certificate is about 1 KiB).
const MAX_ROOT_PEM_BYTES: u64 = 64 * 1024;

/// The largest document file read: the attestation library's own bound.
const MAX_DOCUMENT_BYTES: u64 = MAX_DOCUMENT_LEN as u64;

fn read(path: &Path, max: u64) -> Result<Vec<u8>, UsageError> {
    crate::bounded::read_file(path, max).map_err(|e| UsageError(e.to_string()))
}

/// The image policy: the pinned PCRs, or any image when asked for by name.
fn image_policy(args: &NitroArgs) -> Result<NitroPolicy, UsageError> {
    if args.any_image {
        return Ok(NitroPolicy::insecure_any_image());
    }
    let mut seen = [false; 32];
    for pcr in &args.pcrs {
        match seen.get_mut(usize::from(pcr.index)) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(UsageError(format!(
                    "--pcr {} is given more than once: pin each PCR once",
                    pcr.index
                )));
            }
        }
    }
    NitroPolicy::expect_pcrs(args.pcrs.iter().map(|p| (p.index, p.value.clone()))).map_err(|_| {
        UsageError(
            "no --pcr given: refusing to accept any enclave image. Pin the image with \
             --pcr 0=HEX (repeat for PCR1, PCR2, …; the values `nitro-cli build-enclave` \
             prints), or pass --any-image to accept a genuine document from any image"
                .to_owned(),
        )
    })
}

fn prepare(args: &NitroArgs) -> Result<(Vec<u8>, NitroVerifier, NitroPolicy), UsageError> {
    let mut policy = image_policy(args)?;
    let bytes = read(&args.document, MAX_DOCUMENT_BYTES)?;
    let root = match &args.root {
        Some(path) => NitroRoot::from_pem(&read(path, MAX_ROOT_PEM_BYTES)?)
            .map_err(|e| UsageError(format!("--root {}: {e}", path.display())))?,
        None => NitroRoot::aws_g1(),
    };
    if args.allow_debug {
        policy = policy.allow_debug();
    }
    if let Some(secs) = args.max_age {
        policy = policy.max_age(secs);
    }
    if let Some(HexArg(nonce)) = &args.nonce {
        policy = policy.nonce(nonce.clone());
    }
    Ok((bytes, NitroVerifier::new(root), policy))
}

/// The outcome: the time used, the decoded (unverified) fields if the
/// document parsed, and the verified claims with their trust basis (e.g.
/// `aws_nitro_root`), or the error.
type Outcome = (
    Option<UnixTime>,
    Option<NitroClaims>,
    Result<(NitroClaims, &'static str), NitroError>,
);

fn verify(
    args: &NitroArgs,
    bytes: &[u8],
    verifier: &NitroVerifier,
    policy: &NitroPolicy,
) -> Outcome {
    let doc = match UnverifiedNitroDocument::parse(bytes) {
        Ok(doc) => doc,
        Err(e) => return (None, None, Err(e)),
    };
    let now = if args.at_document_time {
        UnixTime::from_secs(doc.unverified_timestamp_ms() / 1000)
    } else if let Some(secs) = args.at {
        UnixTime::from_secs(secs)
    } else {
        // The library never reads a clock; the command line does.
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        UnixTime::from_secs(secs)
    };
    let result = verifier.verify(&doc, policy, now).map(|verified| {
        let basis = verified.clone().into_claims().trust_basis.as_str();
        (verified.into_inner(), basis)
    });
    (Some(now), Some(doc.unverified_claims()), result)
}

fn report(args: &NitroArgs, (at, decoded, result): Outcome) -> ExitCode {
    let at_json = at.map(UnixTime::as_secs);
    match result {
        Ok((claims, basis)) => {
            let text = if args.json {
                let out = json!({
                    "verdict": "verified",
                    "image_policy": image_policy_name(args),
                    "verified_at": at_json,
                    "trust_basis": basis,
                    "debug": claims.is_debug(),
                    "claims": claims,
                });
                format!("{out:#}\n")
            } else {
                human(&claims, basis, at_json, args.any_image)
            };
            print(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rejected [{}]: {e}", e.code());
            if args.json {
                let out = json!({
                    "verdict": "rejected",
                    "image_policy": image_policy_name(args),
                    "verified_at": at_json,
                    "error": { "code": e.code(), "message": e.to_string() },
                    "unverified_claims": decoded,
                });
                print(&format!("{out:#}\n"));
            }
            ExitCode::from(1)
        }
    }
}

/// `pinned_pcrs` or `any_image`, for `--json`.
fn image_policy_name(args: &NitroArgs) -> &'static str {
    if args.any_image {
        "any_image"
    } else {
        "pinned_pcrs"
    }
}

fn human(claims: &NitroClaims, basis: &str, at: Option<u64>, any_image: bool) -> String {
    let opt = |v: &Option<Vec<u8>>| v.as_ref().map_or_else(|| "-".to_owned(), hex::encode);
    let image = if any_image {
        "ANY image accepted (--any-image): no PCR was checked"
    } else {
        "pinned PCRs matched"
    };
    let mut lines = vec![
        format!("verified at {}", at.unwrap_or_default()),
        format!("image      {image}"),
        format!("trust      {basis}"),
        format!("module_id  {}", claims.module_id),
        format!("timestamp  {} ms", claims.timestamp_ms),
        format!(
            "debug      {}",
            if claims.is_debug() { "yes" } else { "no" }
        ),
    ];
    lines.extend(
        claims
            .pcrs
            .iter()
            .map(|(i, v)| format!("PCR{i:<2}      {}", hex::encode(v))),
    );
    lines.push(format!("public_key {}", opt(&claims.public_key)));
    lines.push(format!("user_data  {}", opt(&claims.user_data)));
    lines.push(format!("nonce      {}", opt(&claims.nonce)));
    lines.extend(claims.certificates.iter().map(|c| {
        format!(
            "cert       {} [{} .. {}]",
            c.subject, c.not_before, c.not_after
        )
    }));
    lines.push(String::new());
    lines.join("\n")
}
