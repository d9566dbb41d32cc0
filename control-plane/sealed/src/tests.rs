use enclet_attestation::Measurement;

use crate::{Error, RecipientKey, SealedBundle, SealedSecret, seal};

const SESSION: [u8; 16] = [7; 16];
const EXPIRES: u64 = 1_800_000_000;

fn plugin(n: u8) -> Measurement {
    Measurement::of_plugin(&[n])
}

fn bundle(key: &RecipientKey) -> SealedBundle {
    let secrets = vec![
        seal(
            key.public_key(),
            &SESSION,
            EXPIRES,
            &plugin(1),
            "payout-hmac-key",
            b"k1-value",
        )
        .unwrap(),
        seal(
            key.public_key(),
            &SESSION,
            EXPIRES,
            &plugin(1),
            "db.password",
            b"pw",
        )
        .unwrap(),
        seal(
            key.public_key(),
            &SESSION,
            EXPIRES,
            &plugin(2),
            "other",
            b"v2",
        )
        .unwrap(),
    ];
    SealedBundle::new(SESSION, EXPIRES, secrets).unwrap()
}

fn reopen(key: &RecipientKey, b: &SealedBundle) -> Result<crate::OpenedBundle, Error> {
    key.open(&SealedBundle::from_bytes(&b.to_bytes())?)
}

#[test]
fn the_recipient_opens_each_plugin_its_own_values() {
    let key = RecipientKey::generate().unwrap();
    let opened = reopen(&key, &bundle(&key)).unwrap();
    assert_eq!(opened.session, SESSION);
    assert_eq!(opened.expires_at, EXPIRES);
    let one = &opened.secrets[&plugin(1)];
    assert_eq!(one["payout-hmac-key"].expose(), b"k1-value");
    assert_eq!(one["db.password"].expose(), b"pw");
    assert!(!one.contains_key("other"));
    assert_eq!(opened.secrets[&plugin(2)]["other"].expose(), b"v2");
}

#[test]
fn another_key_opens_nothing() {
    let key = RecipientKey::generate().unwrap();
    let other = RecipientKey::generate().unwrap();
    let err = reopen(&other, &bundle(&key)).unwrap_err();
    assert_eq!(err.code(), "bundle_tampered", "{err}");
}

/// Every part of the context is bound: moving a value to another plugin,
/// renaming it, extending the expiry or replaying it in another session makes
/// the whole bundle fail, naming the entry.
#[test]
fn a_changed_context_fails_to_open() {
    let key = RecipientKey::generate().unwrap();
    let good = bundle(&key);
    let mut moved = good.clone();
    moved.secrets[0].plugin = plugin(2);
    let mut renamed = good.clone();
    renamed.secrets[0].name = "other-name".to_owned();
    let mut extended = good.clone();
    extended.expires_at += 1;
    let mut replayed = good.clone();
    replayed.session[0] ^= 1;
    let mut flipped = good.clone();
    flipped.secrets[2].ciphertext[0] ^= 1;
    let mut swapped_enc = good.clone();
    swapped_enc.secrets[0].enc = good.secrets[1].enc;
    for (what, b) in [
        ("moved", moved),
        ("renamed", renamed),
        ("extended", extended),
        ("replayed", replayed),
        ("flipped", flipped),
        ("swapped enc", swapped_enc),
    ] {
        let err = reopen(&key, &b).unwrap_err();
        assert!(matches!(err, Error::Open { .. }), "{what}: {err}");
    }
    assert!(reopen(&key, &good).is_ok());
}

#[test]
fn a_duplicated_entry_is_refused() {
    let key = RecipientKey::generate().unwrap();
    let mut b = bundle(&key);
    b.secrets.push(b.secrets[0].clone());
    let err = reopen(&key, &b).unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
}

#[test]
fn malformed_encodings_are_refused_by_name() {
    let key = RecipientKey::generate().unwrap();
    let bytes = bundle(&key).to_bytes();
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(
        SealedBundle::from_bytes(&trailing)
            .unwrap_err()
            .to_string()
            .contains("trailing")
    );
    assert!(SealedBundle::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(SealedBundle::from_bytes(b"").is_err());
    assert_eq!(
        SealedBundle::from_bytes(&vec![0u8; crate::MAX_BUNDLE_BYTES + 1])
            .unwrap_err()
            .code(),
        "bundle_too_large"
    );
    assert!(SealedBundle::from_bytes(&bytes).is_ok());
}

#[test]
fn names_and_values_are_bounded_when_sealing() {
    let key = RecipientKey::generate().unwrap();
    let p = plugin(1);
    let seal_named =
        |name: &str, value: &[u8]| seal(key.public_key(), &SESSION, EXPIRES, &p, name, value);
    assert!(seal_named("ok-name_1.x", b"v").is_ok());
    for bad in ["", "has space", "slash/", &"n".repeat(129)] {
        assert_eq!(
            seal_named(bad, b"v").unwrap_err().code(),
            "invalid_secret_name",
            "{bad:?}"
        );
    }
    assert_eq!(seal_named("n", b"").unwrap_err().code(), "bundle_too_large");
    assert_eq!(
        seal_named("n", &vec![1; crate::MAX_VALUE_BYTES + 1])
            .unwrap_err()
            .code(),
        "bundle_too_large"
    );
    assert!(seal_named("n", &vec![1; crate::MAX_VALUE_BYTES]).is_ok());
    assert_eq!(
        seal(&[1; 31], &SESSION, EXPIRES, &p, "n", b"v")
            .unwrap_err()
            .code(),
        "invalid_public_key"
    );
}

#[test]
fn nothing_prints_a_value_or_the_private_key() {
    let key = RecipientKey::generate().unwrap();
    let b = bundle(&key);
    let opened = reopen(&key, &b).unwrap();
    let shown = format!("{opened:?} {b:?} {key:?}");
    assert!(!shown.contains("k1-value"), "{shown}");
    assert!(!shown.contains(&hex::encode(b"k1-value")), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!shown.contains("private"), "{shown}");
    let ct: &SealedSecret = &b.secrets[0];
    assert!(!ct.ciphertext.windows(8).any(|w| w == b"k1-value"));
}
