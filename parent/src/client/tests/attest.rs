//! The attestation requests: what is sent and how answers are unpacked.

use enclet_protocol::{
    AttesterIdentity, ErrorBody, Evidence, PcrValue, Request, Response, TpmEvidence,
};

use super::{answer, connected, next_request};
use crate::Error;
use crate::client::Attestation;

fn identity() -> AttesterIdentity {
    AttesterIdentity::Tpm {
        ek_public: vec![1],
        ek_certificate: vec![2],
        ak_public: vec![3],
        ak_name: vec![4],
    }
}

#[tokio::test]
async fn identity_activation_and_attest_round_trip() {
    let (client, mut server) = connected();

    let c = client.clone();
    let pending = tokio::spawn(async move { c.identity().await });
    let (id, req) = next_request(&mut server).await;
    assert_eq!(req, Request::Identity);
    answer(&mut server, id, &Response::Identity(identity())).await;
    assert_eq!(pending.await.unwrap().unwrap(), identity());

    let c = client.clone();
    let pending = tokio::spawn(async move { c.activate_credential(vec![5], vec![6]).await });
    let (id, req) = next_request(&mut server).await;
    assert_eq!(
        req,
        Request::ActivateCredential {
            id_object: vec![5],
            encrypted_secret: vec![6]
        }
    );
    answer(
        &mut server,
        id,
        &Response::CredentialActivated { secret: vec![7] },
    )
    .await;
    assert_eq!(pending.await.unwrap().unwrap(), vec![7]);

    let evidence = Evidence::Tpm(TpmEvidence {
        attest: vec![8],
        signature: vec![9],
        ak_public: vec![3],
        pcrs: vec![PcrValue {
            index: 16,
            value: vec![0; 32],
        }],
    });
    let c = client.clone();
    let pending = tokio::spawn(async move { c.attest(vec![1; 16]).await });
    let (id, req) = next_request(&mut server).await;
    assert_eq!(req, Request::Attest { nonce: vec![1; 16] });
    answer(
        &mut server,
        id,
        &Response::Attestation {
            evidence: evidence.clone(),
            event_log: vec![10],
            public_key: vec![11; 32],
        },
    )
    .await;
    assert_eq!(
        pending.await.unwrap().unwrap(),
        Attestation {
            evidence,
            event_log: vec![10],
            public_key: vec![11; 32],
        }
    );
}

#[tokio::test]
async fn enclave_refusals_keep_their_code() {
    let (client, mut server) = connected();
    let c = client.clone();
    let pending = tokio::spawn(async move { c.activate_credential(vec![5], vec![6]).await });
    let (id, _) = next_request(&mut server).await;
    let refusal = ErrorBody::new("credential_rejected", "integrity check failed");
    answer(&mut server, id, &Response::Error(refusal)).await;
    match pending.await.unwrap() {
        Err(Error::Enclave(e)) => assert_eq!(e.code, "credential_rejected"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_answer_kind_is_unexpected() {
    let (client, mut server) = connected();
    let pending = tokio::spawn(async move { client.attest(vec![1; 16]).await });
    let (id, _) = next_request(&mut server).await;
    answer(&mut server, id, &Response::Identity(identity())).await;
    let err = pending.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "unexpected_response", "{err}");
}

#[tokio::test]
async fn release_sends_the_bundle_and_unpacks_the_answer() {
    use enclet_attestation::Measurement;
    use enclet_protocol::{Released, ReleasedPlugin};
    let (client, mut server) = connected();
    let c = client.clone();
    let pending = tokio::spawn(async move { c.release(vec![0xa1, 0x01], Vec::new()).await });
    let (id, req) = next_request(&mut server).await;
    assert_eq!(
        req,
        Request::Release {
            bundle: vec![0xa1, 0x01],
            tokens: Vec::new(),
        }
    );
    let released = Released {
        expires_at: 1_900_000_000,
        plugins: vec![ReleasedPlugin {
            measurement: Measurement::of_plugin(b"p"),
            secrets: vec!["k".to_owned()],
        }],
    };
    answer(&mut server, id, &Response::Released(released.clone())).await;
    assert_eq!(pending.await.unwrap().unwrap(), released);

    // A refusal keeps the enclave's code; a wrong kind is unexpected.
    let c = client.clone();
    let pending = tokio::spawn(async move { c.release(vec![1], Vec::new()).await });
    let (id, _) = next_request(&mut server).await;
    let refusal = ErrorBody::new("invalid_bundle", "entry 0 does not open");
    answer(&mut server, id, &Response::Error(refusal)).await;
    assert_eq!(pending.await.unwrap().unwrap_err().code(), "invalid_bundle");
    let pending = tokio::spawn(async move { client.release(vec![1], Vec::new()).await });
    let (id, _) = next_request(&mut server).await;
    answer(&mut server, id, &Response::Output(vec![])).await;
    assert_eq!(
        pending.await.unwrap().unwrap_err().code(),
        "unexpected_response"
    );
}
