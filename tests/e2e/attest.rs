//! TPM attestation through the real processes: `enclet-enclave --attester`
//! on a private swtpm, the parent's operator API, and the pure-Rust verifier.
//! Every quote is checked by `enclet_attestation::tpm`, never by the TPM.

use std::time::{SystemTime, UNIX_EPOCH};

use enclet_attestation::event_log::EventLog;
use enclet_attestation::measurement::replay_sha256;
use enclet_attestation::tpm::{
    self, ActivatedAk, CHALLENGE_RANDOM_LEN, CREDENTIAL_RANDOM_LEN, ExpectedExtraData, HashAlg,
    IMAGE_PCR, PLUGIN_PCR, PcrValues, QuoteEvidence, TpmClaims, TpmExpectations,
};
use enclet_attestation::{Error, Measurement, UnixTime, Verified};
use enclet_parent::api::attest::{
    ActivateJson, ActivatedJson, AttestJson, AttestationJson, EvidenceJson, Hex, IdentityJson,
};
use enclet_swtpm::Swtpm;
use hyper::Method;

use crate::harness::{Appliance, api_error, bin};

/// A private swtpm; fails (never skips) when the simulator is not installed.
fn swtpm() -> Swtpm {
    Swtpm::start().unwrap_or_else(|e| {
        panic!("cannot start swtpm: {e}\nrun scripts/setup to install swtpm and swtpm-tools")
    })
}

/// An appliance whose enclave attests with `swtpm`.
async fn attested(swtpm: &Swtpm) -> Appliance {
    let config = swtpm.attester_config().to_string();
    Appliance::start_full(&["--attester", &config], &[]).await
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).unwrap();
    out
}

fn body(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn now() -> UnixTime {
    UnixTime::from_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

async fn identity(a: &Appliance) -> IdentityJson {
    a.api()
        .call_json(Method::GET, "/v1/attester/identity", Vec::new())
        .await
        .unwrap()
}

/// EK certificate against the swtpm's CA, then credential activation through
/// the parent: the verifier's trust in the AK.
async fn trust_ak(a: &Appliance, swtpm: &Swtpm) -> Verified<ActivatedAk> {
    let id = identity(a).await;
    assert_eq!(id.attester, "tpm");
    let ek = tpm::verify_ek_certificate(
        &id.ek_certificate.0,
        &[&swtpm.issuer_cert_der().unwrap()],
        &swtpm.ca_cert_der().unwrap(),
        &id.ek_public.0,
        now(),
    )
    .unwrap();
    let (pending, credential) =
        tpm::challenge(&ek, &id.ak_public.0, &random::<CHALLENGE_RANDOM_LEN>()).unwrap();
    let answer: ActivatedJson = a
        .api()
        .call_json(
            Method::POST,
            "/v1/attester/activate",
            body(&ActivateJson {
                id_object: Hex(credential.id_object),
                encrypted_secret: Hex(credential.encrypted_secret),
            }),
        )
        .await
        .unwrap();
    pending.finish(&answer.secret.0).unwrap()
}

async fn attest(a: &Appliance, nonce: &[u8]) -> AttestationJson {
    a.api()
        .call_json(
            Method::POST,
            "/v1/attest",
            body(&AttestJson {
                nonce: Hex(nonce.to_vec()),
            }),
        )
        .await
        .unwrap()
}

/// The verifier's check of one attestation answer.
fn verify(
    att: &AttestationJson,
    nonce: &[u8],
    log: &EventLog,
    ak: &Verified<ActivatedAk>,
) -> Result<Verified<TpmClaims>, Error> {
    let EvidenceJson::Tpm {
        attest,
        signature,
        ak_public,
        pcrs,
    } = &att.evidence
    else {
        panic!("expected TPM evidence: {:?}", att.evidence);
    };
    let mut values = PcrValues::new();
    for (index, value) in pcrs {
        values
            .insert(HashAlg::Sha256, index.0, value.0.clone())
            .unwrap();
    }
    tpm::verify_quote(
        &QuoteEvidence {
            attest: &attest.0,
            signature: &signature.0,
            ak_public: &ak_public.0,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Enclet {
                nonce,
                public_key: &att.public_key.0,
            },
            pcrs: Some(&values),
            event_log: Some(log),
            activated_ak: Some(ak),
        },
    )
}

fn tpm_code(result: Result<Verified<TpmClaims>, Error>) -> &'static str {
    match result {
        Err(e) => e.code(),
        Ok(c) => panic!("expected a rejection, got {:?}", c.get().claims),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_plugins_are_attested_and_verified_with_an_activated_ak() {
    let swtpm = swtpm();
    let a = attested(&swtpm).await;
    let echo: Measurement = a.load("echo").await.parse().unwrap();
    let payout: Measurement = a.load("payout").await.parse().unwrap();
    let ak = trust_ak(&a, &swtpm).await;

    let nonce = random::<32>();
    let att = attest(&a, &nonce).await;
    let log = EventLog::from_bytes(&att.event_log.0).unwrap();
    let verified = verify(&att, &nonce, &log, &ak).unwrap_or_else(|e| panic!("{e}\n{}", a.logs()));
    let claims = verified.get();
    let checked = claims.claims.checked;
    assert_eq!(claims.claims.trust_basis.as_str(), "activated_ak");
    assert!(checked.nonce && checked.pcrs && checked.event_log);
    assert_eq!(claims.claims.plugins.replayed(), Some(&[echo, payout][..]));
    assert_eq!(claims.claims.nonce.as_deref(), Some(&nonce[..]));
    assert_eq!(att.public_key.0.len(), 32, "an X25519 public key");
    assert_eq!(
        claims.claims.public_key.as_deref(),
        Some(&att.public_key.0[..])
    );

    // The image PCR holds the enclave binary's SHA-384 measurement.
    let image = Measurement::of_plugin(&std::fs::read(bin("enclet-enclave")).unwrap());
    assert_eq!(
        claims.claims.image.as_deref(),
        Some(&replay_sha256([&image])[..])
    );
    let EvidenceJson::Tpm { pcrs, .. } = &att.evidence else {
        unreachable!()
    };
    let pcr = |i: u8| {
        pcrs.iter()
            .find(|(k, _)| k.0 == i)
            .map(|(_, v)| v.0.clone())
    };
    assert_eq!(pcr(PLUGIN_PCR).unwrap(), replay_sha256([&echo, &payout]));
    assert_eq!(pcr(IMAGE_PCR).unwrap(), replay_sha256([&image]));

    // The key is the enclave's for its lifetime: a second attestation binds the same one.
    let nonce2 = random::<32>();
    let again = attest(&a, &nonce2).await;
    assert_eq!(again.public_key, att.public_key);
    verify(&again, &nonce2, &log, &ak).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_nonce_and_a_different_plugin_are_rejected() {
    let swtpm = swtpm();
    let a = attested(&swtpm).await;
    let echo: Measurement = a.load("echo").await.parse().unwrap();
    let payout: Measurement = a.load("payout").await.parse().unwrap();
    let ak = trust_ak(&a, &swtpm).await;

    let old_nonce = random::<32>();
    let old = attest(&a, &old_nonce).await;
    let log = EventLog::from_bytes(&old.event_log.0).unwrap();
    verify(&old, &old_nonce, &log, &ak).unwrap();

    // Replaying the earlier answer to a verifier that asked with a fresh nonce.
    let fresh = random::<32>();
    assert_eq!(
        tpm_code(verify(&old, &fresh, &log, &ak)),
        "tpm.qualifying_data"
    );

    // An event log naming another plugin than the one measured second.
    let mut other = EventLog::new();
    other.push_load(echo).unwrap();
    other
        .push_load(Measurement::of_plugin(&crate::harness::plugin("hostile")))
        .unwrap();
    assert_eq!(
        tpm_code(verify(&old, &old_nonce, &other, &ak)),
        "tpm.event_log"
    );
    // The same plugins in another order.
    let mut swapped = EventLog::new();
    swapped.push_load(payout).unwrap();
    swapped.push_load(echo).unwrap();
    assert_eq!(
        tpm_code(verify(&old, &old_nonce, &swapped, &ak)),
        "tpm.event_log"
    );

    // A different public key than the one the enclave bound.
    let mut forged = old.clone();
    forged.public_key = Hex(vec![7; 32]);
    assert_eq!(
        tpm_code(verify(&forged, &old_nonce, &log, &ak)),
        "tpm.qualifying_data"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_for_another_ak_is_refused_by_the_enclave() {
    let swtpm = swtpm();
    let a = attested(&swtpm).await;
    let id = identity(&a).await;
    let mut wrong_name = id.ak_name.0.clone();
    *wrong_name.last_mut().unwrap() ^= 1;
    let credential = tpm::make_credential(
        &id.ek_public.0,
        &wrong_name,
        &random::<32>(),
        &random::<CREDENTIAL_RANDOM_LEN>(),
    )
    .unwrap();
    let err = a
        .api()
        .call(
            Method::POST,
            "/v1/attester/activate",
            body(&ActivateJson {
                id_object: Hex(credential.id_object),
                encrypted_secret: Hex(credential.encrypted_secret),
            }),
        )
        .await
        .unwrap_err();
    let (status, code, _) = api_error(err);
    assert_eq!((status, code.as_str()), (422, "credential_rejected"));
    // The enclave is still fine: the right credential activates.
    trust_ak(&a, &swtpm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_attester_attestation_is_refused_with_no_attester() {
    let a = Appliance::start().await;
    let nonce = body(&AttestJson {
        nonce: Hex(vec![1; 32]),
    });
    let activate = body(&ActivateJson {
        id_object: Hex(vec![1]),
        encrypted_secret: Hex(vec![1]),
    });
    for (method, path, body) in [
        (Method::POST, "/v1/attest", nonce),
        (Method::GET, "/v1/attester/identity", Vec::new()),
        (Method::POST, "/v1/attester/activate", activate),
    ] {
        let err = a.api().call(method, path, body).await.unwrap_err();
        let (status, code, _) = api_error(err);
        assert_eq!((status, code.as_str()), (501, "no_attester"), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_attest_requests_are_invalid() {
    let swtpm = swtpm();
    let a = attested(&swtpm).await;
    for (payload, status, code) in [
        (r#"{"nonce":"00"}"#.to_owned(), 400, "invalid_request"),
        (r#"{"nonce":"xyz"}"#.to_owned(), 400, "invalid_request"),
        (
            format!(r#"{{"nonce":"{}"}}"#, "00".repeat(65)),
            400,
            "invalid_request",
        ),
        (
            format!(r#"{{"nonce":"{}"}}"#, "00".repeat(20_000)),
            413,
            "body_too_large",
        ),
    ] {
        let err = a
            .api()
            .call(Method::POST, "/v1/attest", payload.into_bytes())
            .await
            .unwrap_err();
        let (s, c, m) = api_error(err);
        assert_eq!((s, c.as_str()), (status, code), "{m}");
    }
}

#[test]
fn the_enclave_refuses_to_start_with_a_bad_or_unreachable_attester() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("unix:{}", dir.path().join("e.sock").display());
    let run = |attester: &str| {
        std::process::Command::new(bin("enclet-enclave"))
            .args(["--listen", &listen, "--attester", attester])
            .env("TSS2_LOG", "all+NONE")
            .output()
            .unwrap()
    };
    let out = run("tpm:host=127.0.0.1,port=x");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--attester"));

    // A port where no TPM listens: start-up fails instead of serving unattested.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&format!("tpm:host=127.0.0.1,port={port}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("opening the attester"), "{stderr}");
    assert!(!dir.path().join("e.sock").exists());
}
