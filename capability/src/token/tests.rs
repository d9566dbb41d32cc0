//! Each accepted call next to the close variants that must be refused.

use super::*;

const PLUGIN_A: &str = "aa11";
const PLUGIN_B: &str = "bb22";
const KEY: &[u8] = &[7; 32];
const OTHER_KEY: &[u8] = &[8; 32];
const NOW: u64 = 1_800_000_000;
const EXPIRES: u64 = NOW + 300;

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn minted(root: &RootKey, plugin: &str, capabilities: &[String]) -> CapabilityToken {
    let token = mint(
        root,
        &TokenGrant {
            plugin,
            enclave_key: KEY,
            capabilities,
            expires_at: EXPIRES,
        },
    )
    .unwrap();
    CapabilityToken::parse(&token.bytes, &root.public()).unwrap()
}

fn call<'a>(plugin: &'a str, capability: &'a str) -> CallContext<'a> {
    CallContext {
        plugin,
        enclave_key: KEY,
        capability,
        now: NOW,
    }
}

#[test]
fn a_token_allows_exactly_its_plugin_key_capabilities_and_lifetime() {
    let root = RootKey::generate();
    let token = minted(&root, PLUGIN_A, &caps(&["log", "secret:k"]));
    assert_eq!(token.plugin(), PLUGIN_A);
    assert_eq!(token.expires_at(), EXPIRES);
    assert_eq!(token.id().len(), 128, "an Ed25519 signature in hex");
    token.authorize(&call(PLUGIN_A, "log")).unwrap();
    token.authorize(&call(PLUGIN_A, "secret:k")).unwrap();
    // Not granted.
    let err = token
        .authorize(&call(PLUGIN_A, "secret:other"))
        .unwrap_err();
    assert_eq!(
        err,
        CapabilityError::Denied {
            capability: "secret:other".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "denied: secret:other is not granted to this plugin"
    );
    // A token for plugin A presented by plugin B.
    let err = token.authorize(&call(PLUGIN_B, "secret:k")).unwrap_err();
    assert_eq!(err.code(), "denied");
    // A token for another enclave key.
    let mut other = call(PLUGIN_A, "secret:k");
    other.enclave_key = OTHER_KEY;
    assert_eq!(token.authorize(&other).unwrap_err().code(), "denied");
    // Expired: one second before passes, at the expiry it is refused.
    let mut late = call(PLUGIN_A, "log");
    late.now = EXPIRES - 1;
    token.authorize(&late).unwrap();
    late.now = EXPIRES;
    let err = token.authorize(&late).unwrap_err();
    assert_eq!(err.code(), "capability_expired");
    assert!(err.to_string().starts_with("capability expired"), "{err}");
}

#[test]
fn attenuation_narrows_and_cannot_be_widened_again() {
    let root = RootKey::generate();
    let token = minted(&root, PLUGIN_A, &caps(&["log", "secret:a", "secret:b"]));
    let narrowed = token
        .attenuate(r#"check if operation("secret:a");"#)
        .unwrap();
    let narrowed = CapabilityToken::parse(&narrowed, &root.public()).unwrap();
    narrowed.authorize(&call(PLUGIN_A, "secret:a")).unwrap();
    assert_eq!(
        narrowed
            .authorize(&call(PLUGIN_A, "secret:b"))
            .unwrap_err()
            .code(),
        "denied"
    );
    // Widening by a later block's facts grants nothing: neither a right the
    // authority never had, nor one the attenuation took away.
    let widened = narrowed
        .attenuate(r#"right("secret:c"); right("secret:b"); operation("secret:a");"#)
        .unwrap();
    let widened = CapabilityToken::parse(&widened, &root.public()).unwrap();
    for capability in ["secret:b", "secret:c"] {
        assert_eq!(
            widened
                .authorize(&call(PLUGIN_A, capability))
                .unwrap_err()
                .code(),
            "denied",
            "{capability}"
        );
    }
    // A block that extends the lifetime cannot: the authority's check stands.
    let later = token
        .attenuate(&format!("expires_at({});", EXPIRES + 3600))
        .unwrap();
    let later = CapabilityToken::parse(&later, &root.public()).unwrap();
    assert_eq!(later.expires_at(), EXPIRES);
    assert_eq!(later.ids().len(), 2);
    assert_eq!(later.id(), token.id());
}

#[test]
fn removing_a_block_or_another_root_breaks_the_signature() {
    let root = RootKey::generate();
    let token = minted(&root, PLUGIN_A, &caps(&["secret:a", "secret:b"]));
    let narrowed = token
        .attenuate(r#"check if operation("secret:a");"#)
        .unwrap();
    // Another root key.
    let err = CapabilityToken::parse(&narrowed, &RootKey::generate().public()).unwrap_err();
    assert_eq!(err.code(), "invalid_token");
    // One byte changed anywhere in the token is refused (or, where it falls
    // in a padding-free field, at least never widens).
    for at in [10, narrowed.len() / 2, narrowed.len() - 10] {
        let mut bad = narrowed.clone();
        bad[at] ^= 1;
        if let Ok(t) = CapabilityToken::parse(&bad, &root.public()) {
            assert!(
                t.authorize(&call(PLUGIN_A, "secret:b")).is_err(),
                "byte {at}"
            );
        }
    }
    // Oversized and garbage.
    let err = CapabilityToken::parse(&vec![0; MAX_TOKEN_BYTES + 1], &root.public()).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    assert_eq!(
        CapabilityToken::parse(b"not a token", &root.public())
            .unwrap_err()
            .code(),
        "invalid_token"
    );
}

#[test]
fn a_biscuit_that_is_not_an_enclet_token_is_refused() {
    let root = RootKey::generate();
    let foreign = BiscuitBuilder::new()
        .code(r#"right("log");"#)
        .unwrap()
        .build(root.keypair())
        .unwrap()
        .to_vec()
        .unwrap();
    let err = CapabilityToken::parse(&foreign, &root.public()).unwrap_err();
    assert!(err.to_string().contains("not an enclet token"), "{err}");
}

#[test]
fn capabilities_outside_the_grammar_are_not_minted() {
    let root = RootKey::generate();
    for bad in [
        "",
        "secret:\"); right(\"secret:x",
        "log\n",
        &"x".repeat(MAX_CAPABILITY_BYTES + 1),
    ] {
        let err = mint(
            &root,
            &TokenGrant {
                plugin: PLUGIN_A,
                enclave_key: KEY,
                capabilities: &[bad.to_owned()],
                expires_at: EXPIRES,
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_capability", "{bad:?}");
    }
    let many = vec!["log".to_owned(); MAX_CAPABILITIES + 1];
    let grant = TokenGrant {
        plugin: PLUGIN_A,
        enclave_key: KEY,
        capabilities: &many,
        expires_at: EXPIRES,
    };
    assert_eq!(
        mint(&root, &grant).unwrap_err().code(),
        "invalid_capability"
    );
    let grant = TokenGrant {
        plugin: "not hex",
        ..grant
    };
    assert!(mint(&root, &grant).is_err());
}
