//! `enclet audit …`: check and read the control plane's hash-chained audit
//! log, straight from its state directory.
//!
//! Both subcommands open the store read-only (they never create, lock or
//! modify it), so they work beside a running control plane and on a copy of
//! its state directory alike. The chain format is documented in
//! `enclet_control_plane::audit`.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use enclet_control_plane::audit::{self, AuditEntry, AuditError};
use enclet_control_plane::store::{AuditLogReader, MAX_TAIL, StoreError};
use serde_json::json;

const VERIFY_HELP: &str = "\
Recompute the audit log's hash chain and name the first broken entry.

Each entry's hash is SHA-256 of the previous entry's hash and the entry's
canonical JSON, so editing, deleting, reordering or replacing any entry breaks
the chain at that entry: `audit chain broken at entry 17: ...` says which, and
how (content edited, prev_hash mismatch, missing, out of order, unreadable).

An intact chain prints its length and head hash. The chain cannot show a cut
tail or a rewrite of everything from some entry on by itself: keep the head
hash somewhere else (a ticket, another machine) and compare it later.

The store is opened read-only; a running control plane is not disturbed.

Exit status: 0 intact; 1 broken, or the store could not be read; 2 usage
error or no store in the directory.

Examples:
  enclet audit verify --state-dir /var/lib/enclet-control-plane
  enclet audit verify --state-dir ./state --json";

const TAIL_HELP: &str = "\
Print the last entries of the audit log, oldest first.

Text: one line per entry, `seq time kind session detail`, with the time in
UTC, `-` for no session and the detail as compact JSON. --json prints a JSON
array of whole entries, hashes included (as hex).

Tail does not check the chain: run `enclet audit verify` for that.

Exit status: 0 printed; 1 the store could not be read; 2 usage error or no
store in the directory.

Examples:
  enclet audit tail --state-dir ./state
  enclet audit tail -n 100 --json --state-dir ./state";

/// The `enclet audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; name the first broken entry.
    #[command(
        long_about = VERIFY_HELP,
        after_help = "Example:\n  enclet audit verify --state-dir ./state"
    )]
    Verify(VerifyArgs),
    /// Print the last entries, oldest first.
    #[command(
        long_about = TAIL_HELP,
        after_help = "Example:\n  enclet audit tail -n 20 --state-dir ./state"
    )]
    Tail(TailArgs),
}

/// Arguments of `enclet audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The control plane's state directory (holding `store.sqlite`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `enclet audit tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The control plane's state directory (holding `store.sqlite`).
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// How many entries (at most 10000).
    #[arg(short = 'n', value_name = "N", default_value_t = 20, value_parser = parse_count)]
    pub count: usize,
    /// Print a JSON array of entries instead of lines.
    #[arg(long)]
    pub json: bool,
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= MAX_TAIL => Ok(n),
        _ => Err(format!("expected a number from 0 to {MAX_TAIL}")),
    }
}

impl AuditCommand {
    /// Runs the subcommand and returns the exit status.
    #[must_use]
    pub fn run(self) -> ExitCode {
        match self {
            Self::Verify(args) => verify(&args),
            Self::Tail(args) => tail(&args),
        }
    }
}

/// Exit 2 for a directory without a store (unreadable input), else 1.
fn store_failure(e: &StoreError) -> ExitCode {
    eprintln!("enclet audit: {e}");
    ExitCode::from(if matches!(e, StoreError::Missing { .. }) {
        2
    } else {
        1
    })
}

fn verify(args: &VerifyArgs) -> ExitCode {
    match audit::verify_dir(&args.state_dir) {
        Ok(summary) => {
            let head = hex::encode(summary.last_hash);
            if args.json {
                let out = json!({
                    "ok": true,
                    "entries": summary.entries,
                    "last_seq": summary.last_seq,
                    "last_hash": head,
                });
                println!("{out}");
            } else {
                println!(
                    "audit chain intact: {} entries, head entry {} hash {head}",
                    summary.entries, summary.last_seq
                );
            }
            ExitCode::SUCCESS
        }
        Err(AuditError::Store(e)) if !args.json => store_failure(&e),
        Err(e) => {
            eprintln!("{e}");
            if args.json {
                let seq = match &e {
                    AuditError::Broken(b) => Some(b.seq),
                    _ => None,
                };
                let out = json!({
                    "ok": false,
                    "code": e.code(),
                    "seq": seq,
                    "message": e.to_string(),
                });
                println!("{out}");
            }
            match e {
                AuditError::Store(StoreError::Missing { .. }) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn tail(args: &TailArgs) -> ExitCode {
    let entries = match AuditLogReader::open(&args.state_dir).and_then(|r| r.tail(args.count)) {
        Ok(entries) => entries,
        Err(e) => return store_failure(&e),
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_string_pretty(&entries)
            .map_err(std::io::Error::other)
            .and_then(|text| writeln!(out, "{text}"))
    } else {
        entries
            .iter()
            .try_for_each(|entry| writeln!(out, "{}", line(entry)))
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enclet audit: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `seq time kind session detail`, with control characters escaped so a
/// hostile session or detail cannot drive the terminal.
fn line(entry: &AuditEntry) -> String {
    let session = entry.session.as_deref().unwrap_or("-");
    let detail = serde_json::to_string(&entry.detail).unwrap_or_default();
    format!(
        "{} {} {} {} {}",
        entry.seq,
        utc(entry.time_ms),
        entry.kind,
        printable(session),
        printable(&detail)
    )
}

fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let Ok(days) = i64::try_from(secs / 86_400) else {
        return format!("{ms}ms");
    };
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (the well-known
/// era-of-400-years conversion).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{printable, utc};

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[2Kb\u{9b}"), "a\\u{1b}[2Kb\\u{9b}");
    }
}
