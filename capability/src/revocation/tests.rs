//! Lists round-trip; forged, stale-looking, foreign and malformed ones fail.

use super::*;
use crate::token::{TokenGrant, mint};

const PLUGIN: &str = "aa";
fn value(kind: RevocationKind, byte: char) -> String {
    byte.to_string().repeat(kind.value_len())
}

fn list() -> Revocations {
    let mut revoked = BTreeSet::new();
    for (kind, byte) in [
        (RevocationKind::Plugin, 'a'),
        (RevocationKind::Publisher, 'b'),
        (RevocationKind::Token, 'c'),
    ] {
        revoked.insert((kind, value(kind, byte)));
    }
    Revocations {
        sequence: 3,
        issued_at: 1_800_000_000,
        revoked,
    }
}

#[test]
fn a_signed_list_reads_back_exactly() {
    let root = RootKey::generate();
    let signed = list().sign(&root).unwrap();
    let back = Revocations::parse(&signed, &root.public()).unwrap();
    assert_eq!(back, list());
    assert!(back.contains(RevocationKind::Plugin, &value(RevocationKind::Plugin, 'A')));
    assert!(!back.contains(
        RevocationKind::Publisher,
        &value(RevocationKind::Plugin, 'a')
    ));
    assert_eq!(back.of(RevocationKind::Token).count(), 1);
    // The empty list is a list too.
    let empty = Revocations::default().sign(&root).unwrap();
    assert_eq!(
        Revocations::parse(&empty, &root.public()).unwrap(),
        Revocations::default()
    );
}

#[test]
fn another_root_a_token_or_an_appended_block_cannot_pass_for_a_list() {
    let root = RootKey::generate();
    let signed = list().sign(&root).unwrap();
    let err = Revocations::parse(&signed, &RootKey::generate().public()).unwrap_err();
    assert_eq!(err.code(), "invalid_revocation");
    // A capability token from the same root is not a list, nor the reverse.
    let token = mint(
        &root,
        &TokenGrant {
            plugin: PLUGIN,
            enclave_key: &[1; 32],
            capabilities: &[],
            expires_at: 1,
        },
    )
    .unwrap();
    let err = Revocations::parse(&token.bytes, &root.public()).unwrap_err();
    assert!(err.to_string().contains("not a revocation list"), "{err}");
    let err = crate::CapabilityToken::parse(&signed, &root.public()).unwrap_err();
    assert!(err.to_string().contains("not an enclet token"), "{err}");
    // A holder appending a block can neither add nor hide revocations.
    let parsed = biscuit_auth::Biscuit::from(&signed, root.public().key()).unwrap();
    let block = biscuit_auth::builder::BlockBuilder::new()
        .code(format!(
            "revoked(\"plugin\", \"{}\"); enclet_revocations(99, 0);",
            value(RevocationKind::Plugin, 'd')
        ))
        .unwrap();
    let appended = parsed.append(block).unwrap().to_vec().unwrap();
    assert_eq!(
        Revocations::parse(&appended, &root.public()).unwrap(),
        list()
    );
}

#[test]
fn malformed_values_kinds_and_sizes_are_refused_naming_them() {
    let err = RevocationKind::Plugin.value("abc").unwrap_err();
    assert!(err.to_string().contains("96 hex characters"), "{err}");
    let err = RevocationKind::Token.value(&"g".repeat(128)).unwrap_err();
    assert!(err.to_string().contains("token id"), "{err}");
    let err = RevocationKind::parse("image").unwrap_err();
    assert!(err.to_string().contains("\"image\""), "{err}");
    let root = RootKey::generate();
    let mut bad = list();
    bad.revoked
        .insert((RevocationKind::Publisher, "xyz".to_owned()));
    assert_eq!(bad.sign(&root).unwrap_err().code(), "invalid_revocation");
    let err = Revocations::parse(&vec![0; MAX_LIST_BYTES + 1], &root.public()).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    assert!(Revocations::parse(b"junk", &root.public()).is_err());
}
