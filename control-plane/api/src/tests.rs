use super::*;

#[test]
fn evidence_round_trips_with_hex_fields() {
    let body = EvidenceSubmission {
        nonce: Hex(vec![1, 2]),
        evidence: Evidence::Tpm {
            attest: Hex(vec![0xff]),
            signature: Hex(vec![0xab]),
            ak_public: Hex(vec![]),
            pcrs: vec![PcrValue {
                index: 16,
                value: Hex(vec![0; 2]),
            }],
        },
        event_log: Hex(vec![]),
        public_key: Hex(vec![9]),
        plugins: vec![],
    };
    let text = serde_json::to_string(&body).unwrap();
    assert!(text.contains(r#""kind":"tpm""#), "{text}");
    assert!(text.contains(r#""nonce":"0102""#), "{text}");
    assert_eq!(
        serde_json::from_str::<EvidenceSubmission>(&text).unwrap(),
        body
    );
}

#[test]
fn unknown_fields_and_bad_hex_are_refused() {
    let ok = r#"{"attester":"nitro"}"#;
    assert!(serde_json::from_str::<OpenSession>(ok).is_ok());
    let extra = r#"{"attester":"nitro","admin":true}"#;
    assert!(serde_json::from_str::<OpenSession>(extra).is_err());
    let bad_hex = r#"{"secret":"zz"}"#;
    let err = serde_json::from_str::<Activation>(bad_hex).unwrap_err();
    assert!(err.to_string().contains("not hex"), "{err}");
    let good_hex = r#"{"secret":"00ff"}"#;
    assert_eq!(
        serde_json::from_str::<Activation>(good_hex).unwrap().secret,
        Hex(vec![0, 0xff])
    );
}
