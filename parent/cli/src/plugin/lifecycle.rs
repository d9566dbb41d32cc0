//! `enclet plugin unload` and `enclet plugin limits`.

use clap::Args;
use enclet_protocol::Limits;
use hyper::Method;
use serde::{Deserialize, Serialize};

use super::{Failure, LimitArgs, resolve, usage};
use crate::client::ParentClient;

/// Examples after `enclet plugin unload --help`.
pub(super) const UNLOAD_EXAMPLES: &str = "\
New calls are refused (unknown_plugin) at once; calls already running finish
first, then the unload is measured into the plugin PCR and appended to the
event log, so the next attestation shows it. Exit status 0 unloaded, 1 refused
(e.g. unknown_plugin), 2 usage.

Examples:
  enclet plugin unload echo
  enclet plugin unload payout --json";

/// Examples after `enclet plugin limits --help`.
pub(super) const LIMITS_EXAMPLES: &str = "\
Only the limits given change; the others stay. Calls already running keep the
limits they started with. A value above the enclave's hard maximum is refused
with invalid_limits (exit status 1); giving no limit is a usage error (2).

Examples:
  enclet plugin limits payout --fuel 2000000
  enclet plugin limits echo --deadline-ms 200 --max-output-bytes 4096 --json";

/// `enclet plugin unload`.
#[derive(Debug, Args)]
pub struct UnloadArgs {
    /// The plugin: its measurement (96 hex characters) or its name.
    pub plugin: String,
    /// Print the parent's JSON answer.
    #[arg(long)]
    pub json: bool,
}

/// `enclet plugin limits`.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// The plugin: its measurement (96 hex characters) or its name.
    pub plugin: String,
    /// Print the parent's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// The limits to change.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// A plugin as the unload and limits answers report it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginAnswer {
    /// Name.
    pub name: String,
    /// SHA-384, lowercase hex.
    pub measurement: String,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// Its limits (after a change, the new ones).
    pub limits: Limits,
}

pub(super) async fn unload(client: &ParentClient, args: &UnloadArgs) -> Result<(), Failure> {
    let measurement = resolve(client, &args.plugin).await?;
    let path = format!("/v1/plugins/{measurement}");
    let answer: PluginAnswer = client.call_json(Method::DELETE, &path, Vec::new()).await?;
    print(&answer, args.json, "unloaded")
}

pub(super) async fn limits(client: &ParentClient, args: &LimitsArgs) -> Result<(), Failure> {
    let body = limits_body(&args.limits)?;
    let measurement = resolve(client, &args.plugin).await?;
    let path = format!("/v1/plugins/{measurement}/limits");
    let answer: PluginAnswer = client.call_json(Method::PATCH, &path, body).await?;
    print(&answer, args.json, "limits changed for")
}

/// The JSON body of `PATCH …/limits`: the limits given, by their API names.
fn limits_body(limits: &LimitArgs) -> Result<Vec<u8>, Failure> {
    let given: serde_json::Map<String, serde_json::Value> = limits
        .params()
        .map(|(name, value)| (name.to_owned(), value.into()))
        .collect();
    if given.is_empty() {
        return Err(usage(
            "no limit given: pass at least one of --fuel, --deadline-ms, --max-memory-bytes, \
             --max-table-elements, --max-input-bytes, --max-output-bytes"
                .to_owned(),
        ));
    }
    Ok(serde_json::Value::Object(given).to_string().into_bytes())
}

fn print(answer: &PluginAnswer, json: bool, what: &str) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string(answer).map_err(|e| Failure {
            status: 1,
            message: format!("encoding the answer: {e}"),
        })?;
        println!("{text}");
    } else {
        let l = &answer.limits;
        println!(
            "{what} {} {}\n  fuel={} deadline_ms={} max_memory_bytes={} max_table_elements={} \
             max_input_bytes={} max_output_bytes={}",
            answer.name,
            answer.measurement,
            l.fuel,
            l.deadline_ms,
            l.max_memory_bytes,
            l.max_table_elements,
            l.max_input_bytes,
            l.max_output_bytes
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_body_names_only_the_limits_given() {
        let args = LimitArgs {
            fuel: Some(7),
            max_output_bytes: Some(4096),
            ..LimitArgs::default()
        };
        let body: serde_json::Value = serde_json::from_slice(&limits_body(&args).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"fuel": 7, "max_output_bytes": 4096})
        );
        let none = limits_body(&LimitArgs::default()).unwrap_err();
        assert_eq!(none.status, 2);
        assert!(none.message.contains("--fuel"), "{}", none.message);
    }
}
