//! The payout plugin's `mac`: verifiable with the released key, `null`
//! without a grant, an error once expired.

use aws_lc_rs::hmac;

use super::*;

const BASKET: &[u8] = br#"{"currency":"EUR","platform":"market","fee_bps":1000,
    "items":[{"sku":"book-1","seller":"alice","unit_cents":2000,"quantity":2}],
    "royalties":[{"sku":"book-1","party":"author","bps":1500}]}"#;

/// The verifier's recipe (see the payout plugin's `mac` module): the output
/// ends in `,"mac":"<64 hex>"}`; without that suffix and with `}` appended it
/// is the MAC'ed body.
fn verify(key: &[u8], output: &[u8]) -> bool {
    let Some((open, hex_and_close)) = output
        .len()
        .checked_sub(74)
        .and_then(|at| output.split_at_checked(at))
    else {
        return false;
    };
    let Some(mac_hex) = hex_and_close
        .strip_prefix(b",\"mac\":\"")
        .and_then(|rest| rest.strip_suffix(b"\"}"))
    else {
        return false;
    };
    let Ok(mac) = hex::decode(mac_hex) else {
        return false;
    };
    let body = [open, b"}"].concat();
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &body, &mac).is_ok()
}

#[tokio::test]
async fn the_payout_mac_verifies_with_the_key_and_is_null_without_a_grant() {
    let e = Enclave::start().await;
    let unsigned = e.invoke(e.payout, BASKET).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&unsigned).unwrap();
    assert!(json["mac"].is_null(), "{json}");
    assert_eq!(json["total_cents"], 4000);
    assert!(unsigned.ends_with(b",\"mac\":null}"));
    assert!(!verify(b"payout-key-1", &unsigned));

    // Granted to hostile only: payout still signs nothing.
    e.released(e.bundle(NOW + 60, &[(e.hostile, "payout-hmac-key", b"payout-key-1")]))
        .await;
    let json: serde_json::Value =
        serde_json::from_slice(&e.invoke(e.payout, BASKET).await.unwrap()).unwrap();
    assert!(json["mac"].is_null(), "{json}");

    e.released(e.bundle(NOW + 60, &[(e.payout, "payout-hmac-key", b"payout-key-1")]))
        .await;
    let signed = e.invoke(e.payout, BASKET).await.unwrap();
    assert!(
        verify(b"payout-key-1", &signed),
        "{}",
        String::from_utf8_lossy(&signed)
    );
    assert!(!verify(b"payout-key-2", &signed));
    let json: serde_json::Value = serde_json::from_slice(&signed).unwrap();
    assert_eq!(json["mac"].as_str().unwrap().len(), 64);
    // The MAC'ed body is exactly the unsigned split.
    let body_len = unsigned.len() - b",\"mac\":null}".len();
    assert_eq!(signed[..body_len], unsigned[..body_len]);
    // A changed amount no longer verifies.
    let forged = String::from_utf8(signed.clone())
        .unwrap()
        .replacen("4000", "4001", 1);
    assert!(!verify(b"payout-key-1", forged.as_bytes()));

    e.clock.set(NOW + 60);
    let (code, message) = e.invoke(e.payout, BASKET).await.unwrap_err();
    assert_eq!(code, "plugin_error");
    assert!(message.contains("payout-hmac-key has expired"), "{message}");
}
