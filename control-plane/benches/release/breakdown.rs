//! In-process cost of each step of one release, with the same inputs the
//! service gets: the quote verification (signature checks, event log, image),
//! the Rego evaluation, the HPKE seal of one secret, and an audit commit
//! (one caller alone, and 16 callers sharing group commits).

use std::sync::Arc;
use std::time::{Duration, Instant};

use enclet_attestation::nitro::NitroRoot;
use enclet_attestation::tpm::{self, ActivatedAk, CHALLENGE_RANDOM_LEN};
use enclet_attestation::{Measurement, UnixTime, Verified};
use enclet_control_plane::audit::{AuditEvent, AuditKind};
use enclet_control_plane::policy::{Policy, PolicyInput};
use enclet_control_plane::reference::ReferenceValues;
use enclet_control_plane::store::{SqliteStore, Store};
use enclet_control_plane::verify::{TpmEvidence, TpmTrust, Verifier};
use enclet_control_plane_api::{Evidence, EvidenceSubmission};

use crate::report;
use crate::support::{SECRET_NAME, SECRET_VALUE, TpmEnclave, now_secs};

const ROUNDS: usize = 2000;

fn time(what: &str, rounds: usize, mut f: impl FnMut()) {
    let mut lat = Vec::with_capacity(rounds);
    let t = Instant::now();
    for _ in 0..rounds {
        let s = Instant::now();
        f();
        lat.push(s.elapsed());
    }
    report(what, &mut lat, t.elapsed());
}

pub fn run(enclave: &TpmEnclave, body: &EvidenceSubmission, image: &Measurement) {
    println!("breakdown, in process (same inputs as one release):");
    let (verifier, ak) = session(enclave, image);
    verify_and_decide(&verifier, &ak, body);
    let session = [3u8; 16];
    let plugin = enclave.log.live()[0];
    time(
        "  HPKE seal of one secret (X25519-HKDF-SHA256, AES-256-GCM)",
        ROUNDS,
        || {
            enclet_sealed::seal(
                enclave.key.public_key(),
                &session,
                now_secs() + 600,
                &plugin,
                SECRET_NAME,
                SECRET_VALUE,
            )
            .unwrap();
        },
    );
    audit_commits(&plugin.to_hex());
}

/// The session's work, done once per session: EK chain and credential
/// activation of the AK.
fn session(enclave: &TpmEnclave, image: &Measurement) -> (Verifier, Verified<ActivatedAk>) {
    let trust = TpmTrust {
        root: enclave.swtpm.ca_cert_der().unwrap(),
        intermediates: vec![enclave.swtpm.issuer_cert_der().unwrap()],
    };
    let reference =
        ReferenceValues::from_toml(&format!("[tpm]\nimages = [\"{}\"]\n", image.to_hex())).unwrap();
    let verifier = Verifier::new(reference, Some(trust), NitroRoot::aws_g1());
    let ek = verifier
        .check_ek(
            &enclave.identity.ek_certificate,
            &enclave.identity.ek_public,
            UnixTime::from_secs(now_secs()),
        )
        .unwrap();
    let mut random = [0u8; CHALLENGE_RANDOM_LEN];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    let (pending, credential) = tpm::challenge(&ek, &enclave.identity.ak_public, &random).unwrap();
    let secret = enclave
        .attester
        .activate_credential(&credential.id_object, &credential.encrypted_secret)
        .unwrap();
    (verifier, pending.finish(&secret).unwrap())
}

/// Quote verification with the activated AK, then the policy over its claims.
fn verify_and_decide(verifier: &Verifier, ak: &Verified<ActivatedAk>, body: &EvidenceSubmission) {
    let Evidence::Tpm {
        attest,
        signature,
        ak_public,
        pcrs,
    } = &body.evidence
    else {
        panic!("TPM evidence");
    };
    let pcrs: Vec<(u8, Vec<u8>)> = pcrs.iter().map(|p| (p.index, p.value.0.clone())).collect();
    let ev = TpmEvidence {
        attest: &attest.0,
        signature: &signature.0,
        ak_public: &ak_public.0,
        pcrs: &pcrs,
    };
    let check = || {
        verifier
            .verify_tpm(
                ak,
                &ev,
                &body.event_log.0,
                &body.public_key.0,
                &body.nonce.0,
            )
            .unwrap()
    };
    time(
        "  quote verification (signature, PCR digest, event log, image)",
        ROUNDS,
        || {
            check();
        },
    );
    let attested = check();
    let plugins = attested.claims.plugins.replayed().unwrap().to_vec();
    let data = serde_json::json!({ "plugins": {
        plugins[0].to_hex(): { "secrets": [SECRET_NAME] },
        plugins[1].to_hex(): { "secrets": [] },
    }});
    let policy = Policy::default_with_data(Some(data)).unwrap();
    let names: Vec<(Measurement, String)> =
        plugins.iter().map(|m| (*m, "plugin".to_owned())).collect();
    time(
        "  Rego policy evaluation (input built from the claims)",
        ROUNDS,
        || {
            let input = PolicyInput::new(&attested, &names);
            assert!(policy.evaluate(&input).unwrap().refusal().is_none());
        },
    );
}

/// Audit commits: one caller alone, then 16 sharing group commits.
fn audit_commits(plugin: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    time("  audit commit, one caller (3 entries, fsync)", 300, || {
        store.append_audit(events(plugin)).unwrap();
    });
    let before = store.commits();
    let t = Instant::now();
    let per_thread = 100;
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            let plugin = plugin.to_owned();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                for _ in 0..per_thread {
                    let s = Instant::now();
                    store.append_audit(events(&plugin)).unwrap();
                    lat.push(s.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    report(
        "  audit commit, 16 callers (3 entries each, group commit)",
        &mut lat,
        t.elapsed(),
    );
    println!(
        "    {} appends shared {} commits",
        16 * per_thread,
        store.commits() - before
    );
}

/// A release's audit entries for one plugin (verdict, decision, release).
fn events(plugin: &str) -> Vec<AuditEvent> {
    [
        AuditKind::Verdict,
        AuditKind::PolicyDecision,
        AuditKind::Release,
    ]
    .into_iter()
    .map(|kind| {
        AuditEvent::new(
            kind,
            now_secs() * 1000,
            serde_json::json!({ "plugin": plugin, "secrets": [SECRET_NAME] }),
        )
    })
    .collect()
}
