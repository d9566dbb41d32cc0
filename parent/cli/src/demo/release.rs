//! The demo's view of secret release: wait until the parent has relayed a
//! successful attestation round to the control plane for every loaded
//! plugin, and check the payout plugin's MAC with the key the demo (as the
//! operator) stored, without the key ever being printed.

use std::time::{Duration, Instant};

use hyper::Method;
use serde::{Deserialize, Serialize};

use super::READY_TIMEOUT;
use crate::client::ParentClient;

/// The `"release"` object of `enclet demo --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    /// The control plane's URL.
    pub control_plane: String,
    /// When the released secrets expire in the enclave (Unix seconds).
    pub expires_at: u64,
    /// Per loaded plugin, the names of the secrets it received (never values).
    pub plugins: Vec<ReleasedTo>,
    /// `"verified"`: the payout plugin's output carried an HMAC that the
    /// demo recomputed with the stored key.
    pub payout_mac: &'static str,
}

/// One plugin's share of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedTo {
    /// The name it was loaded under.
    pub name: Option<String>,
    /// SHA-384 of the component, hex.
    pub measurement: String,
    /// Secret names.
    pub secrets: Vec<String>,
}

#[derive(Deserialize)]
struct Status {
    last_round: Option<Round>,
    expires_at: Option<u64>,
    plugins: Vec<ReleasedTo>,
}

#[derive(Deserialize)]
struct Round {
    ok: bool,
    code: Option<String>,
    message: Option<String>,
}

/// Polls the parent's `GET /v1/release` until a successful round covers
/// every measurement in `loaded`, or a bounded time passes.
pub(super) async fn wait(
    client: &ParentClient,
    loaded: &[String],
) -> Result<(u64, Vec<ReleasedTo>), String> {
    let start = Instant::now();
    let mut last = "no round yet".to_owned();
    while start.elapsed() < READY_TIMEOUT {
        let status: Status = client
            .call_json(Method::GET, "/v1/release", Vec::new())
            .await
            .map_err(|e| format!("release status: {e}"))?;
        if let Some(round) = &status.last_round {
            if round.ok {
                let covered = loaded
                    .iter()
                    .all(|m| status.plugins.iter().any(|p| &p.measurement == m));
                if let (true, Some(expires_at)) = (covered, status.expires_at) {
                    return Ok((expires_at, status.plugins));
                }
            } else {
                last = format!(
                    "{}: {}",
                    round.code.as_deref().unwrap_or("failed"),
                    round.message.as_deref().unwrap_or("")
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "no release covering the loaded plugins after {READY_TIMEOUT:?} (last round: {last})"
    ))
}

/// Checks the payout output's `mac` member: `HMAC-SHA256(key, body)` where
/// `body` is the output without `,"mac":"…"` (see the payout plugin's
/// `mac.rs` for the byte-exact recipe).
pub(super) fn verify_payout_mac(output: &str, key: &[u8]) -> Result<(), String> {
    let (head, tail) = output
        .rsplit_once(",\"mac\":")
        .ok_or("the payout output has no mac member")?;
    let hex_mac = tail
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix("\"}"))
        .ok_or_else(|| {
            format!("the payout output's mac is {tail:?}, not a MAC: nothing was released to it")
        })?;
    let tag = hex::decode(hex_mac).map_err(|e| format!("the payout mac is not hex: {e}"))?;
    let body = format!("{head}}}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::verify(&key, body.as_bytes(), &tag)
        .map_err(|_| "the payout mac does not verify with the released key".to_owned())
}

#[cfg(test)]
mod tests {
    use super::verify_payout_mac;

    fn mac(key: &[u8], body: &str) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        hex::encode(aws_lc_rs::hmac::sign(&key, body.as_bytes()).as_ref())
    }

    #[test]
    fn the_mac_verifies_only_with_the_key_over_the_exact_body() {
        let body = r#"{"currency":"EUR","total_cents":5250}"#;
        let out = format!(
            r#"{{"currency":"EUR","total_cents":5250,"mac":"{}"}}"#,
            mac(b"k", body)
        );
        assert!(verify_payout_mac(&out, b"k").is_ok());
        assert!(verify_payout_mac(&out, b"other key").is_err());
        let changed = out.replace("5250", "5251");
        assert!(verify_payout_mac(&changed, b"k").is_err());
        let unsigned = r#"{"currency":"EUR","total_cents":5250,"mac":null}"#;
        let err = verify_payout_mac(unsigned, b"k").unwrap_err();
        assert!(err.contains("nothing was released"), "{err}");
        assert!(verify_payout_mac(body, b"k").is_err());
    }
}
