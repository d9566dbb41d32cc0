//! The relay against a fake control plane (real HTTPS with an rcgen CA) and
//! an enclave: the real enclave server with a stand-in TPM attester (rounds
//! run up to its `Release`), or a scripted Nitro enclave that installs
//! releases.

mod api;
mod enclave;
mod fake_cp;
mod rounds;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use enclet_control_plane_api::client::ControlPlaneClient;
use enclet_protocol::{Endpoint, FrameLimits};
use tokio::sync::watch;

use self::fake_cp::{Ca, Cp};
use super::{Backoff, Relay, RelayConfig};
use crate::client::Reconnecting;

/// Failed rounds are not retried within a test.
const NO_RETRY: Backoff = Backoff {
    initial: Duration::from_hours(1),
    max: Duration::from_hours(1),
};

fn reconnecting(path: &Path) -> Arc<Reconnecting> {
    Arc::new(Reconnecting::new(
        Endpoint::Unix(path.to_path_buf()),
        FrameLimits::default(),
    ))
}

/// A fake control plane (certificate from its own CA) and a relay to it that
/// pins `pinned` (the fake's CA unless given).
async fn start(
    cp: Cp,
    enclave: Arc<Reconnecting>,
    backoff: Backoff,
    pinned: Option<&Ca>,
) -> (Arc<Cp>, Relay) {
    let ca = Ca::new("control plane CA");
    let cp = Arc::new(cp);
    let url = fake_cp::serve(Arc::clone(&cp), &ca).await;
    let pem = pinned.unwrap_or(&ca).pem.as_bytes();
    let client = ControlPlaneClient::new(&url, pem, None)
        .unwrap()
        .with_timeout(Duration::from_secs(20));
    let mut config = RelayConfig::new(client);
    config.backoff = backoff;
    (cp, Relay::start(config, enclave))
}

/// Waits (bounded) until the counter reaches `n`.
async fn reach(counter: &watch::Sender<u32>, n: u32) {
    let mut rx = counter.subscribe();
    tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|v| *v >= n))
        .await
        .unwrap_or_else(|_| panic!("counter never reached {n}"))
        .unwrap();
}

/// Waits (bounded) until the relay's status satisfies `done`.
async fn status_until(
    relay: &Relay,
    done: impl Fn(&super::ReleaseStatus) -> bool,
) -> super::ReleaseStatus {
    for _ in 0..3_000 {
        let s = relay.status();
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "status never reached the expected state: {:?}",
        relay.status()
    );
}
