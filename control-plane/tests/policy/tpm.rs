//! `check_ek` and `verify_tpm` with a real swtpm and an AK activated through
//! the library's challenge: accepted, and each refusal next to it.

use enclet_attestation::claims::{Plugins, TrustBasis};
use enclet_attestation::event_log::EventLog;
use enclet_attestation::measurement::replay_sha256;
use enclet_attestation::nitro::NitroRoot;
use enclet_attestation::{Measurement, Verified};
use enclet_control_plane::reference::ReferenceValues;
use enclet_control_plane::verify::{Refusal, VerifiedEnclave, Verifier};

use crate::support::{Fixture, PUBLIC_KEY, evidence, now, random};

fn verify(
    verifier: &Verifier,
    ak: &Verified<enclet_attestation::tpm::ActivatedAk>,
    ev: &enclet_attester::TpmEvidence,
    log: &EventLog,
    nonce: &[u8],
) -> Result<VerifiedEnclave, Refusal> {
    verifier.verify_tpm(ak, &evidence(ev), &log.to_bytes(), PUBLIC_KEY, nonce)
}

#[test]
fn an_activated_quote_is_accepted_and_a_stale_nonce_is_not() {
    let f = Fixture::new();
    let verifier = f.verifier(&[f.image]);
    let ak = f.activate(&verifier);
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);

    let enclave = verify(&verifier, &ak, &ev, &f.log, &nonce).unwrap();
    let claims = enclave.claims.get();
    assert!(matches!(claims.trust_basis, TrustBasis::ActivatedAk { .. }));
    assert!(claims.checked.nonce && claims.checked.pcrs && claims.checked.event_log);
    assert_eq!(claims.plugins, Plugins::Replayed(f.plugins.to_vec()));
    assert_eq!(
        claims.image.as_deref(),
        Some(&replay_sha256([&f.image])[..])
    );
    assert_eq!(claims.nonce.as_deref(), Some(&nonce[..]));
    assert!(!enclave.debug);

    // Another nonce than the quoted one.
    let r = verify(&verifier, &ak, &ev, &f.log, &random::<32>()).unwrap_err();
    assert_eq!(r.code, "evidence_rejected", "{r}");
    assert!(r.message.starts_with("tpm.qualifying_data"), "{r}");
    // Another public key than the quoted one.
    let r = verifier
        .verify_tpm(&ak, &evidence(&ev), &f.log.to_bytes(), b"other key", &nonce)
        .unwrap_err();
    assert_eq!(r.code, "evidence_rejected", "{r}");
}

#[test]
fn an_event_log_for_other_plugin_bytes_does_not_replay() {
    let f = Fixture::new();
    let verifier = f.verifier(&[f.image]);
    let ak = f.activate(&verifier);
    let nonce = random::<32>();
    let mut other = EventLog::new();
    other.push_load(f.plugins[0]).unwrap();
    other
        .push_load(Measurement::of_plugin(b"report plugin component, patched"))
        .unwrap();
    // The enclave quoted its real log; the parent shows another one.
    let ev = f.quote(&nonce, &f.log);
    let r = verify(&verifier, &ak, &ev, &other, &nonce).unwrap_err();
    assert_eq!(r.code, "event_log_mismatch", "{r}");
    // Even when the quote binds the other log's digest, PCR 16 does not lie.
    let lying = f.quote(&nonce, &other);
    let r = verify(&verifier, &ak, &lying, &other, &nonce).unwrap_err();
    assert_eq!(r.code, "event_log_mismatch", "{r}");
    // A log that is not a log.
    let r = verifier
        .verify_tpm(&ak, &evidence(&ev), b"junk", PUBLIC_KEY, &nonce)
        .unwrap_err();
    assert_eq!(r.code, "event_log_mismatch", "{r}");
    // Twin: the real log.
    assert!(verify(&verifier, &ak, &ev, &f.log, &nonce).is_ok());
}

#[test]
fn an_image_not_in_the_reference_values_is_refused() {
    let f = Fixture::new();
    let other = Measurement::of_plugin(b"another enclave build");
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &f.log);
    for images in [&[other][..], &[]] {
        let verifier = f.verifier(images);
        let ak = f.activate(&verifier);
        let r = verify(&verifier, &ak, &ev, &f.log, &nonce).unwrap_err();
        assert_eq!(r.code, "image_not_allowed", "{r}");
        assert!(
            r.message.contains(&hex::encode(replay_sha256([&f.image]))),
            "{r}"
        );
    }
    // Twin: the same quote with the image listed (next to another one).
    let verifier = f.verifier(&[other, f.image]);
    let ak = f.activate(&verifier);
    assert!(verify(&verifier, &ak, &ev, &f.log, &nonce).is_ok());
}

#[test]
fn a_quote_by_an_ak_that_was_never_activated_is_refused() {
    let f = Fixture::new();
    let second = Fixture::new();
    let verifier = f.verifier(&[f.image]);
    let ak = f.activate(&verifier);
    let nonce = random::<32>();
    // A genuine TPM quote of the same image, plugins and nonce by another AK.
    let ev = second.quote(&nonce, &second.log);
    assert_eq!(second.log, f.log);
    let r = verify(&verifier, &ak, &ev, &f.log, &nonce).unwrap_err();
    assert_eq!(r.code, "ak_not_activated", "{r}");
    // Its EK does not chain to this verifier's CA either.
    let r = verifier
        .check_ek(
            &second.identity.ek_certificate,
            &second.identity.ek_public,
            now(),
        )
        .unwrap_err();
    assert_eq!(r.code, "ek_certificate_rejected", "{r}");
    // Twin: a verifier trusting the second TPM's CA activates its AK and accepts.
    let theirs = second.verifier(&[second.image]);
    let second_ak = second.activate(&theirs);
    assert!(verify(&theirs, &second_ak, &ev, &second.log, &nonce).is_ok());
}

#[test]
fn without_a_tpm_ca_no_ek_is_accepted() {
    let f = Fixture::new();
    let verifier = Verifier::new(
        ReferenceValues::insecure_any_image(),
        None,
        NitroRoot::aws_g1(),
    );
    let r = verifier
        .check_ek(&f.identity.ek_certificate, &f.identity.ek_public, now())
        .unwrap_err();
    assert_eq!(r.code, "ek_certificate_rejected", "{r}");
    // Twin: with the CA the same certificate is accepted; not for another EK.
    let verifier = f.verifier(&[]);
    assert!(
        verifier
            .check_ek(&f.identity.ek_certificate, &f.identity.ek_public, now())
            .is_ok()
    );
    let r = verifier
        .check_ek(&f.identity.ek_certificate, &f.identity.ak_public, now())
        .unwrap_err();
    assert_eq!(r.code, "ek_certificate_rejected", "{r}");
}

#[test]
fn an_unloaded_plugin_is_not_attested_as_live_but_its_history_reaches_policy() {
    use enclet_attestation::event_log::PluginEvent;
    use enclet_control_plane::policy::PolicyInput;

    let f = Fixture::new();
    let verifier = f.verifier(&[f.image]);
    let ak = f.activate(&verifier);
    let [payout, report] = f.plugins;
    let unload = PluginEvent::Unload(report);
    f.attester.record_plugin_event(&unload).unwrap();
    let mut log = f.log.clone();
    log.push(unload).unwrap();
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &log);

    let enclave = verify(&verifier, &ak, &ev, &log, &nonce).unwrap();
    let claims = enclave.claims.get();
    assert_eq!(claims.plugins, Plugins::Replayed(vec![payout]));
    assert_eq!(
        claims.plugin_events,
        vec![PluginEvent::Load(payout), PluginEvent::Load(report), unload]
    );
    // Only the live plugin gets a decision; the history is in the input.
    let input = PolicyInput::new(&enclave, &[]);
    assert_eq!(
        input.plugins().iter().map(|(m, _)| *m).collect::<Vec<_>>(),
        vec![payout]
    );
    assert_eq!(input.as_json()["plugin_events"][2]["event"], "unload");
    assert_eq!(
        input.as_json()["plugin_events"][2]["measurement"],
        report.to_hex()
    );

    // A log that hides the unload is refused: against this quote (another
    // digest), and even in a fresh quote that binds it (the PCR saw the unload).
    let r = verify(&verifier, &ak, &ev, &f.log, &nonce).unwrap_err();
    assert_eq!(r.code, "event_log_mismatch", "{r}");
    let hiding = f.quote(&nonce, &f.log);
    let r = verify(&verifier, &ak, &hiding, &f.log, &nonce).unwrap_err();
    assert_eq!(r.code, "event_log_mismatch", "{r}");
}

#[test]
fn the_publisher_policy_trusts_a_plugin_by_the_signer_of_its_latest_load() {
    use enclet_attestation::event_log::{PluginEvent, SignedLoad};
    use enclet_control_plane::policy::{Policy, PolicyInput};

    let f = Fixture::new();
    let verifier = f.verifier(&[f.image]);
    let ak = f.activate(&verifier);
    let [payout, report] = f.plugins;
    let (trusted, other) = ([0x7a; 32], [0x0b; 32]);
    let signed = |measurement, publisher_key| {
        PluginEvent::SignedLoad(SignedLoad {
            measurement,
            publisher_key,
            manifest_digest: [0x5d; 48],
        })
    };
    // payout: reloaded signed by the trusted publisher. report: once signed
    // by it, then unloaded and loaded again WITHOUT a manifest.
    let events = [
        PluginEvent::Unload(payout),
        signed(payout, trusted),
        PluginEvent::Unload(report),
        signed(report, trusted),
        PluginEvent::Unload(report),
        PluginEvent::Load(report),
    ];
    let mut log = f.log.clone();
    for event in events {
        f.attester.record_plugin_event(&event).unwrap();
        log.push(event).unwrap();
    }
    let nonce = random::<32>();
    let ev = f.quote(&nonce, &log);
    let enclave = verify(&verifier, &ak, &ev, &log, &nonce).unwrap();

    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policy");
    let rego = std::fs::read_to_string(dir.join("publisher.rego")).unwrap();
    let decide = |publishers: &[[u8; 32]]| {
        let data = serde_json::json!({
            "trusted_publishers": publishers.iter().map(hex::encode).collect::<Vec<_>>(),
            "publisher_secrets": {hex::encode(trusted): ["payout-hmac-key"]},
        });
        Policy::from_source("publisher.rego", &rego, Some(data))
            .unwrap()
            .evaluate(&PolicyInput::new(&enclave, &[]))
            .unwrap()
    };
    let d = decide(&[trusted]);
    assert_eq!(d.enclave.rule, "trusted_enclave");
    let by_plugin = |m: Measurement| d.plugins.iter().find(|p| p.measurement == m).unwrap();
    let p = by_plugin(payout);
    assert_eq!(
        (p.allow, p.rule.as_str()),
        (true, "signed_by_trusted_publisher")
    );
    assert_eq!(p.secrets, ["payout-hmac-key"]);
    assert_eq!(p.capabilities, ["log"]);
    // report's history has a signed load, but its latest load is unsigned.
    let r = by_plugin(report);
    assert_eq!(
        (r.allow, r.rule.as_str()),
        (false, "not_signed_by_trusted_publisher")
    );
    assert!(r.secrets.is_empty());
    // Another publisher trusted instead: payout is denied too.
    let d = decide(&[other]);
    assert!(d.plugins.iter().all(|p| !p.allow), "{d:?}");
}
