//! Revocation through every real process: the operator revokes the hostile
//! plugin at the control plane's admin API; the parent, refreshing the signed
//! revocation list every second, hands it to the enclave, which unloads the
//! plugin (its next call is `unknown_plugin`) and refuses to load it again;
//! the control plane's audit log holds the revocation and the enforcement
//! report. The other plugins keep serving.

use std::time::{Duration, Instant};

use super::secret::{SECRET_NAME, Secret};
use super::stack::Stack;
use super::{PAYOUT_SAMPLE, Plugins, control_plane, swtpm};
use crate::harness::api_error;

/// Generous bound against hangs; never a performance assertion.
const ENFORCEMENT_WAIT: Duration = Duration::from_mins(1);

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_plugin_stops_within_the_refresh_interval_and_both_ends_are_audited() {
    let swtpm = swtpm();
    let plugins = Plugins::built();
    let cp = control_plane(&swtpm, &plugins).await;
    let secret = Secret::random();
    cp.put_secret(SECRET_NAME, secret.value()).await;
    let stack = Stack::start_with(
        &swtpm,
        &cp.url,
        &cp.ca_path(),
        &cp.capability_root(),
        &["--revocation-refresh-secs", "1"],
    )
    .await;
    for (name, measurement) in plugins.named() {
        assert_eq!(stack.load(name).await, measurement.to_hex(), "{name}");
    }
    let (payout, echo, hostile) = (
        plugins.payout.to_hex(),
        plugins.echo.to_hex(),
        plugins.hostile.to_hex(),
    );
    stack
        .wait_for_release(&[(&payout, &[SECRET_NAME]), (&echo, &[]), (&hostile, &[])])
        .await;
    assert_eq!(stack.invoke(&hostile, b"plain").await.unwrap(), b"plain");

    let revoked = cp.revoke("plugin", &hostile).await;
    assert_eq!(
        (revoked.kind.as_str(), revoked.value.as_str()),
        ("plugin", hostile.as_str())
    );
    let start = Instant::now();
    let refused = loop {
        match stack.invoke(&hostile, b"plain").await {
            Ok(_) => {}
            Err(e) => break api_error(e),
        }
        assert!(
            start.elapsed() < ENFORCEMENT_WAIT,
            "hostile still served {ENFORCEMENT_WAIT:?} after its revocation\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "revocation enforced {:?} after the admin call",
        start.elapsed()
    );
    assert_eq!(
        (refused.0, refused.1.as_str()),
        (404, "unknown_plugin"),
        "{}",
        refused.2
    );

    // It cannot be loaded again; the others keep serving.
    let err = stack.try_load("hostile").await.unwrap_err();
    let (status, code, message) = api_error(err);
    assert_eq!(
        (status, code.as_str()),
        (403, "revoked_plugin"),
        "{message}"
    );
    assert_eq!(
        stack.invoke(&echo, b"still here").await.unwrap(),
        b"still here"
    );
    let signed = stack.invoke(&payout, PAYOUT_SAMPLE).await.unwrap();
    assert!(super::secret::verify_mac(&signed, secret.value()).is_ok());

    // Both ends in the control plane's audit log (the report may trail the
    // unload by a moment: wait for it, bounded).
    let start = Instant::now();
    let enforced = loop {
        let audit = cp.audit();
        let found = audit
            .iter()
            .find(|e| {
                e["kind"] == "revocation_enforced"
                    && e["detail"]["unloaded"]
                        .as_array()
                        .is_some_and(|u| u.iter().any(|m| m == hostile.as_str()))
            })
            .cloned();
        if let Some(entry) = found {
            let revocation = audit
                .iter()
                .find(|e| e["kind"] == "revocation")
                .expect("the revocation is audited");
            assert_eq!(revocation["detail"]["value"], hostile.as_str());
            assert_eq!(revocation["detail"]["kind"], "plugin");
            break entry;
        }
        assert!(
            start.elapsed() < ENFORCEMENT_WAIT,
            "no enforcement report audited"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(enforced["detail"]["sequence"], revoked.sequence);
    // The enclave's own record.
    assert!(stack.enclave_log().contains("revocation list applied"));
}
