//! The release status the operator API answers (`GET /v1/release`): names
//! and times only, never bundle or secret bytes.

use std::time::{SystemTime, UNIX_EPOCH};

use enclet_control_plane_api::{PluginName, PluginRelease};
use enclet_protocol::Released;
use serde::Serialize;

use super::error::RoundError;

/// `GET /v1/release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseStatus {
    /// Whether a control plane is configured (`--control-plane`).
    pub configured: bool,
    /// The most recent round, if one ran.
    pub last_round: Option<LastRound>,
    /// When the secrets the enclave holds expire (Unix seconds), if a round
    /// ever succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// What the last successful round installed, in load order.
    pub plugins: Vec<PluginStatus>,
}

/// How the most recent round ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRound {
    /// Whether it installed a release.
    pub ok: bool,
    /// When it ended (Unix seconds).
    pub at: u64,
    /// The failure's code (see `RoundError::code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The failure, naming the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One plugin of the current release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginStatus {
    /// SHA-384, 96 hex characters.
    pub measurement: String,
    /// The name it was loaded under, if known.
    pub name: Option<String>,
    /// The names of the secrets the enclave holds for it.
    pub secrets: Vec<String>,
}

/// What a successful round installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CurrentRelease {
    /// The enclave's expiry of the secrets (Unix seconds).
    pub(super) expires_at: u64,
    /// The control plane's expiry; with `received_at`, the lifetime the
    /// refresh timer divides.
    pub(super) granted_until: u64,
    /// When the round ended (Unix seconds).
    pub(super) received_at: u64,
    pub(super) plugins: Vec<PluginStatus>,
}

impl CurrentRelease {
    /// Joins what the enclave installed (`released`, the truth about secret
    /// names) with the control plane's per-plugin list (every attested
    /// plugin, in load order) and the names the enclave reported.
    pub(super) fn new(
        released: &Released,
        granted: &[PluginRelease],
        names: &[PluginName],
        granted_until: u64,
    ) -> Self {
        let held = |m: &str| {
            released
                .plugins
                .iter()
                .find(|p| p.measurement.to_hex() == m)
                .map(|p| p.secrets.clone())
                .unwrap_or_default()
        };
        let name = |m: &str, cp: Option<&String>| {
            cp.cloned().or_else(|| {
                names
                    .iter()
                    .find(|n| n.measurement == m)
                    .map(|n| n.name.clone())
            })
        };
        let mut plugins: Vec<PluginStatus> = granted
            .iter()
            .map(|g| PluginStatus {
                measurement: g.measurement.clone(),
                name: name(&g.measurement, g.name.as_ref()),
                secrets: held(&g.measurement),
            })
            .collect();
        for p in &released.plugins {
            let m = p.measurement.to_hex();
            if !plugins.iter().any(|s| s.measurement == m) {
                plugins.push(PluginStatus {
                    name: name(&m, None),
                    measurement: m,
                    secrets: p.secrets.clone(),
                });
            }
        }
        Self {
            expires_at: released.expires_at,
            granted_until,
            received_at: unix_now(),
            plugins,
        }
    }
}

/// The relay's record: the last round and the release in force.
#[derive(Debug, Clone, Default)]
pub(super) struct Record {
    pub(super) last_round: Option<LastRound>,
    pub(super) current: Option<CurrentRelease>,
}

impl Record {
    pub(super) fn record(&mut self, outcome: &Result<CurrentRelease, RoundError>) {
        let at = unix_now();
        self.last_round = Some(match outcome {
            Ok(current) => {
                self.current = Some(current.clone());
                LastRound {
                    ok: true,
                    at,
                    code: None,
                    message: None,
                }
            }
            Err(e) => LastRound {
                ok: false,
                at,
                code: Some(e.code().to_owned()),
                message: Some(e.to_string()),
            },
        });
    }

    pub(super) fn status(&self, configured: bool) -> ReleaseStatus {
        ReleaseStatus {
            configured,
            last_round: self.last_round.clone(),
            expires_at: self.current.as_ref().map(|c| c.expires_at),
            plugins: self
                .current
                .as_ref()
                .map(|c| c.plugins.clone())
                .unwrap_or_default(),
        }
    }
}

/// Unix seconds now (0 before 1970).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
