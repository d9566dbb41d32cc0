//! Nothing the enclave logs carries a secret value: not on release, not on a
//! refused release, not on lookups granted, refused or expired, at any level.

use super::*;
use crate::runtime::tests::capture::logged;

const VALUE: &[u8] = b"V4LUE-must-never-be-logged";

#[test]
fn no_secret_value_reaches_the_log() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (e, log) = logged(|| {
        tokio.block_on(async {
            let e = Enclave::start().await;
            let good = e.bundle(
                NOW + 60,
                &[(e.hostile, "db-password", VALUE), (e.payout, "payout-hmac-key", VALUE)],
            );
            let mut tampered = good.clone();
            *tampered.last_mut().unwrap() ^= 1;
            e.refused(tampered).await;
            e.released(good).await;
            e.refused(e.bundle(NOW, &[(e.hostile, "db-password", VALUE)]))
                .await;
            // Invocations on this thread, so their records are captured too.
            let runtime = &e.server.runtime;
            for input in [&b"secret:db-password"[..], b"secret:payout-hmac-key"] {
                let _ = runtime.invoke_blocking(&e.hostile, input);
            }
            let _ = runtime.invoke_blocking(&e.payout, br#"{"currency":"EUR","platform":"m","fee_bps":0,"items":[{"sku":"s","seller":"a","unit_cents":1,"quantity":1}]}"#);
            e.clock.set(NOW + 60);
            let _ = runtime.invoke_blocking(&e.hostile, b"secret:db-password");
            e
        })
    });
    // The log is not empty of what may be logged: names, session, outcomes.
    assert!(log.contains("secrets released"), "{log}");
    assert!(log.contains("db-password"), "{log}");
    assert!(log.contains(&hex::encode(SESSION)), "{log}");
    assert!(log.contains("bundle_tampered"), "{log}");
    assert!(log.contains("outcome=\"granted\""), "{log}");
    assert!(log.contains("outcome=\"expired\""), "{log}");
    // The value in any form.
    let text = String::from_utf8_lossy(VALUE);
    for form in [text.to_string(), hex::encode(VALUE), format!("{VALUE:?}")] {
        assert!(!log.contains(&form), "{form} in {log}");
    }
    assert!(!format!("{:?}", e.server).contains(&*text));
}
