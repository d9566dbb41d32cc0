//! Release end to end inside the enclave: real bundles sealed to the server's
//! key with `enclet_sealed::seal`, opened by `Request::Release`, read by the
//! real plugins through `secrets.get`. Time is a [`ManualClock`].

mod leaks;
mod payout;
mod revoke;
mod tokens;

use std::sync::Arc;

use enclet_attestation::Measurement;
use enclet_protocol::{Released, ReleasedPlugin, Request, Response};
use enclet_sealed::{SealedBundle, seal};

use crate::clock::ManualClock;
use crate::runtime::tests::plugin_bytes;
use crate::runtime::{CapabilityGate, Runtime, RuntimeConfig};
use crate::server::handler::handle;
use crate::server::{Server, ServerConfig};

const NOW: u64 = 1_800_000_000;
const SESSION: [u8; 16] = [0x5e; 16];

/// A server with echo, payout and hostile loaded (in that order).
struct Enclave {
    server: Arc<Server>,
    clock: Arc<ManualClock>,
    echo: Measurement,
    payout: Measurement,
    hostile: Measurement,
}

impl Enclave {
    async fn start() -> Self {
        Self::start_gated(CapabilityGate::InsecureUngated).await
    }

    async fn start_gated(capability_gate: CapabilityGate) -> Self {
        let clock = ManualClock::at(NOW);
        let config = RuntimeConfig {
            max_concurrent_invocations: 2,
            capability_gate,
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::with_clock(config, clock.clone()).unwrap();
        let server =
            Arc::new(Server::new(Arc::new(runtime), None, ServerConfig::default()).unwrap());
        let mut loaded = Vec::new();
        for name in ["echo", "payout", "hostile"] {
            let request = Request::Load {
                name: name.to_owned(),
                component: plugin_bytes(name),
                limits: None,
                signed: None,
            };
            let Response::Loaded(r) = handle(&server, request).await else {
                panic!("{name} did not load");
            };
            loaded.push(r.info.measurement);
        }
        Self {
            server,
            clock,
            echo: loaded[0],
            payout: loaded[1],
            hostile: loaded[2],
        }
    }

    /// A bundle sealed to this enclave's key.
    fn bundle(&self, expires_at: u64, entries: &[(Measurement, &str, &[u8])]) -> Vec<u8> {
        sealed_to(self.server.public_key(), expires_at, entries)
    }

    async fn release(&self, bundle: Vec<u8>) -> Response {
        handle(
            &self.server,
            Request::Release {
                bundle,
                tokens: Vec::new(),
            },
        )
        .await
    }

    /// The code of a refused release.
    async fn refused(&self, bundle: Vec<u8>) -> (String, String) {
        match self.release(bundle).await {
            Response::Error(e) => (e.code, e.message),
            other => panic!("release accepted: {other:?}"),
        }
    }

    async fn released(&self, bundle: Vec<u8>) -> Released {
        match self.release(bundle).await {
            Response::Released(r) => r,
            other => panic!("release refused: {other:?}"),
        }
    }

    async fn invoke(&self, plugin: Measurement, input: &[u8]) -> Result<Vec<u8>, (String, String)> {
        let request = Request::Invoke {
            plugin,
            input: input.to_vec(),
        };
        match handle(&self.server, request).await {
            Response::Output(out) => Ok(out),
            Response::Error(e) => Err((e.code, e.message)),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// What hostile's `secret:NAME` gives: the value, or the plugin's error.
    async fn hostile_reads(&self, name: &str) -> Result<Vec<u8>, String> {
        self.invoke(self.hostile, format!("secret:{name}").as_bytes())
            .await
            .map_err(|(code, message)| {
                assert_eq!(code, "plugin_error", "{message}");
                message
            })
    }
}

fn sealed_to(key: &[u8], expires_at: u64, entries: &[(Measurement, &str, &[u8])]) -> Vec<u8> {
    let secrets = entries
        .iter()
        .map(|(m, name, value)| seal(key, &SESSION, expires_at, m, name, value).unwrap())
        .collect();
    SealedBundle::new(SESSION, expires_at, secrets)
        .unwrap()
        .to_bytes()
}

fn not_granted(name: &str) -> Result<Vec<u8>, String> {
    Err(format!("plugin error: secret {name}: not-granted"))
}

#[tokio::test]
async fn a_plugin_reads_its_own_secret_and_no_other_plugins() {
    let e = Enclave::start().await;
    // Before any release, nothing is granted.
    assert_eq!(
        e.hostile_reads("db-password").await,
        not_granted("db-password")
    );
    let released = e
        .released(e.bundle(
            NOW + 60,
            &[
                (e.hostile, "db-password", b"hunter2"),
                (e.hostile, "api-token", b"tok"),
                (e.payout, "payout-hmac-key", b"mac-key"),
            ],
        ))
        .await;
    // Names only, sorted; plugins in load order; echo got nothing.
    assert_eq!(
        released,
        Released {
            expires_at: NOW + 60,
            plugins: vec![
                ReleasedPlugin {
                    measurement: e.payout,
                    secrets: vec!["payout-hmac-key".to_owned()],
                },
                ReleasedPlugin {
                    measurement: e.hostile,
                    secrets: vec!["api-token".to_owned(), "db-password".to_owned()],
                },
            ],
        }
    );
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"hunter2");
    // Payout's name, asked for by hostile: exactly like a name that does not exist.
    assert_eq!(
        e.hostile_reads("payout-hmac-key").await,
        not_granted("payout-hmac-key")
    );
    assert_eq!(
        e.hostile_reads("no-such-name").await,
        not_granted("no-such-name")
    );
    // Echo still runs; it never imports secrets.
    assert_eq!(e.invoke(e.echo, b"hi").await.unwrap(), b"hi");
}

#[tokio::test]
async fn names_are_bounded_and_a_flood_of_name_bytes_traps() {
    let e = Enclave::start().await;
    let longest = "n".repeat(crate::runtime::MAX_SECRET_NAME_BYTES);
    e.released(e.bundle(NOW + 60, &[(e.hostile, &longest, b"long-ok")]))
        .await;
    assert_eq!(e.hostile_reads(&longest).await.unwrap(), b"long-ok");
    let too_long = format!("{longest}n");
    assert_eq!(e.hostile_reads(&too_long).await, not_granted(&too_long));
    let (code, message) = e.invoke(e.hostile, b"secret-flood").await.unwrap_err();
    assert_eq!(code, "guest_trap", "{message}");
    assert!(message.contains("secrets.get"), "{message}");
    // The trap was that invocation's only.
    assert_eq!(e.hostile_reads(&longest).await.unwrap(), b"long-ok");
}

#[tokio::test]
async fn an_expired_bundle_is_refused_and_one_second_later_is_accepted() {
    let e = Enclave::start().await;
    e.released(e.bundle(NOW + 60, &[(e.hostile, "db-password", b"first")]))
        .await;
    let (code, message) = e
        .refused(e.bundle(NOW, &[(e.hostile, "db-password", b"second")]))
        .await;
    assert_eq!(code, "bundle_expired", "{message}");
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"first");
    e.released(e.bundle(NOW + 1, &[(e.hostile, "db-password", b"second")]))
        .await;
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"second");
}

#[tokio::test]
async fn after_expiry_a_lookup_says_expired() {
    let e = Enclave::start().await;
    e.released(e.bundle(NOW + 60, &[(e.hostile, "db-password", b"v")]))
        .await;
    e.clock.set(NOW + 59);
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"v");
    e.clock.set(NOW + 60);
    assert_eq!(
        e.hostile_reads("db-password").await,
        Err("plugin error: secret db-password: expired".to_owned())
    );
    // A name it was never given stays not-granted.
    assert_eq!(e.hostile_reads("api-token").await, not_granted("api-token"));
}

#[tokio::test]
async fn a_tampered_or_malformed_bundle_is_refused_and_the_previous_secrets_stay() {
    let e = Enclave::start().await;
    let good = e.bundle(NOW + 60, &[(e.hostile, "db-password", b"first")]);
    e.released(good).await;
    let next = e.bundle(NOW + 60, &[(e.hostile, "db-password", b"second")]);
    // The last byte of the encoding is the last byte of the last ciphertext.
    let mut flipped = next.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let other_key = crate::key::EnclaveKey::generate().unwrap();
    let to_another_key = sealed_to(
        other_key.public_key(),
        NOW + 60,
        &[(e.hostile, "db-password", b"x")],
    );
    let renamed = rename(&next, b"db-password", b"db password");
    let mut trailing = next.clone();
    trailing.push(0);
    let cases = [
        ("flipped ciphertext", flipped, "bundle_tampered"),
        ("sealed to another key", to_another_key, "bundle_tampered"),
        (
            "truncated",
            next[..next.len() - 1].to_vec(),
            "bundle_malformed",
        ),
        ("trailing byte", trailing, "bundle_malformed"),
        ("invalid name", renamed, "bundle_malformed"),
        ("empty", Vec::new(), "bundle_malformed"),
        (
            "too large",
            vec![0; enclet_sealed::MAX_BUNDLE_BYTES + 1],
            "bundle_too_large",
        ),
    ];
    for (what, bundle, expected) in cases {
        let (code, message) = e.refused(bundle).await;
        assert_eq!(code, expected, "{what}: {message}");
        assert!(!message.contains("second"), "{what}: {message}");
        assert_eq!(
            e.hostile_reads("db-password").await.unwrap(),
            b"first",
            "{what}"
        );
    }
    // The close variant: the same bundle untouched is accepted.
    e.released(next).await;
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"second");
}

/// `bytes` with the first `from` replaced by `to` (same length).
fn rename(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[tokio::test]
async fn a_bundle_for_a_plugin_that_is_not_loaded_is_refused() {
    let e = Enclave::start().await;
    e.released(e.bundle(NOW + 60, &[(e.hostile, "db-password", b"first")]))
        .await;
    let stranger = Measurement::of_plugin(b"never loaded");
    let (code, message) = e
        .refused(e.bundle(
            NOW + 60,
            &[(e.hostile, "db-password", b"second"), (stranger, "k", b"v")],
        ))
        .await;
    assert_eq!(code, "unknown_plugin", "{message}");
    assert!(message.contains(&stranger.to_hex()), "{message}");
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"first");
    e.released(e.bundle(NOW + 60, &[(e.hostile, "db-password", b"second")]))
        .await;
    assert_eq!(e.hostile_reads("db-password").await.unwrap(), b"second");
}

#[tokio::test]
async fn a_second_release_replaces_the_first() {
    let e = Enclave::start().await;
    e.released(e.bundle(
        NOW + 60,
        &[
            (e.hostile, "db-password", b"pw"),
            (e.payout, "payout-hmac-key", b"k"),
        ],
    ))
    .await;
    let second = e
        .released(e.bundle(NOW + 120, &[(e.hostile, "api-token", b"tok")]))
        .await;
    assert_eq!(second.expires_at, NOW + 120);
    assert_eq!(second.plugins.len(), 1);
    assert_eq!(e.hostile_reads("api-token").await.unwrap(), b"tok");
    assert_eq!(
        e.hostile_reads("db-password").await,
        not_granted("db-password")
    );
    // Past the first release's expiry, the second still serves.
    e.clock.set(NOW + 60);
    assert_eq!(e.hostile_reads("api-token").await.unwrap(), b"tok");
}
