use super::*;

const COMPONENT: &[u8] = b"component bytes";

fn manifest_text(extra: &str) -> String {
    format!(
        r#"schema = 1
name = "payout"
version = "1.2.0"
publisher = "Acme Payments"
host_api = "0.1.0"
component_sha384 = "{}"
capabilities = ["log", "secret:payout-hmac-key"]
{extra}"#,
        Measurement::of_plugin(COMPONENT).to_hex()
    )
}

fn parse(text: &str) -> Result<UnverifiedManifest, ManifestError> {
    UnverifiedManifest::parse(text.as_bytes())
}

#[test]
fn a_full_manifest_parses_and_pins_its_component() {
    let m = parse(&manifest_text(
        "[limits]\nfuel = 1000\nmax_output_bytes = 64\n",
    ))
    .unwrap();
    assert_eq!(m.name(), "payout");
    assert_eq!(m.version().to_string(), "1.2.0");
    assert_eq!(m.publisher(), "Acme Payments");
    assert_eq!(
        m.capabilities(),
        &[
            Capability::Log,
            Capability::Secret("payout-hmac-key".into())
        ]
    );
    assert_eq!(m.limits().fuel, Some(1000));
    assert_eq!(m.limits().deadline_ms, None);
    assert_eq!(m.check_component(COMPONENT), Ok(()));
    assert_eq!(m.check_host_api(), Ok(()));
    assert_eq!(m.digest(), <[u8; 48]>::from(Sha384::digest(m.bytes())));
    // Other bytes than the pinned ones are named with both hashes.
    let e = m.check_component(b"component bytez").unwrap_err();
    assert!(matches!(e, ManifestError::ComponentMismatch { .. }), "{e}");
}

#[test]
fn unknown_or_missing_keys_are_refused_naming_them() {
    let e = parse(&manifest_text("network = true\n")).unwrap_err();
    assert!(e.to_string().contains("network"), "{e}");
    let e = parse(&manifest_text("[limits]\nfuell = 5\n")).unwrap_err();
    assert!(e.to_string().contains("fuell"), "{e}");
    let e = parse(&manifest_text("").replace("publisher = \"Acme Payments\"\n", "")).unwrap_err();
    assert!(e.to_string().contains("publisher"), "{e}");
    let e = parse(&manifest_text("[limits]\nfuel = -1\n")).unwrap_err();
    assert!(matches!(e, ManifestError::Syntax(_)), "{e}");
}

#[test]
fn each_field_rule_is_enforced() {
    let cases = [
        ("schema = 1", "schema = 2", "schema"),
        ("name = \"payout\"", "name = \"pay out\"", "name"),
        ("version = \"1.2.0\"", "version = \"1.2\"", "version"),
        ("host_api = \"0.1.0\"", "host_api = \"latest\"", "host_api"),
        (
            "publisher = \"Acme Payments\"",
            "publisher = \"Acme\\nPayments\"",
            "publisher",
        ),
    ];
    for (good, bad, field_name) in cases {
        let text = manifest_text("").replace(good, bad);
        match parse(&text).unwrap_err() {
            ManifestError::Field { field, .. } => assert_eq!(field, field_name, "{bad}"),
            other => panic!("{bad}: {other}"),
        }
    }
    let bad_hash = manifest_text("").replace(
        &Measurement::of_plugin(COMPONENT).to_hex(),
        &"ab".repeat(47),
    );
    assert!(matches!(
        parse(&bad_hash),
        Err(ManifestError::Field {
            field: "component_sha384",
            ..
        })
    ));
}

#[test]
fn unknown_or_repeated_capabilities_are_refused() {
    let text = manifest_text("").replace("\"log\",", "\"log\", \"network\",");
    assert_eq!(
        parse(&text),
        Err(ManifestError::UnknownCapability("network".into()))
    );
    let text = manifest_text("").replace("\"log\",", "\"log\", \"log\",");
    assert!(matches!(
        parse(&text),
        Err(ManifestError::Field {
            field: "capabilities",
            ..
        })
    ));
}

#[test]
fn host_api_versions_must_be_compatible_and_not_newer() {
    for (version, ok) in [
        ("0.1.0", true),
        ("0.2.0", false),
        ("0.1.1", false),
        ("1.0.0", false),
        ("0.0.9", false),
    ] {
        let text =
            manifest_text("").replace("host_api = \"0.1.0\"", &format!("host_api = \"{version}\""));
        let r = parse(&text).unwrap().check_host_api();
        assert_eq!(r.is_ok(), ok, "{version}: {r:?}");
        if let Err(e) = r {
            let text = e.to_string();
            assert!(
                text.contains(version) && text.contains(HOST_API_VERSION),
                "{text}"
            );
        }
    }
}

#[test]
fn oversized_or_non_utf8_manifests_are_refused() {
    let big = vec![b'#'; MAX_MANIFEST_BYTES + 1];
    assert!(matches!(
        UnverifiedManifest::parse(&big),
        Err(ManifestError::TooLarge { .. })
    ));
    assert!(matches!(
        UnverifiedManifest::parse(&[0xff, 0xfe]),
        Err(ManifestError::Syntax(_))
    ));
}
