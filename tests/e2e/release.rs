//! Secret release end to end, every real process: a swtpm, `enclet-enclave
//! --attester tpm:…`, `enclet-parent --control-plane …` and
//! `enclet-control-plane`, over real TLS on 127.0.0.1 and Unix sockets.
//!
//! ```text
//!  test ──operator API──▶ parent ──unix──▶ tap (records) ──unix──▶ enclave ─▶ swtpm
//!                           │
//!                           └──HTTPS (pinned CA)──▶ control plane ◀── admin API (test)
//! ```
//!
//! The control plane is configured as an operator would: the swtpm's EK CA,
//! the enclave binary's SHA-384 as the only image, the shipped default
//! policy, and data granting `payout-hmac-key` to the payout plugin and
//! nothing to echo and hostile. The tap between parent and enclave records
//! every byte of the untrusted link, so the test can show that the parent
//! relayed the secret without ever holding it.
//!
//! * [`flow`]: the release, its use (payout's MAC, hostile refused), a
//!   tampered bundle refused, and the search for the secret.
//! * [`wrong_ca`]: a parent pinned to another CA releases nothing.
//! * [`revoke`]: revoking a running plugin at the control plane stops it in
//!   the enclave within the parent's refresh interval; both ends audited.

mod control_plane;
mod flow;
mod process;
mod revoke;
mod secret;
mod stack;
mod tap;
mod wrong_ca;

use enclet_attestation::Measurement;
use enclet_swtpm::Swtpm;

use crate::harness::{bin, plugin};
use control_plane::{ControlPlane, Grant};
use secret::SECRET_NAME;

/// The payout sample basket of `enclet demo`.
const PAYOUT_SAMPLE: &[u8] = br#"{"currency":"EUR","platform":"market","fee_bps":1000,"items":[{"sku":"book-1","seller":"alice","unit_cents":2000,"quantity":2},{"sku":"mug","seller":"bob","unit_cents":1250,"quantity":1}],"royalties":[{"sku":"book-1","party":"author","bps":1500}]}"#;

/// A private swtpm; fails (never skips) when the simulator is missing.
fn swtpm() -> Swtpm {
    Swtpm::start().unwrap_or_else(|e| {
        panic!("cannot start swtpm: {e}\nrun scripts/setup to install swtpm and swtpm-tools")
    })
}

/// What the enclave measures into the image PCR: the SHA-384 of its binary.
fn image() -> Measurement {
    Measurement::of_plugin(&std::fs::read(bin("enclet-enclave")).unwrap())
}

/// The measurements of the three built plugins.
struct Plugins {
    payout: Measurement,
    echo: Measurement,
    hostile: Measurement,
}

impl Plugins {
    fn built() -> Self {
        let m = |name| Measurement::of_plugin(&plugin(name));
        Self {
            payout: m("payout"),
            echo: m("echo"),
            hostile: m("hostile"),
        }
    }

    /// In load order.
    fn named(&self) -> [(&'static str, &Measurement); 3] {
        [
            ("payout", &self.payout),
            ("echo", &self.echo),
            ("hostile", &self.hostile),
        ]
    }
}

/// A control plane granting the secret to payout only, all three allowed.
async fn control_plane(swtpm: &Swtpm, plugins: &Plugins) -> ControlPlane {
    ControlPlane::start(
        swtpm,
        &image(),
        &[
            Grant {
                plugin: &plugins.payout,
                secrets: &[SECRET_NAME],
            },
            Grant {
                plugin: &plugins.echo,
                secrets: &[],
            },
            Grant {
                plugin: &plugins.hostile,
                secrets: &[],
            },
        ],
    )
    .await
}

/// The kinds of the audit entries, in order.
fn audit_kinds(audit: &[serde_json::Value]) -> Vec<String> {
    audit
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}
