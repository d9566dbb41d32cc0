use super::*;

#[test]
fn a_signature_verifies_over_the_exact_bytes_only() {
    let key = SigningKey::generate().unwrap();
    let public = key.public_key();
    let sig = key.sign(b"manifest bytes").unwrap();
    assert_eq!(public.verify(b"manifest bytes", sig.as_bytes()), Ok(()));
    // cosign writes no newline; files edited by hand may end with one.
    assert_eq!(
        public.verify(b"manifest bytes", format!("{sig}\n").as_bytes()),
        Ok(())
    );
    assert_eq!(
        public.verify(b"manifest bytez", sig.as_bytes()),
        Err(ManifestError::BadSignature)
    );
    let other = SigningKey::generate().unwrap().public_key();
    assert_eq!(
        other.verify(b"manifest bytes", sig.as_bytes()),
        Err(ManifestError::BadSignature)
    );
}

#[test]
fn keys_round_trip_through_pem_and_never_print_the_secret() {
    let key = SigningKey::generate().unwrap();
    let pem = key.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let back = SigningKey::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes()).unwrap();
    assert_eq!(public, key.public_key());
    let debug = format!("{key:?}");
    let der = pem::parse(pem.as_bytes()).unwrap().into_contents();
    assert!(
        !debug.contains(&hex::encode(&der[der.len() - 16..])),
        "{debug}"
    );
    assert!(debug.contains("sha256:"), "{debug}");
}

#[test]
fn malformed_keys_and_signatures_are_refused_with_their_reason() {
    let key = SigningKey::generate().unwrap();
    let public_pem = key.public_key().to_pem();
    // A public key where a private one is expected, and the reverse.
    assert!(matches!(
        SigningKey::from_pem(public_pem.as_bytes()),
        Err(ManifestError::Key(_))
    ));
    assert!(matches!(
        PublicKey::from_pem(key.to_pem().unwrap().as_bytes()),
        Err(ManifestError::Key(_))
    ));
    assert!(matches!(
        PublicKey::from_pem(b"not pem"),
        Err(ManifestError::Key(_))
    ));
    let bad_spki = pem::encode(&pem::Pem::new(
        "PUBLIC KEY",
        vec![0x30, 0x03, 0x02, 0x01, 0x01],
    ));
    assert!(matches!(
        PublicKey::from_pem(bad_spki.as_bytes()),
        Err(ManifestError::Key(_))
    ));
    let public = key.public_key();
    for sig in [&b"***"[..], b"", b"AAAA", &[0xff; 3]] {
        assert!(
            matches!(
                public.verify(b"x", sig),
                Err(ManifestError::MalformedSignature(_))
            ),
            "{sig:?}"
        );
    }
}

#[test]
fn only_a_trusted_key_turns_a_manifest_into_a_verified_one() {
    let component = b"component";
    let text = format!(
        "schema = 1\nname = \"p\"\nversion = \"0.1.0\"\npublisher = \"P\"\nhost_api = \"0.1.0\"\n\
         component_sha384 = \"{}\"\ncapabilities = []\n",
        enclet_attestation::Measurement::of_plugin(component).to_hex()
    );
    let manifest = UnverifiedManifest::parse(text.as_bytes()).unwrap();
    let key = SigningKey::generate().unwrap();
    let sig = key.sign(text.as_bytes()).unwrap();
    let verified = verify_manifest(manifest.clone(), &key.public_key(), sig.as_bytes()).unwrap();
    assert_eq!(verified.publisher_key(), key.public_key().fingerprint());
    assert_eq!(verified.manifest().digest(), manifest.digest());
    let stranger = SigningKey::generate().unwrap().public_key();
    assert_eq!(
        verify_manifest(manifest, &stranger, sig.as_bytes()),
        Err(ManifestError::BadSignature)
    );
}
