//! `enclet verify tpm`: check a TPM 2.0 quote offline.
//!
//! A thin layer over [`enclet_attestation::tpm::verify_quote`]: it reads the
//! raw TPM wire structures, builds the expectations from the flags and reports
//! the verdict as text or JSON.

use crate::stdout::print;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use enclet_attestation::claims::{Plugins, TrustBasis};
use enclet_attestation::event_log::{EventLog, PluginEvent};
use enclet_attestation::tpm::{
    ExpectedExtraData, PcrValues, QuoteEvidence, TpmClaims, TpmExpectations, verify_quote,
};
use serde_json::json;

const LONG_ABOUT: &str = "\
Verify a TPM 2.0 quote (TPM2_Quote) offline, without a TPM or its software stack.

Files hold raw TPM wire structures (not base64, not PEM):
  --quote       TPMS_ATTEST (a TPM2B_ATTEST is accepted too), e.g. tpm2_quote -m
  --signature   TPMT_SIGNATURE, e.g. tpm2_quote -s (default tss format)
  --ak-public   the attestation key's TPMT_PUBLIC or TPM2B_PUBLIC, e.g. tpm2_createak -u

Checks, in order: the AK is a restricted signing key; the signature (RSASSA with
SHA-1/256/384/512, or ECDSA P-256 with SHA-256) verifies over the quote with the
AK; the quote starts with TPM_GENERATED_VALUE and is a TPM_ST_ATTEST_QUOTE;
extraData equals --nonce; the PCR values in --pcrs hash (with the signature's
hash, in selection order) to the quote's pcrDigest; the --event-log replays to
sha256:16, the plugin PCR.

Without --pcrs only the signature, the structure and the nonce are checked: the
output says that PCR values were not checked, and no PCR value is reported as
verified. Without --nonce, extraData is shown but not checked (a replayed quote
would pass). Without --event-log the plugins are reported as not checked.

The AK is taken as given (like tpm2_checkquote -u): the output's trust basis is
caller_pinned_ak, because a signature by a key with the restricted attribute
does not prove a TPM made the quote. Trust in the AK itself (credential
activation against a certified EK, basis activated_ak) is established by a
live verifier, e.g. `enclet demo`.

--pcrs file format: one PCR per line, BANK:INDEX=HEX, where BANK is sha1,
sha256, sha384 or sha512, INDEX is 0-31 and HEX is the full value; blank lines
and lines starting with # are ignored. Every PCR the quote selects must be
listed; others are ignored. Example:
  # SHA-256 bank
  sha256:16=54bc7d1a9752588f7045288d878de0e70542f8660bc979f181bc9f1416b5c5e8
  sha256:23=f3489ef80172afd53bc6647f9b07f9b50790b03c0e1b21322becd6533d8ec077

Exit status: 0 verified; 1 rejected (reason and error code on stderr and, with
--json, in the output); 2 usage error, unreadable file, or a malformed --pcrs or
--event-log file.";

const EXAMPLES: &str = "\
Examples:
  enclet verify tpm --quote q.msg --signature q.sig --ak-public ak.pub --pcrs pcrs.txt --nonce 6e6f6e6365
  enclet verify tpm --quote q.msg --signature q.sig --ak-public ak.pub --json";

/// Arguments of `enclet verify tpm`.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct TpmArgs {
    /// The quote file.
    #[arg(
        long,
        value_name = "FILE",
        help = "The quote: TPMS_ATTEST or TPM2B_ATTEST bytes"
    )]
    pub quote: PathBuf,

    /// The signature file.
    #[arg(
        long,
        value_name = "FILE",
        help = "The signature: TPMT_SIGNATURE bytes"
    )]
    pub signature: PathBuf,

    /// The attestation key file.
    #[arg(
        long,
        value_name = "FILE",
        help = "The attestation key: TPMT_PUBLIC or TPM2B_PUBLIC bytes"
    )]
    pub ak_public: PathBuf,

    /// Claimed PCR values (BANK:INDEX=HEX lines, see above), checked against
    /// the quote's pcrDigest.
    #[arg(long, value_name = "FILE")]
    pub pcrs: Option<PathBuf>,

    /// Require extraData to equal HEX exactly (an empty string: no extraData).
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub nonce: Option<HexArg>,

    /// An enclet plugin event log (canonical encoding) to replay to sha256:16;
    /// needs --pcrs.
    #[arg(long, value_name = "FILE", requires = "pcrs")]
    pub event_log: Option<PathBuf>,

    /// Print the claims and the verdict as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A hex-encoded byte string argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexArg(pub Vec<u8>);

fn parse_hex(s: &str) -> Result<HexArg, String> {
    hex::decode(s).map(HexArg).map_err(|e| e.to_string())
}

/// A failure before verification could start: exit status 2.
struct UsageError(String);

/// What was read from the files. The evidence stays raw bytes (a malformed
/// quote is rejected evidence, exit 1); the operator's own inputs (`--pcrs`,
/// `--event-log`) are parsed here, so a malformed one is a usage error (exit 2).
struct Inputs {
    quote: Vec<u8>,
    signature: Vec<u8>,
    ak_public: Vec<u8>,
    pcrs: Option<PcrValues>,
    event_log: Option<EventLog>,
}

/// Runs `enclet verify tpm`.
#[must_use]
pub fn run(args: &TpmArgs) -> ExitCode {
    match read_inputs(args) {
        Err(UsageError(msg)) => {
            eprintln!("enclet verify tpm: {msg}");
            ExitCode::from(2)
        }
        Ok(inputs) => report(args, verify(args, &inputs)),
    }
}

/// The largest input file read: far above any quote, signature, public key,
/// PCR list or event log (4,096 entries of 49 bytes), far below harm.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads an input file whole, refusing one over [`MAX_INPUT_BYTES`] (also a
/// pipe or device that never ends) before holding more than that.
fn read(path: &Path) -> Result<Vec<u8>, UsageError> {
    crate::bounded::read_file(path, MAX_INPUT_BYTES).map_err(|e| UsageError(e.to_string()))
}

fn read_inputs(args: &TpmArgs) -> Result<Inputs, UsageError> {
    Ok(Inputs {
        quote: read(&args.quote)?,
        signature: read(&args.signature)?,
        ak_public: read(&args.ak_public)?,
        pcrs: args.pcrs.as_deref().map(read_pcrs).transpose()?,
        event_log: args.event_log.as_deref().map(read_event_log).transpose()?,
    })
}

fn read_pcrs(path: &Path) -> Result<PcrValues, UsageError> {
    let bytes = read(path)?;
    let malformed =
        |why: String| UsageError(format!("malformed --pcrs file {}: {why}", path.display()));
    let text = std::str::from_utf8(&bytes).map_err(|_| malformed("not UTF-8 text".to_owned()))?;
    PcrValues::parse_text(text).map_err(|e| malformed(e.to_string()))
}

fn read_event_log(path: &Path) -> Result<EventLog, UsageError> {
    let bytes = read(path)?;
    EventLog::from_bytes(&bytes).map_err(|e| {
        UsageError(format!(
            "malformed --event-log file {}: {e}",
            path.display()
        ))
    })
}

fn verify(args: &TpmArgs, inputs: &Inputs) -> Result<TpmClaims, enclet_attestation::Error> {
    let extra_data = match &args.nonce {
        Some(HexArg(nonce)) => ExpectedExtraData::Exact(nonce),
        None => ExpectedExtraData::Unchecked,
    };
    let evidence = QuoteEvidence {
        attest: &inputs.quote,
        signature: &inputs.signature,
        ak_public: &inputs.ak_public,
    };
    let expectations = TpmExpectations {
        extra_data,
        pcrs: inputs.pcrs.as_ref(),
        event_log: inputs.event_log.as_ref(),
        activated_ak: None,
    };
    verify_quote(&evidence, &expectations).map(enclet_attestation::Verified::into_inner)
}

/// The caveats of a verified quote, as sentences.
fn caveats(claims: &TpmClaims) -> Vec<&'static str> {
    let checked = claims.claims.checked;
    let mut out = Vec::new();
    if !checked.pcrs {
        out.push("PCR values were not checked (no --pcrs): only the signature, structure and nonce were verified");
    }
    if !checked.nonce {
        out.push("extraData was not checked (no --nonce): the quote may be replayed");
    }
    if !checked.event_log {
        out.push("the plugins were not checked (no --event-log)");
    }
    if !matches!(claims.claims.trust_basis, TrustBasis::ActivatedAk { .. }) {
        out.push("the AK was not proven to be in a certified TPM (no credential activation): trust basis caller_pinned_ak");
    }
    out
}

fn report(args: &TpmArgs, result: Result<TpmClaims, enclet_attestation::Error>) -> ExitCode {
    match result {
        Ok(claims) => {
            let notes = caveats(&claims);
            let text = if args.json {
                let checked = claims.claims.checked;
                let out = json!({
                    "verdict": "verified",
                    "trust_basis": claims.claims.trust_basis.as_str(),
                    "pcrs_checked": checked.pcrs,
                    "nonce_checked": checked.nonce,
                    "event_log_checked": checked.event_log,
                    "caveats": notes,
                    "claims": claims,
                });
                format!("{out:#}\n")
            } else {
                human(&claims, &notes)
            };
            print(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rejected [{}]: {e}", e.code());
            if args.json {
                let out = json!({
                    "verdict": "rejected",
                    "error": { "code": e.code(), "message": e.to_string() },
                });
                print(&format!("{out:#}\n"));
            }
            ExitCode::from(1)
        }
    }
}

fn human(claims: &TpmClaims, notes: &[&str]) -> String {
    let checked = |yes: bool| if yes { "checked" } else { "NOT checked" };
    let clock = &claims.clock;
    let mut s = String::from("verified TPM quote\n");
    let _ = writeln!(s, "trust_basis  {}", claims.claims.trust_basis.as_str());
    let _ = writeln!(s, "ak_name      {}", hex::encode(&claims.ak_name));
    let _ = writeln!(s, "signature    {} with the AK", claims.signature_hash);
    let _ = writeln!(
        s,
        "extra_data   {} ({})",
        hex::encode(&claims.extra_data),
        checked(claims.claims.checked.nonce)
    );
    let _ = writeln!(
        s,
        "clock        {} ms, resets {}, restarts {}, safe {}",
        clock.clock, clock.reset_count, clock.restart_count, clock.safe
    );
    let _ = writeln!(s, "firmware     {:#018x}", claims.firmware_version);
    let _ = writeln!(s, "pcr_digest   {}", hex::encode(&claims.pcr_digest));
    for p in &claims.pcrs {
        let value = p
            .value
            .as_ref()
            .map_or_else(|| "(not checked)".to_owned(), hex::encode);
        let _ = writeln!(s, "{:<12} {value}", format!("{}:{}", p.bank, p.index));
    }
    match &claims.claims.plugins {
        Plugins::NotChecked => {
            let _ = writeln!(s, "plugins      (not checked)");
        }
        Plugins::Replayed(plugins) if plugins.is_empty() => {
            let _ = writeln!(s, "plugins      none (event log replayed)");
        }
        Plugins::Replayed(plugins) => {
            for m in plugins {
                let _ = writeln!(s, "plugin       {m}");
            }
        }
    }
    // The history, when it says more than the live plugins do.
    let telling = claims
        .claims
        .plugin_events
        .iter()
        .any(|e| !matches!(e, PluginEvent::Load(_)));
    if telling {
        for e in &claims.claims.plugin_events {
            let line = match e {
                PluginEvent::Load(m) => format!("load   {m}"),
                PluginEvent::Unload(m) => format!("unload {m}"),
                PluginEvent::SignedLoad(l) => format!(
                    "load   {} signed by publisher key sha256:{} (manifest sha384:{})",
                    l.measurement,
                    hex::encode(l.publisher_key),
                    hex::encode(l.manifest_digest)
                ),
            };
            let _ = writeln!(s, "event        {line}");
        }
    }
    for n in notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
