//! The demo's verifier: TPM attestation of the running enclave, checked in
//! pure Rust against the simulator's CA.
//!
//! ```text
//! swtpm (fresh state + local CA in <state>/swtpm) ◀── enclet-enclave --attester tpm:…
//!
//! verifier (this module), through the parent's operator API:
//!  1. GET  /v1/attester/identity   EK certificate ─ verify_ek_certificate ─▶ CA (now)
//!  2. POST /v1/attester/activate   MakeCredential(random secret, seed) to (EK, AK name);
//!                                  the TPM's answer must equal the secret ─▶ AK trusted
//!  3. POST /v1/attest {nonce}      verify_quote: the activated AK's signature,
//!                                  qualifying data = H(nonce, enclave key, event-log digest),
//!                                  PCR values ─▶ pcrDigest, event log ─▶ PCR 16
//!  4. the image PCR 23 must be the enclave binary's SHA-384 measurement, and the
//!     event log exactly the plugins the demo loaded, in order
//! ```
//!
//! Any failed check ends the demo with exit status 1 and the reason.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use enclet_attestation::claims::TrustBasis;
use enclet_attestation::event_log::EventLog;
use enclet_attestation::measurement::replay_sha256;
use enclet_attestation::tpm::{
    self, ActivatedAk, CHALLENGE_RANDOM_LEN, ExpectedExtraData, HashAlg, IMAGE_PCR, PLUGIN_PCR,
    PcrValues, QuoteEvidence, TpmClaims, TpmExpectations,
};
use enclet_attestation::{Measurement, UnixTime, Verified};
use enclet_swtpm::Swtpm;
use hyper::Method;
use serde::Serialize;

use crate::client::ParentClient;
use enclet_parent::api::attest::{
    ActivateJson, ActivatedJson, AttestJson, AttestationJson, EvidenceJson, Hex, IdentityJson,
};

/// Length of the verifier's nonce, in bytes.
const NONCE_LEN: usize = 32;

/// The `"attestation"` object of `enclet demo --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestationReport {
    /// The attester backend (`"tpm"`).
    pub attester: &'static str,
    /// Always true in a report: a failed check ends the demo instead.
    pub verified: bool,
    /// Why the quote's key is trusted: `"activated_ak"` (credential activation
    /// against the certified EK), as the demo requires.
    pub trust_basis: &'static str,
    /// The AK was proven, by credential activation, to live in the EK's TPM.
    pub ak_activated: bool,
    /// The EK certificate chained to the simulator's CA (`"ok"`).
    pub ek_certificate_chain: &'static str,
    /// The enclave image measurement (SHA-384 of `enclet-enclave`), hex.
    pub image: String,
    /// Plugin measurements from the replayed event log, in load order, hex.
    pub plugins: Vec<String>,
    /// The enclave's public key bound into the quote, hex.
    pub public_key: String,
    /// The verifier's nonce, hex.
    pub nonce: String,
    /// The quoted PCR values (SHA-256 bank) by index, hex.
    pub pcrs: std::collections::BTreeMap<String, String>,
}

/// Provisions and starts a fresh swtpm with its CA in `dir`.
pub(super) async fn start_swtpm(dir: &Path) -> Result<Swtpm, String> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || Swtpm::start_in(&dir))
        .await
        .map_err(|e| format!("swtpm start-up task: {e}"))?
        .map_err(|e| format!("{e} (run scripts/setup to install swtpm)"))
}

/// Runs the verifier flow against the appliance behind `client`.
///
/// `enclave_exe` is the enclave binary the image PCR must measure; `loaded`
/// the plugins the event log must hold, in load order.
pub(super) async fn verify(
    client: &ParentClient,
    swtpm: &Swtpm,
    enclave_exe: &Path,
    loaded: &[Measurement],
) -> Result<AttestationReport, String> {
    let ak = trust_ak(client, swtpm).await?;
    let nonce = random::<NONCE_LEN>()?;
    let (verified, values) = quote(client, &ak, &nonce).await?;
    let claims = verified.into_claims();
    let activated = matches!(claims.trust_basis, TrustBasis::ActivatedAk { .. });
    let checked = claims.checked;
    let plugins = claims.plugins.replayed().unwrap_or_default();
    if !activated || !checked.nonce || !checked.pcrs || !checked.event_log {
        return Err("quote verified without every check (AK, nonce, PCRs, event log)".to_owned());
    }
    let image = image_measurement(enclave_exe).await?;
    if claims.image.as_deref() != Some(&replay_sha256([&image])[..]) {
        return Err(format!(
            "image PCR {IMAGE_PCR} does not measure {} (SHA-384 {image})",
            enclave_exe.display()
        ));
    }
    if plugins != loaded {
        return Err(format!(
            "the event log holds {} plugins, not the {} loaded, in order",
            plugins.len(),
            loaded.len()
        ));
    }
    Ok(AttestationReport {
        attester: "tpm",
        verified: true,
        trust_basis: claims.trust_basis.as_str(),
        ak_activated: activated,
        ek_certificate_chain: "ok",
        image: image.to_hex(),
        plugins: plugins.iter().map(Measurement::to_hex).collect(),
        public_key: hex::encode(claims.public_key.as_deref().unwrap_or_default()),
        nonce: hex::encode(claims.nonce.as_deref().unwrap_or_default()),
        pcrs: [PLUGIN_PCR, IMAGE_PCR]
            .into_iter()
            .filter_map(|i| {
                values
                    .get(HashAlg::Sha256, i)
                    .map(|v| (i.to_string(), hex::encode(v)))
            })
            .collect(),
    })
}

/// Steps 1 and 2: the EK certificate chains to the CA, and the AK answers a
/// credential made for that EK.
async fn trust_ak(client: &ParentClient, swtpm: &Swtpm) -> Result<Verified<ActivatedAk>, String> {
    let identity: IdentityJson = client
        .call_json(Method::GET, "/v1/attester/identity", Vec::new())
        .await
        .map_err(|e| format!("fetching the attester identity: {e}"))?;
    let issuer = swtpm.issuer_cert_der().map_err(|e| e.to_string())?;
    let root = swtpm.ca_cert_der().map_err(|e| e.to_string())?;
    let ek = tpm::verify_ek_certificate(
        &identity.ek_certificate.0,
        &[&issuer],
        &root,
        &identity.ek_public.0,
        now()?,
    )
    .map_err(|e| format!("EK certificate rejected: {e}"))?;
    let (pending, credential) = tpm::challenge(
        &ek,
        &identity.ak_public.0,
        &random::<CHALLENGE_RANDOM_LEN>()?,
    )
    .map_err(|e| format!("credential for the AK: {e}"))?;
    let body = json(&ActivateJson {
        id_object: Hex(credential.id_object),
        encrypted_secret: Hex(credential.encrypted_secret),
    })?;
    let activated: ActivatedJson = client
        .call_json(Method::POST, "/v1/attester/activate", body)
        .await
        .map_err(|e| format!("credential activation: {e}"))?;
    pending
        .finish(&activated.secret.0)
        .map_err(|e| format!("AK not trusted: {e}"))
}

/// Step 3: a quote bound to `nonce`, verified with the activated AK.
async fn quote(
    client: &ParentClient,
    ak: &Verified<ActivatedAk>,
    nonce: &[u8],
) -> Result<(Verified<TpmClaims>, PcrValues), String> {
    let body = json(&AttestJson {
        nonce: Hex(nonce.to_vec()),
    })?;
    let attestation: AttestationJson = client
        .call_json(Method::POST, "/v1/attest", body)
        .await
        .map_err(|e| format!("attestation: {e}"))?;
    let EvidenceJson::Tpm {
        attest,
        signature,
        ak_public,
        pcrs,
    } = &attestation.evidence
    else {
        return Err("the enclave answered with non-TPM evidence".to_owned());
    };
    let log = EventLog::from_bytes(&attestation.event_log.0)
        .map_err(|e| format!("event log rejected: {e}"))?;
    let mut values = PcrValues::new();
    for (index, value) in pcrs {
        values
            .insert(HashAlg::Sha256, index.0, value.0.clone())
            .map_err(|e| format!("PCR {}: {e}", index.0))?;
    }
    let verified = tpm::verify_quote(
        &QuoteEvidence {
            attest: &attest.0,
            signature: &signature.0,
            ak_public: &ak_public.0,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Enclet {
                nonce,
                public_key: &attestation.public_key.0,
            },
            pcrs: Some(&values),
            event_log: Some(&log),
            activated_ak: Some(ak),
        },
    )
    .map_err(|e| format!("quote rejected: {e}"))?;
    Ok((verified, values))
}

/// The image measurement rule: SHA-384 of the enclave binary's bytes.
pub(super) async fn image_measurement(exe: &Path) -> Result<Measurement, String> {
    let bytes = tokio::fs::read(exe)
        .await
        .map_err(|e| format!("reading {}: {e}", exe.display()))?;
    Ok(Measurement::of_plugin(&bytes))
}

fn json(value: &impl Serialize) -> Result<Vec<u8>, String> {
    serde_json::to_vec(value).map_err(|e| format!("encoding a request: {e}"))
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| "the system CSPRNG failed".to_owned())?;
    Ok(out)
}

fn now() -> Result<UnixTime, String> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| format!("system clock before 1970: {e}"))?
        .as_secs();
    Ok(UnixTime::from_secs(secs))
}
