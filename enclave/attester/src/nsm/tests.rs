//! The attester against a scripted device: the exact requests it builds, how
//! it reads each answer, and real AWS documents as recorded answers.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use enclet_attestation::Measurement;
use enclet_attestation::measurement::replay_sha384;
use enclet_attestation::nitro::UnverifiedNitroDocument;

use super::*;

mod epochs;

impl NsmAttester {
    /// Tests speak of plugin loads.
    fn measure_plugin(&self, m: &Measurement) -> Result<(), AttesterError> {
        self.record_plugin_event(&PluginEvent::Load(*m))
    }
}

/// A request as the test sees it (the driver's type has no `PartialEq`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    DescribeNsm,
    DescribePcr(u16),
    LockPcrs(u16),
    LockPcr(u16),
    Extend(u16, Vec<u8>),
    Attestation {
        user_data: Option<Vec<u8>>,
        nonce: Option<Vec<u8>>,
        public_key: Option<Vec<u8>>,
    },
    Other(String),
}

impl From<&Request> for Seen {
    fn from(r: &Request) -> Self {
        let v = |b: &Option<serde_bytes::ByteBuf>| b.as_ref().map(|b| b.to_vec());
        match r {
            Request::DescribeNSM => Self::DescribeNsm,
            Request::DescribePCR { index } => Self::DescribePcr(*index),
            Request::LockPCRs { range } => Self::LockPcrs(*range),
            Request::LockPCR { index } => Self::LockPcr(*index),
            Request::ExtendPCR { index, data } => Self::Extend(*index, data.clone()),
            Request::Attestation {
                user_data,
                nonce,
                public_key,
            } => Self::Attestation {
                user_data: v(user_data),
                nonce: v(nonce),
                public_key: v(public_key),
            },
            other => Self::Other(format!("{other:?}")),
        }
    }
}

/// Answers from a script, in order, and records every request.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Response>>,
    seen: Mutex<Vec<Seen>>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Script>);

impl NsmDevice for Fake {
    fn process(&self, request: Request) -> Response {
        self.0.seen.lock().unwrap().push(Seen::from(&request));
        self.0
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Response::Error(ErrorCode::InvalidOperation))
    }
}

impl Fake {
    fn answer(&self, r: Response) -> &Self {
        self.0.answers.lock().unwrap().push_back(r);
        self
    }

    fn seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.seen.lock().unwrap())
    }
}

fn description(digest: Digest, max_pcrs: u16, locked: &[u16]) -> Response {
    Response::DescribeNSM {
        version_major: 1,
        version_minor: 0,
        version_patch: 0,
        module_id: "i-0123456789abcdef0-enc0123456789abcdef".into(),
        max_pcrs,
        locked_pcrs: locked.iter().copied().collect::<BTreeSet<u16>>(),
        digest,
    }
}

fn pcr16(lock: bool, data: Vec<u8>) -> Response {
    Response::DescribePCR { lock, data }
}

/// A fake that answers the start-up sequence of a healthy NSM.
fn healthy() -> Fake {
    let fake = Fake::default();
    fake.answer(description(Digest::SHA384, 32, &[0, 1, 2, 3, 4, 8]))
        .answer(pcr16(false, vec![0; 48]))
        .answer(Response::LockPCRs);
    fake
}

fn opened() -> (NsmAttester, Fake) {
    let fake = healthy();
    let attester = NsmAttester::with_device(Box::new(fake.clone())).unwrap();
    fake.seen();
    (attester, fake)
}

fn request(nonce: Vec<u8>, public_key: Vec<u8>) -> AttestationRequest {
    AttestationRequest {
        nonce,
        public_key,
        event_log_digest: [0x5a; 48],
    }
}

/// A real AWS document (public test vector), as the NSM's answer.
const RECORDED: &[u8] = include_bytes!(
    "../../../../attestation/testdata/nitro/12_base_2026-01-03_prod_indefinite_map.cose"
);

#[test]
fn open_describes_checks_the_plugin_pcr_and_locks_pcrs_below_it() {
    let fake = healthy();
    let attester = NsmAttester::with_device(Box::new(fake.clone())).unwrap();
    assert_eq!(
        fake.seen(),
        [Seen::DescribeNsm, Seen::DescribePcr(16), Seen::LockPcrs(16)]
    );
    assert_eq!(attester.name(), "nsm");
    assert!(attester.module_id().starts_with("i-0123"));
}

#[test]
fn open_refuses_an_nsm_that_cannot_hold_plugin_measurements() {
    let cases: [(&str, Vec<Response>); 7] = [
        ("SHA-384", vec![description(Digest::SHA256, 32, &[])]),
        ("16 PCRs", vec![description(Digest::SHA384, 16, &[])]),
        (
            "PCR 16 is locked",
            vec![
                description(Digest::SHA384, 32, &[16]),
                pcr16(false, vec![0; 48]),
            ],
        ),
        (
            "PCR 16 is locked",
            vec![
                description(Digest::SHA384, 32, &[]),
                pcr16(true, vec![0; 48]),
            ],
        ),
        (
            "already extended",
            vec![
                description(Digest::SHA384, 32, &[]),
                pcr16(false, vec![1; 48]),
            ],
        ),
        (
            "32-byte PCR",
            vec![
                description(Digest::SHA384, 32, &[]),
                pcr16(false, vec![0; 32]),
            ],
        ),
        (
            "refused LockPCRs: read_only_index",
            vec![
                description(Digest::SHA384, 32, &[]),
                pcr16(false, vec![0; 48]),
                Response::Error(ErrorCode::ReadOnlyIndex),
            ],
        ),
    ];
    for (why, answers) in cases {
        let fake = Fake::default();
        for a in answers {
            fake.answer(a);
        }
        let err = NsmAttester::with_device(Box::new(fake)).unwrap_err();
        assert!(matches!(err, AttesterError::Nsm(_)), "{why}: {err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
    // Out of turn: the answer to another request.
    let fake = Fake::default();
    fake.answer(Response::LockPCRs);
    let err = NsmAttester::with_device(Box::new(fake)).unwrap_err();
    assert!(
        matches!(
            err,
            AttesterError::Nsm(NsmError::UnexpectedResponse {
                operation: "DescribeNSM",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn measure_plugin_extends_pcr16_with_the_measurement_in_order() {
    let (attester, fake) = opened();
    let a = Measurement::of_plugin(b"plugin a");
    let b = Measurement::of_plugin(b"plugin b");
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&a]).to_vec(),
    })
    .answer(Response::ExtendPCR {
        data: replay_sha384([&a, &b]).to_vec(),
    });
    attester.measure_plugin(&a).unwrap();
    attester.measure_plugin(&b).unwrap();
    assert_eq!(
        fake.seen(),
        [
            Seen::Extend(16, a.as_bytes().to_vec()),
            Seen::Extend(16, b.as_bytes().to_vec())
        ]
    );
    // The image is the hypervisor's: nothing is sent.
    attester.measure_image(&a).unwrap();
    assert!(fake.seen().is_empty());
}

#[test]
fn a_plugin_pcr_that_something_else_extended_is_reported() {
    let (attester, fake) = opened();
    let a = Measurement::of_plugin(b"plugin a");
    let stranger = Measurement::of_plugin(b"not ours");
    // The NSM's value includes an extend this attester never made.
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&stranger, &a]).to_vec(),
    });
    let err = attester.measure_plugin(&a).unwrap_err();
    assert!(
        matches!(
            err,
            AttesterError::Nsm(NsmError::PcrDiverged { index: 16, .. })
        ),
        "{err}"
    );
    // A locked PCR is the NSM's refusal, typed.
    fake.answer(Response::Error(ErrorCode::ReadOnlyIndex));
    let err = attester.measure_plugin(&a).unwrap_err();
    assert_eq!(
        err.to_string(),
        "NSM: the NSM refused ExtendPCR: read_only_index (the PCR is locked)"
    );
}

#[test]
fn a_refused_pcr16_lock_is_reported_and_nothing_is_attested() {
    let (attester, fake) = opened();
    let first = Measurement::of_plugin(b"first");
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&first]).to_vec(),
    });
    attester.measure_plugin(&first).unwrap();
    fake.seen();
    fake.answer(Response::Error(ErrorCode::ReadOnlyIndex));
    let err = attester
        .attest(&request(vec![7; 32], vec![9; 32]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            AttesterError::Nsm(NsmError::Refused {
                operation: "LockPCR",
                code: NsmErrorCode::ReadOnlyIndex
            })
        ),
        "{err}"
    );
    assert_eq!(fake.seen(), [Seen::LockPcr(16)]);
    // Not locked by us, so plugins still go to PCR16.
    let a = Measurement::of_plugin(b"a");
    fake.answer(Response::ExtendPCR {
        data: replay_sha384([&first, &a]).to_vec(),
    });
    attester.measure_plugin(&a).unwrap();
    assert!(matches!(&fake.seen()[..], [Seen::Extend(16, _)]));
}

#[test]
fn inputs_outside_the_nsm_limits_are_refused_before_the_device() {
    let (attester, fake) = opened();
    for (nonce, key) in [
        (vec![1; 513], vec![2; 32]),
        (vec![1; 32], vec![2; 1025]),
        (vec![], vec![2; 32]),
        (vec![1; 32], vec![]),
    ] {
        let err = attester.attest(&request(nonce, key)).unwrap_err();
        assert!(matches!(err, AttesterError::Input(_)), "{err}");
    }
    assert!(fake.seen().is_empty());
    // At the limits, the request goes out.
    fake.answer(Response::Attestation {
        document: RECORDED.to_vec(),
    });
    attester
        .attest(&request(vec![1; 512], vec![2; 1024]))
        .unwrap();
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn device_errors_and_odd_documents_are_typed() {
    let (attester, fake) = opened();
    let r = request(vec![7; 32], vec![9; 32]);
    fake.answer(Response::Attestation {
        document: RECORDED.to_vec(),
    });
    attester.attest(&r).unwrap();
    for (code, ours) in [
        (ErrorCode::InvalidArgument, NsmErrorCode::InvalidArgument),
        (ErrorCode::InvalidIndex, NsmErrorCode::InvalidIndex),
        (ErrorCode::InvalidResponse, NsmErrorCode::InvalidResponse),
        (ErrorCode::ReadOnlyIndex, NsmErrorCode::ReadOnlyIndex),
        (ErrorCode::InvalidOperation, NsmErrorCode::InvalidOperation),
        (ErrorCode::BufferTooSmall, NsmErrorCode::BufferTooSmall),
        (ErrorCode::InputTooLarge, NsmErrorCode::InputTooLarge),
        (ErrorCode::InternalError, NsmErrorCode::InternalError),
        (ErrorCode::Success, NsmErrorCode::SuccessAsError),
    ] {
        fake.answer(Response::Error(code));
        let err = attester.attest(&r).unwrap_err();
        assert!(
            matches!(
                &err,
                AttesterError::Nsm(NsmError::Refused { operation: "Attestation", code })
                    if *code == ours
            ),
            "{err}"
        );
        assert!(err.to_string().contains(ours.as_str()), "{err}");
    }
    for (answer, why) in [
        (Response::Attestation { document: vec![] }, "empty"),
        (
            Response::Attestation {
                document: vec![0; 32 * 1024 + 1],
            },
            "32769-byte",
        ),
        (Response::LockPCRs, "LockPCRs"),
    ] {
        fake.answer(answer);
        let err = attester.attest(&r).unwrap_err();
        assert!(
            matches!(err, AttesterError::Nsm(NsmError::UnexpectedResponse { .. })),
            "{err}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[test]
fn outside_an_enclave_open_fails_naming_the_device() {
    if std::path::Path::new(NSM_DEVICE).exists() {
        return; // A Nitro Enclave: nothing to show here.
    }
    let err = crate::open(&crate::AttesterConfig::Nsm).unwrap_err();
    assert!(
        matches!(
            err,
            AttesterError::Nsm(NsmError::NoDevice { path: "/dev/nsm" })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("/dev/nsm does not exist"), "{err}");
}
