//! `enclet image …`: measure an enclave image file (EIF) and write the
//! reference values the control plane checks Nitro evidence against.
//!
//! A thin layer over [`enclet_image`]: it reads the file (size-bounded, see
//! [`crate::bounded`]), parses and measures it there, and prints or writes
//! the result. Writing never replaces an existing file unless asked to, and
//! then atomically (a temporary file in the same directory, renamed).

use crate::stdout::print;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use enclet_image::{Eif, ImageError, Measurements};
use serde_json::{Map, Value, json};

/// Default bound on the EIF read, in bytes (1 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

const MEASURE_HELP: &str = "\
Print the PCR values an AWS Nitro enclave booted from this EIF reports:
PCR0 (kernel, cmdline and all ramdisks), PCR1 (kernel, cmdline and the first
ramdisk: the boot image), PCR2 (the other ramdisks: the application) and, for
a signed image, PCR8 (its signing certificate). They equal the values
`nitro-cli build-enclave` and `nitro-cli describe-eif` print.

The whole file is checked first: magic, version (2 to 4), section table,
section bounds and types, CRC-32, required sections, signature section. A
file that fails a check is not measured.

Text output: one `PCRn <96 hex>` line per PCR. --json prints an object with
`pcr0`, `pcr1`, `pcr2`, `pcr8` (signed images only), `signed`, `eif_version`
and `arch`; a refused image prints `{\"error\": {\"code\", \"message\"}}`.

Exit status: 0 measured; 1 not a valid EIF (reason and code on stderr);
2 usage error, unreadable file, or a file over --max-bytes.

Examples:
  enclet image measure enclet.eif
  enclet image measure enclet.eif --json | jq -r .pcr0";

const REFERENCE_HELP: &str = "\
Measure an EIF and write the control plane's reference-value file for it:
a `[nitro]` table with `allow_debug = false` and one `[[nitro.images]]` table
with its pcr0, pcr1, pcr2 (and pcr8 for a signed image). The control plane
loads it as is; to accept several images, append their [[nitro.images]]
tables to one file.

Written to stdout, or to --out FILE. An existing FILE is not replaced unless
--force is given (then it is replaced atomically).

Exit status: 0 written; 1 not a valid EIF (reason and code on stderr);
2 usage error, unreadable input, a file over --max-bytes, an existing --out
file without --force, or a failed write.

Examples:
  enclet image reference-values enclet.eif --out reference.toml
  enclet image reference-values enclet.eif >> reference.toml";

/// The `enclet image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Print PCR0, PCR1, PCR2 (and PCR8 when signed) of an EIF.
    #[command(
        long_about = MEASURE_HELP,
        after_help = "Example:\n  enclet image measure enclet.eif --json"
    )]
    Measure(MeasureArgs),
    /// Write the control plane's reference-value TOML for an EIF.
    #[command(
        long_about = REFERENCE_HELP,
        after_help = "Example:\n  enclet image reference-values enclet.eif --out reference.toml"
    )]
    ReferenceValues(ReferenceArgs),
}

/// Arguments of `enclet image measure`.
#[derive(Debug, clap::Args)]
pub struct MeasureArgs {
    /// The enclave image file.
    #[arg(value_name = "FILE.eif")]
    pub file: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Refuse a file bigger than this many bytes, unread.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: u64,
}

/// Arguments of `enclet image reference-values`.
#[derive(Debug, clap::Args)]
pub struct ReferenceArgs {
    /// The enclave image file.
    #[arg(value_name = "FILE.eif")]
    pub file: PathBuf,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Refuse a file bigger than this many bytes, unread.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub max_bytes: u64,
}

/// Why a command failed, and so its exit status.
enum Failure {
    /// Exit 1: the bytes are not a valid EIF.
    Invalid(ImageError),
    /// Exit 2: usage or I/O.
    Usage(String),
}

impl ImageCommand {
    /// Runs the subcommand and returns the exit status.
    #[must_use]
    pub fn run(self) -> ExitCode {
        match self {
            Self::Measure(args) => measure(&args),
            Self::ReferenceValues(args) => reference_values(&args),
        }
    }
}

/// Reads, parses and measures; also returns the header facts for `--json`.
fn load(path: &Path, max: u64) -> Result<(Measurements, Value), Failure> {
    let bytes = crate::bounded::read_file(path, max).map_err(|e| Failure::Usage(e.to_string()))?;
    let eif = Eif::parse(&bytes).map_err(Failure::Invalid)?;
    let facts = json!({
        "eif_version": eif.header().version,
        "arch": eif.header().arch().to_string(),
        "signed": eif.is_signed(),
    });
    Ok((Measurements::of(&eif), facts))
}

fn measure(args: &MeasureArgs) -> ExitCode {
    match load(&args.file, args.max_bytes) {
        Ok((m, facts)) => {
            let text = if args.json {
                let mut out = Map::new();
                out.insert("file".into(), args.file.display().to_string().into());
                out.insert("hash_algorithm".into(), "sha384".into());
                for (index, pcr) in m.indexed() {
                    out.insert(format!("pcr{index}"), pcr.to_hex().into());
                }
                if let Value::Object(facts) = facts {
                    out.extend(facts);
                }
                format!("{:#}\n", Value::Object(out))
            } else {
                m.indexed()
                    .iter()
                    .fold(String::new(), |mut text, (index, pcr)| {
                        // Writing to a String cannot fail.
                        let _ = writeln!(text, "PCR{index} {pcr}");
                        text
                    })
            };
            print(&text);
            ExitCode::SUCCESS
        }
        Err(failure) => fail("measure", &failure, args.json),
    }
}

fn reference_values(args: &ReferenceArgs) -> ExitCode {
    let result = load(&args.file, args.max_bytes).and_then(|(m, _)| {
        let source = args.file.file_name().map_or_else(
            || args.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let text = enclet_image::reference_toml(&m, &source);
        match &args.out {
            None => {
                print(&text);
                Ok(())
            }
            Some(out) => write_out(out, &text, args.force).map_err(Failure::Usage),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail("reference-values", &failure, false),
    }
}

/// Writes `text` to `path` through a temporary file in the same directory,
/// renamed into place: never a half-written file, and no replacement of an
/// existing one unless `force`.
fn write_out(path: &Path, text: &str, force: bool) -> Result<(), String> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let shown = path.display();
    if !force && path.exists() {
        return Err(format!("{shown} exists; pass --force to replace it"));
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    if force {
        tmp.persist(path)
            .map(drop)
            .map_err(|e| format!("cannot write {shown}: {}", e.error))
    } else {
        // Created meanwhile: still refused.
        tmp.persist_noclobber(path)
            .map(drop)
            .map_err(|e| format!("cannot write {shown}: {}", e.error))
    }
}

fn fail(command: &str, failure: &Failure, json: bool) -> ExitCode {
    match failure {
        Failure::Usage(msg) => {
            eprintln!("enclet image {command}: {msg}");
            ExitCode::from(2)
        }
        Failure::Invalid(e) => {
            eprintln!("enclet image {command}: invalid EIF [{}]: {e}", e.code());
            if json {
                let out = json!({ "error": { "code": e.code(), "message": e.to_string() } });
                print(&format!("{out:#}\n"));
            }
            ExitCode::from(1)
        }
    }
}
