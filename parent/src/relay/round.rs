//! One attestation round, step by step (see the module docs of `relay`).

use std::sync::Arc;

use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_control_plane_api::{
    AttesterKind, Evidence, EvidenceSubmission, Hex, NonceIssued, PcrValue, PluginName, Release,
    evidence_path, nonces_path,
};
use enclet_protocol::{AttesterIdentity, PluginInfo, PluginToken};
use hyper::Method;

use super::error::{RoundError, Step};
use super::session::{self, Session};
use super::status::{CurrentRelease, unix_now};
use crate::client::{Attestation, EnclaveClient, Reconnecting};

/// Runs rounds against one control plane and one enclave, keeping the
/// session between them. Owned by the relay's single worker, so rounds never
/// overlap.
#[derive(Debug)]
pub(super) struct Rounds {
    cp: ControlPlaneClient,
    enclave: Arc<Reconnecting>,
    session: Option<Session>,
}

impl Rounds {
    pub(super) fn new(cp: ControlPlaneClient, enclave: Arc<Reconnecting>) -> Self {
        Self {
            cp,
            enclave,
            session: None,
        }
    }

    /// One round; on success, what the enclave now holds.
    pub(super) async fn run(&mut self) -> Result<CurrentRelease, RoundError> {
        // Step 1: the enclave and its attester kind (TPM: its identity too).
        let enclave = self
            .enclave
            .client()
            .await
            .map_err(RoundError::enclave(Step::Health))?;
        let health = enclave
            .health()
            .await
            .map_err(RoundError::enclave(Step::Health))?;
        let attester = attester_kind(health.attester.as_deref())?;
        let identity = match attester {
            AttesterKind::Tpm => Some(
                enclave
                    .identity()
                    .await
                    .map_err(RoundError::enclave(Step::Identity))?,
            ),
            AttesterKind::Nitro => None,
        };
        // Steps 2-5: session, nonce, evidence, submission; once more in a
        // new session if the control plane lost this one.
        let mut reopened = false;
        let (release, names) = loop {
            let session = self.session(&enclave, attester, identity.as_ref()).await?;
            match submit(&self.cp, &enclave, &session).await {
                Ok(answer) => break answer,
                Err(e) => {
                    if e.spoils_session() {
                        self.session = None;
                    }
                    if e.session_lost() && !reopened {
                        tracing::info!(
                            code = e.code(),
                            "control-plane session lost; opening a new one"
                        );
                        reopened = true;
                        continue;
                    }
                    return Err(e);
                }
            }
        };
        // Step 6: the sealed bundle to the enclave, as opaque bytes.
        let Release {
            expires_at,
            plugins,
            bundle,
            ..
        } = release;
        let tokens = plugin_tokens(&plugins);
        let released = enclave
            .release(bundle.0, tokens)
            .await
            .map_err(RoundError::enclave(Step::Release))?;
        Ok(CurrentRelease::new(&released, &plugins, &names, expires_at))
    }

    /// The current session if still usable, else a new one.
    async fn session(
        &mut self,
        enclave: &EnclaveClient,
        attester: AttesterKind,
        identity: Option<&AttesterIdentity>,
    ) -> Result<Session, RoundError> {
        let ak = identity.map(|AttesterIdentity::Tpm { ak_public, .. }| ak_public.as_slice());
        if let Some(s) = self
            .session
            .as_ref()
            .filter(|s| s.usable(unix_now(), attester, ak))
        {
            return Ok(s.clone());
        }
        self.session = None;
        let opened = session::open(&self.cp, enclave, attester, identity).await?;
        self.session = Some(opened.clone());
        Ok(opened)
    }
}

/// The capability tokens of a release, for the enclave (opaque bytes; a
/// measurement the control plane wrote wrongly is left out and logged).
fn plugin_tokens(plugins: &[enclet_control_plane_api::PluginRelease]) -> Vec<PluginToken> {
    plugins
        .iter()
        .filter_map(|p| {
            let token = p.token.as_ref()?;
            match p.measurement.parse() {
                Ok(plugin) => Some(PluginToken {
                    plugin,
                    token: token.0.clone(),
                }),
                Err(e) => {
                    tracing::warn!(measurement = %p.measurement, reason = %e, "release names a malformed measurement: its token is left out");
                    None
                }
            }
        })
        .collect()
}

/// Nonce, evidence bound to it, the plugin names, and the submission.
async fn submit(
    cp: &ControlPlaneClient,
    enclave: &EnclaveClient,
    session: &Session,
) -> Result<(Release, Vec<PluginName>), RoundError> {
    let NonceIssued { nonce, .. } = cp
        .call_json(Method::POST, &nonces_path(&session.id), None::<&()>, None)
        .await
        .map_err(RoundError::control_plane(Step::Nonce))?;
    let Attestation {
        evidence,
        event_log,
        public_key,
    } = enclave
        .attest(nonce.0.clone())
        .await
        .map_err(RoundError::enclave(Step::Attest))?;
    let plugins = enclave
        .plugins()
        .await
        .map_err(RoundError::enclave(Step::ListPlugins))?;
    let names: Vec<PluginName> = plugins.into_iter().map(plugin_name).collect();
    let submission = EvidenceSubmission {
        nonce,
        evidence: evidence_json(evidence),
        event_log: Hex(event_log),
        public_key: Hex(public_key),
        plugins: names.clone(),
    };
    let release: Release = cp
        .call_json(
            Method::POST,
            &evidence_path(&session.id),
            Some(&submission),
            None,
        )
        .await
        .map_err(RoundError::control_plane(Step::Evidence))?;
    Ok((release, names))
}

/// The enclave's `Health.attester` → the control plane's attester kind.
pub(super) fn attester_kind(name: Option<&str>) -> Result<AttesterKind, RoundError> {
    match name {
        None => Err(RoundError::NoAttester),
        Some("tpm") => Ok(AttesterKind::Tpm),
        Some("nsm" | "nitro") => Ok(AttesterKind::Nitro),
        Some(other) => Err(RoundError::UnsupportedAttester(
            other.chars().take(32).collect(),
        )),
    }
}

fn plugin_name(p: PluginInfo) -> PluginName {
    PluginName {
        measurement: p.measurement.to_hex(),
        name: p.name,
    }
}

/// The enclave's evidence in the control plane's JSON shape.
fn evidence_json(evidence: enclet_protocol::Evidence) -> Evidence {
    match evidence {
        enclet_protocol::Evidence::Nitro { document } => Evidence::Nitro {
            document: Hex(document),
        },
        enclet_protocol::Evidence::Tpm(t) => Evidence::Tpm {
            attest: Hex(t.attest),
            signature: Hex(t.signature),
            ak_public: Hex(t.ak_public),
            pcrs: t
                .pcrs
                .into_iter()
                .map(|p| PcrValue {
                    index: p.index,
                    value: Hex(p.value),
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attester_kind_follows_the_enclave_health() {
        assert_eq!(attester_kind(Some("tpm")).unwrap(), AttesterKind::Tpm);
        assert_eq!(attester_kind(Some("nsm")).unwrap(), AttesterKind::Nitro);
        assert_eq!(attester_kind(None).unwrap_err().code(), "no_attester");
        assert_eq!(
            attester_kind(Some("sim")).unwrap_err().code(),
            "unsupported_attester"
        );
    }

    #[test]
    fn tpm_evidence_keeps_every_pcr_in_order() {
        let e = evidence_json(enclet_protocol::Evidence::Tpm(
            enclet_protocol::TpmEvidence {
                attest: vec![1],
                signature: vec![2],
                ak_public: vec![3],
                pcrs: vec![
                    enclet_protocol::PcrValue {
                        index: 16,
                        value: vec![4],
                    },
                    enclet_protocol::PcrValue {
                        index: 23,
                        value: vec![5],
                    },
                ],
            },
        ));
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"kind": "tpm", "attest": "01", "signature": "02", "ak_public": "03",
                "pcrs": [{"index": 16, "value": "04"}, {"index": 23, "value": "05"}]})
        );
        let n = evidence_json(enclet_protocol::Evidence::Nitro { document: vec![9] });
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            serde_json::json!({"kind": "nitro", "document": "09"})
        );
    }
}
