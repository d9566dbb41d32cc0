//! Real evidence for the tests: a measured, activated swtpm attester, and the
//! AWS documents in `attestation/testdata/nitro` with their manifest.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use enclet_attestation::event_log::EventLog;
use enclet_attestation::event_log::PluginEvent;
use enclet_attestation::nitro::NitroRoot;
use enclet_attestation::tpm::{self, ActivatedAk, CHALLENGE_RANDOM_LEN};
use enclet_attestation::{Measurement, UnixTime, Verified};
use enclet_attester::{
    AttestationRequest, Attester, AttesterIdentity, Evidence, TpmEvidence, TpmIdentity,
};
use enclet_control_plane::reference::ReferenceValues;
use enclet_control_plane::verify::{self, TpmTrust, VerifiedEnclave, Verifier};
use enclet_swtpm::Swtpm;

pub(crate) const PUBLIC_KEY: &[u8] = b"enclave x25519 public key";

/// A running swtpm whose attester measured an image and two plugins.
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
        let attester = swtpm.attester_config().open().unwrap();
        let image = Measurement::of_plugin(b"enclet-enclave binary");
        let plugins = [
            Measurement::of_plugin(b"payout plugin component"),
            Measurement::of_plugin(b"report plugin component"),
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

    /// This swtpm's CA as the control plane's TPM trust anchor.
    pub(crate) fn trust(&self) -> TpmTrust {
        TpmTrust {
            root: self.swtpm.ca_cert_der().unwrap(),
            intermediates: vec![self.swtpm.issuer_cert_der().unwrap()],
        }
    }

    /// A verifier trusting this swtpm's CA and accepting `images`.
    pub(crate) fn verifier(&self, images: &[Measurement]) -> Verifier {
        Verifier::new(
            reference_tpm(images),
            Some(self.trust()),
            NitroRoot::aws_g1(),
        )
    }

    /// What the session does: EK check, then credential activation.
    pub(crate) fn activate(&self, verifier: &Verifier) -> Verified<ActivatedAk> {
        let ek = verifier
            .check_ek(
                &self.identity.ek_certificate,
                &self.identity.ek_public,
                now(),
            )
            .unwrap();
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

    /// A quote binding `nonce`, [`PUBLIC_KEY`] and `log`'s digest.
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
}

/// The control plane's view of a quote.
pub(crate) fn evidence(ev: &TpmEvidence) -> verify::TpmEvidence<'_> {
    verify::TpmEvidence {
        attest: &ev.attest,
        signature: &ev.signature,
        ak_public: &ev.ak_public,
        pcrs: &ev.pcrs,
    }
}

/// Reference values accepting these TPM images (and no Nitro image).
pub(crate) fn reference_tpm(images: &[Measurement]) -> ReferenceValues {
    let list: Vec<String> = images.iter().map(|m| format!("\"{m}\"")).collect();
    ReferenceValues::from_toml(&format!("[tpm]\nimages = [{}]\n", list.join(", "))).unwrap()
}

/// A TPM enclave verified once through the whole path (EK, activation,
/// quote, reference values), with its two plugins; the swtpm is gone after.
pub(crate) fn tpm_enclave() -> &'static (VerifiedEnclave, [Measurement; 2]) {
    static ENCLAVE: OnceLock<(VerifiedEnclave, [Measurement; 2])> = OnceLock::new();
    ENCLAVE.get_or_init(|| {
        let f = Fixture::new();
        let verifier = f.verifier(&[f.image]);
        let ak = f.activate(&verifier);
        let nonce = random::<32>();
        let ev = f.quote(&nonce, &f.log);
        let enclave = verifier
            .verify_tpm(&ak, &evidence(&ev), &f.log.to_bytes(), PUBLIC_KEY, &nonce)
            .unwrap();
        (enclave, f.plugins)
    })
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

/// One AWS document from `attestation/testdata/nitro`, with its manifest facts.
pub(crate) struct Vector {
    pub(crate) bytes: Vec<u8>,
    pub(crate) at: UnixTime,
    pub(crate) debug: bool,
    /// PCR0, 1, 2, 8 in hex.
    pub(crate) pcrs: [String; 4],
    pub(crate) nonce: Option<Vec<u8>>,
}

/// The vector whose file name starts with `prefix` (e.g. `"04_"`).
pub(crate) fn vector(prefix: &str) -> Vector {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../attestation/testdata/nitro");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let doc = manifest["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file"].as_str().unwrap().starts_with(prefix))
        .unwrap();
    let s = |k: &str| doc[k].as_str().unwrap().to_owned();
    Vector {
        bytes: std::fs::read(dir.join(s("file"))).unwrap(),
        at: UnixTime::from_secs(doc["verify_at_unix_s"].as_u64().unwrap()),
        debug: doc["debug_mode"].as_bool().unwrap(),
        pcrs: [s("pcr0"), s("pcr1"), s("pcr2"), s("pcr8")],
        nonce: doc["nonce"].as_str().map(|n| hex::decode(n).unwrap()),
    }
}

/// Reference values with one Nitro image (`pcr8` compared when given).
pub(crate) fn reference_nitro(pcrs: &[String; 4], with_pcr8: bool, debug: bool) -> ReferenceValues {
    let [p0, p1, p2, p8] = pcrs;
    let line8 = if with_pcr8 {
        format!("pcr8 = \"{p8}\"\n")
    } else {
        String::new()
    };
    ReferenceValues::from_toml(&format!(
        "[nitro]\nallow_debug = {debug}\n[[nitro.images]]\npcr0 = \"{p0}\"\npcr1 = \"{p1}\"\npcr2 = \"{p2}\"\n{line8}"
    ))
    .unwrap()
}
