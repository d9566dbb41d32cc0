//! A measured, activated TPM attester and the pure verifier's view of it.

use std::time::{SystemTime, UNIX_EPOCH};

use enclet_attestation::event_log::EventLog;
use enclet_attestation::event_log::PluginEvent;
use enclet_attestation::tpm::{
    self, ActivatedAk, CHALLENGE_RANDOM_LEN, EkIdentity, ExpectedExtraData, HashAlg, PcrValues,
    QuoteEvidence, TpmClaims, TpmExpectations,
};
use enclet_attestation::{Error, Measurement, UnixTime, Verified};
use enclet_attester::{
    AttestationRequest, Attester, AttesterIdentity, Evidence, TpmEvidence, TpmIdentity,
};
use enclet_swtpm::Swtpm;

pub(crate) const PUBLIC_KEY: &[u8] = b"enclave-public-key";

/// A running swtpm with an attester that measured an image and two plugins.
pub(crate) struct Fixture {
    // Field order: the attester closes its TPM context before swtpm stops.
    pub(crate) attester: Box<dyn Attester>,
    pub(crate) identity: TpmIdentity,
    pub(crate) image: Measurement,
    pub(crate) plugins: [Measurement; 2],
    pub(crate) log: EventLog,
    pub(crate) swtpm: Swtpm,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let swtpm = Swtpm::start().unwrap();
        let config = enclet_attester::parse_attester_config(&format!(
            "tpm:host=127.0.0.1,port={}",
            swtpm.port()
        ))
        .unwrap();
        let attester = enclet_attester::open(&config).unwrap();
        assert_eq!(attester.name(), "tpm");
        let image = Measurement::of_plugin(b"enclave binary");
        let plugins = [
            Measurement::of_plugin(b"plugin one component"),
            Measurement::of_plugin(b"plugin two component"),
        ];
        attester.measure_image(&image).unwrap();
        let mut log = EventLog::new();
        for p in &plugins {
            attester
                .record_plugin_event(&PluginEvent::Load(*p))
                .unwrap();
            log.push_load(*p).unwrap();
        }
        let AttesterIdentity::Tpm(identity) = attester.identity().unwrap() else {
            panic!("a TPM attester has a TPM identity");
        };
        Self {
            attester,
            identity,
            image,
            plugins,
            log,
            swtpm,
        }
    }

    /// A quote binding `nonce`, the fixed public key and `log`'s digest.
    pub(crate) fn quote(&self, nonce: &[u8], log: &EventLog) -> TpmEvidence {
        let request = AttestationRequest {
            nonce: nonce.to_vec(),
            public_key: PUBLIC_KEY.to_vec(),
            event_log_digest: log.digest(),
        };
        match self.attester.attest(&request).unwrap() {
            Evidence::Tpm(ev) => ev,
            other => panic!("expected TPM evidence, got {other:?}"),
        }
    }

    /// The EK certificate checked against this swtpm's own CA.
    pub(crate) fn verified_ek(&self) -> Verified<EkIdentity> {
        verify_ek(&self.identity, &self.swtpm).unwrap()
    }

    /// Credential activation of the attester's AK: the verifier's proof that
    /// the AK lives in the certified EK's TPM.
    pub(crate) fn activated_ak(&self) -> Verified<ActivatedAk> {
        let ek = self.verified_ek();
        let (pending, credential) = tpm::challenge(
            &ek,
            &self.identity.ak_public,
            &random::<CHALLENGE_RANDOM_LEN>(),
        )
        .unwrap();
        let secret = self
            .attester
            .activate_credential(&credential.id_object, &credential.encrypted_secret)
            .unwrap();
        pending.finish(&secret).unwrap()
    }
}

pub(crate) fn verify_ek(
    identity: &TpmIdentity,
    ca_of: &Swtpm,
) -> Result<Verified<EkIdentity>, Error> {
    let issuer = ca_of.issuer_cert_der().unwrap();
    let root = ca_of.ca_cert_der().unwrap();
    tpm::verify_ek_certificate(
        &identity.ek_certificate,
        &[&issuer],
        &root,
        &identity.ek_public,
        now(),
    )
}

pub(crate) fn now() -> UnixTime {
    UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).unwrap();
    out
}

/// The evidence's PCR list as the verifier's claimed values.
pub(crate) fn pcr_values(pcrs: &[(u8, Vec<u8>)]) -> PcrValues {
    let mut values = PcrValues::new();
    for (index, value) in pcrs {
        values
            .insert(HashAlg::Sha256, *index, value.clone())
            .unwrap();
    }
    values
}

/// Verifies `ev` with the enclet binding, the claimed PCRs, the event log and
/// (optionally) an activated AK.
pub(crate) fn verify(
    ev: &TpmEvidence,
    nonce: &[u8],
    log: &EventLog,
    activated: Option<&Verified<ActivatedAk>>,
) -> Result<Verified<TpmClaims>, Error> {
    let pcrs = pcr_values(&ev.pcrs);
    tpm::verify_quote(
        &QuoteEvidence {
            attest: &ev.attest,
            signature: &ev.signature,
            ak_public: &ev.ak_public,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Enclet {
                nonce,
                public_key: PUBLIC_KEY,
            },
            pcrs: Some(&pcrs),
            event_log: Some(log),
            activated_ak: activated,
        },
    )
}

/// The TPM error inside an attestation error.
pub(crate) fn tpm_err(result: Result<impl std::fmt::Debug, Error>) -> tpm::TpmError {
    match result {
        Err(Error::Tpm(e)) => e,
        other => panic!("expected a TPM error, got {other:?}"),
    }
}
