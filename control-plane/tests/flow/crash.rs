//! Crash safety: SIGKILL while audit entries are being written loses no
//! acknowledged entry and leaves a chain that verifies.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enclet_control_plane_api::NonceIssued;
use hyper::Method;

use crate::release::{echo, image, payout, setup};
use crate::support::{ControlPlane, TpmEnclave, runtime};

#[test]
fn sigkill_during_audit_writes_loses_no_acknowledged_entry() {
    let state = tempfile::tempdir().unwrap();
    let enclave = TpmEnclave::new(&image(), &[payout(), echo()]);
    let mut cp = ControlPlane::start(state.path(), &enclave.swtpm, &setup());
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let session = rt.block_on(enclave.session(&cp));
    // Eight writers issue nonces as fast as they can; every nonce answered
    // was audited (`nonce_issued`) durably before the answer.
    let mut writers = Vec::new();
    for _ in 0..8 {
        let client = cp.client.clone();
        let path = enclet_control_plane_api::nonces_path(&session);
        let acked = Arc::clone(&acked);
        writers.push(rt.spawn(async move {
            while let Ok(issued) = client
                .call_json::<(), NonceIssued>(Method::POST, &path, None, None)
                .await
            {
                acked.lock().unwrap().push(hex::encode(&issued.nonce.0));
            }
        }));
    }
    rt.block_on(async {
        while acked.lock().unwrap().len() < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    cp.kill9();
    rt.block_on(async {
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
        }
    });
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);

    // Restart on the same state; the chain verifies and holds every ack.
    let cp = ControlPlane::start_existing(state.path());
    let summary = enclet_control_plane::audit::verify_dir(state.path()).unwrap();
    assert!(summary.entries >= 200);
    let text: HashSet<String> = cp
        .audit_json()
        .iter()
        .filter(|e| e["kind"] == "nonce_issued")
        .map(ToString::to_string)
        .collect();
    let all = text.iter().cloned().collect::<Vec<_>>().join("\n");
    let missing: Vec<&String> = acked.iter().filter(|n| !all.contains(n.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged nonces missing from the audit log",
        missing.len()
    );
    // And the restarted service serves.
    let _ = runtime().block_on(enclave.session(&cp));
    // `enclet audit verify` agrees, when the CLI is built (the test suite builds it).
    let cli = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/enclet");
    if cli.is_file() {
        let out = std::process::Command::new(cli)
            .args(["audit", "verify", "--state-dir"])
            .arg(state.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
