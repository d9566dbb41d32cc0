//! Capability tokens in the enclave: real Biscuit tokens minted with a root
//! key, installed by `Request::Release` with a real sealed bundle, checked on
//! every `secrets.get` and `log` the real hostile plugin makes.

use enclet_attestation::Measurement;
use enclet_capability::{CapabilityToken, RootKey, TokenGrant, mint};
use enclet_protocol::{PluginToken, Request, Response};

use super::{Enclave, NOW};
use crate::runtime::CapabilityGate;
use crate::server::handler::handle;

const BUNDLE_EXPIRES: u64 = NOW + 600;
const TOKEN_EXPIRES: u64 = NOW + 60;

pub(super) struct Gated {
    pub(super) enclave: Enclave,
    pub(super) root: RootKey,
}

impl Gated {
    pub(super) async fn start() -> Self {
        let root = RootKey::generate();
        let enclave = Enclave::start_gated(CapabilityGate::Tokens(root.public())).await;
        Self { enclave, root }
    }

    /// A token minted for `plugin` with `capabilities`, bound to `key`.
    fn token_for(&self, plugin: Measurement, key: &[u8], capabilities: &[&str]) -> Vec<u8> {
        let capabilities: Vec<String> = capabilities.iter().map(|c| (*c).to_owned()).collect();
        mint(
            &self.root,
            &TokenGrant {
                plugin: &plugin.to_hex(),
                enclave_key: key,
                capabilities: &capabilities,
                expires_at: TOKEN_EXPIRES,
            },
        )
        .unwrap()
        .bytes
    }

    /// A token for `plugin` bound to this enclave.
    pub(super) fn token(&self, plugin: Measurement, capabilities: &[&str]) -> Vec<u8> {
        self.token_for(plugin, self.enclave.server.public_key(), capabilities)
    }

    /// Releases secrets `k` and `j` to hostile with `tokens`.
    async fn release(&self, tokens: Vec<PluginToken>) -> Response {
        let e = &self.enclave;
        let bundle = e.bundle(
            BUNDLE_EXPIRES,
            &[(e.hostile, "k", b"kay"), (e.hostile, "j", b"jay")],
        );
        handle(&e.server, Request::Release { bundle, tokens }).await
    }

    pub(super) async fn released(&self, tokens: Vec<PluginToken>) {
        let answer = self.release(tokens).await;
        assert!(matches!(answer, Response::Released(_)), "{answer:?}");
    }

    pub(super) async fn hostile(&self, input: &str) -> Result<Vec<u8>, (String, String)> {
        self.enclave
            .invoke(self.enclave.hostile, input.as_bytes())
            .await
    }

    pub(super) fn hostile_token(&self, token: Vec<u8>) -> PluginToken {
        PluginToken {
            plugin: self.enclave.hostile,
            token,
        }
    }
}

pub(super) fn refusal(result: Result<Vec<u8>, (String, String)>) -> (String, String) {
    result.expect_err("the call was allowed")
}

#[tokio::test]
async fn only_what_the_token_grants_is_allowed() {
    let g = Gated::start().await;
    let hostile = g.enclave.hostile;
    g.released(vec![
        g.hostile_token(g.token(hostile, &["secret:k", "log"])),
    ])
    .await;
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
    assert_eq!(g.hostile("log").await.unwrap(), b"logged");
    // `j` is sealed to hostile, but its token does not grant it.
    let (code, message) = refusal(g.hostile("secret:j").await);
    assert_eq!(code, "denied", "{message}");
    assert_eq!(message, "denied: secret:j is not granted to this plugin");
    // Other plugins got no token at all: their gated calls are denied, and
    // hostile is still served after its refusal.
    let (code, message) = refusal(g.enclave.invoke(g.enclave.payout, b"{}").await);
    assert!(
        code == "denied" || code == "plugin_error",
        "{code}: {message}"
    );
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");

    // The next release's token leaves out `log`: from now on it is denied.
    g.released(vec![g.hostile_token(g.token(hostile, &["secret:k"]))])
        .await;
    let (code, message) = refusal(g.hostile("log").await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("denied", "denied: log is not granted to this plugin")
    );
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
}

#[tokio::test]
async fn a_token_for_plugin_a_presented_for_plugin_b_is_refused() {
    let g = Gated::start().await;
    let payouts = g.token(g.enclave.payout, &["secret:k", "secret:j", "log"]);
    // Listed under hostile: the release is refused and nothing changes.
    let answer = g.release(vec![g.hostile_token(payouts.clone())]).await;
    let Response::Error(e) = answer else {
        panic!("accepted: {answer:?}")
    };
    assert_eq!(e.code, "invalid_token");
    assert!(e.message.contains("minted for plugin"), "{}", e.message);
    assert_eq!(refusal(g.hostile("secret:k").await).0, "denied");
    // Listed under its own plugin it installs, and hostile still gets nothing.
    let own = PluginToken {
        plugin: g.enclave.payout,
        token: payouts,
    };
    g.released(vec![own]).await;
    assert_eq!(refusal(g.hostile("secret:k").await).0, "denied");
}

#[tokio::test]
async fn a_token_bound_to_another_enclave_key_is_denied() {
    let g = Gated::start().await;
    let elsewhere = g.token_for(g.enclave.hostile, &[9; 32], &["secret:k", "log"]);
    g.released(vec![g.hostile_token(elsewhere)]).await;
    for input in ["secret:k", "log"] {
        assert_eq!(refusal(g.hostile(input).await).0, "denied", "{input}");
    }
}

#[tokio::test]
async fn an_expired_token_fails_the_call_with_capability_expired() {
    let g = Gated::start().await;
    g.released(vec![
        g.hostile_token(g.token(g.enclave.hostile, &["secret:k"])),
    ])
    .await;
    g.enclave.clock.set(TOKEN_EXPIRES - 1);
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
    // The bundle is still valid; the token is not.
    g.enclave.clock.set(TOKEN_EXPIRES);
    let (code, message) = refusal(g.hostile("secret:k").await);
    assert_eq!(code, "capability_expired", "{message}");
    assert!(message.starts_with("capability expired"), "{message}");
    // Ungated work still runs.
    assert_eq!(g.hostile("plain").await.unwrap(), b"plain");
}

#[tokio::test]
async fn an_attenuated_then_widened_token_grants_only_the_narrowed_right() {
    let g = Gated::start().await;
    let full = g.token(g.enclave.hostile, &["secret:k", "secret:j"]);
    let parsed = CapabilityToken::parse(&full, &g.root.public()).unwrap();
    let narrowed = parsed
        .attenuate(r#"check if operation("secret:k");"#)
        .unwrap();
    let narrowed = CapabilityToken::parse(&narrowed, &g.root.public()).unwrap();
    let widened = narrowed
        .attenuate(r#"right("secret:j"); right("log");"#)
        .unwrap();
    g.released(vec![g.hostile_token(widened)]).await;
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
    for input in ["secret:j", "log"] {
        assert_eq!(refusal(g.hostile(input).await).0, "denied", "{input}");
    }
}

#[tokio::test]
async fn a_token_from_another_root_is_refused_and_the_previous_release_stays() {
    let g = Gated::start().await;
    g.released(vec![
        g.hostile_token(g.token(g.enclave.hostile, &["secret:k"])),
    ])
    .await;
    let forged = Gated {
        enclave: Enclave::start().await,
        root: RootKey::generate(),
    };
    let token = forged.token_for(
        g.enclave.hostile,
        g.enclave.server.public_key(),
        &["secret:j"],
    );
    let answer = g.release(vec![g.hostile_token(token)]).await;
    let Response::Error(e) = answer else {
        panic!("accepted: {answer:?}")
    };
    assert_eq!(e.code, "invalid_token");
    assert!(
        e.message.contains(&g.enclave.hostile.to_hex()),
        "{}",
        e.message
    );
    // Garbage is refused the same way.
    let answer = g
        .release(vec![g.hostile_token(b"not a token".to_vec())])
        .await;
    assert!(
        matches!(answer, Response::Error(ref e) if e.code == "invalid_token"),
        "{answer:?}"
    );
    // The earlier release is still in force.
    assert_eq!(g.hostile("secret:k").await.unwrap(), b"kay");
    assert_eq!(refusal(g.hostile("secret:j").await).0, "denied");
}

/// A signed plugin's gated calls stay within what its manifest requested,
/// even when its token grants more.
#[tokio::test]
async fn a_signed_plugin_cannot_use_more_than_its_manifest_requested() {
    use enclet_manifest::signature::SigningKey;
    use enclet_protocol::SignedManifest;
    use std::sync::Arc;

    use crate::clock::ManualClock;
    use crate::runtime::tests::plugin_bytes;
    use crate::runtime::{Runtime, RuntimeConfig};
    use crate::server::{Server, ServerConfig};

    let root = RootKey::generate();
    let publisher = SigningKey::generate().unwrap();
    let runtime = Runtime::with_clock(
        RuntimeConfig {
            max_concurrent_invocations: 2,
            capability_gate: CapabilityGate::Tokens(root.public()),
            ..RuntimeConfig::default()
        },
        ManualClock::at(NOW),
    )
    .unwrap();
    let server = Arc::new(
        Server::new(
            Arc::new(runtime),
            None,
            ServerConfig {
                publisher_keys: vec![publisher.public_key()],
                ..ServerConfig::default()
            },
        )
        .unwrap(),
    );
    let component = plugin_bytes("hostile");
    let hostile = Measurement::of_plugin(&component);
    let manifest = format!(
        "schema = 1\nname = \"hostile\"\nversion = \"1.0.0\"\npublisher = \"Acme\"\n\
         host_api = \"{}\"\ncomponent_sha384 = \"{}\"\ncapabilities = [\"secret:k\"]\n",
        enclet_manifest::HOST_API_VERSION,
        hostile.to_hex()
    );
    let signature = publisher.sign(manifest.as_bytes()).unwrap();
    let load = Request::Load {
        name: "hostile".to_owned(),
        component,
        limits: None,
        signed: Some(SignedManifest {
            manifest: manifest.into_bytes(),
            signature: signature.into_bytes(),
        }),
    };
    let answer = handle(&server, load).await;
    assert!(matches!(answer, Response::Loaded(_)), "{answer:?}");
    // The token grants log, k and j; the manifest asked for k only.
    let capabilities: Vec<String> = ["log", "secret:k", "secret:j"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let token = mint(
        &root,
        &TokenGrant {
            plugin: &hostile.to_hex(),
            enclave_key: server.public_key(),
            capabilities: &capabilities,
            expires_at: TOKEN_EXPIRES,
        },
    )
    .unwrap()
    .bytes;
    let bundle = super::sealed_to(
        server.public_key(),
        BUNDLE_EXPIRES,
        &[(hostile, "k", b"kay"), (hostile, "j", b"jay")],
    );
    let tokens = vec![PluginToken {
        plugin: hostile,
        token,
    }];
    let answer = handle(&server, Request::Release { bundle, tokens }).await;
    assert!(matches!(answer, Response::Released(_)), "{answer:?}");
    let invoke = |input: &str| {
        let request = Request::Invoke {
            plugin: hostile,
            input: input.as_bytes().to_vec(),
        };
        let server = Arc::clone(&server);
        async move { handle(&server, request).await }
    };
    assert_eq!(invoke("secret:k").await, Response::Output(b"kay".to_vec()));
    for input in ["secret:j", "log"] {
        let answer = invoke(input).await;
        assert!(
            matches!(answer, Response::Error(ref e) if e.code == "denied"),
            "{input}: {answer:?}"
        );
    }
}
