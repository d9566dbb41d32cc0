//! The `mac` member of the output: an HMAC-SHA256 over the exact bytes of the
//! output without it, keyed with the secret `payout-hmac-key` when the control
//! plane released it to this plugin.
//!
//! # What is MAC'ed, byte for byte
//!
//! Let `body` be the compact JSON of the split, exactly as `serde_json`
//! writes it: `{"currency":…,"total_cents":…,"payouts":[…]}` (no whitespace,
//! ending in `}`). The output is `body` without its final `}`, then
//! `,"mac":`, then the member's value, then `}`:
//!
//! ```text
//! output = body[..len-1] || ,"mac":"<64 lowercase hex digits>"}   key released
//! output = body[..len-1] || ,"mac":null}                          key not granted
//! mac    = HMAC-SHA256(key, body)
//! ```
//!
//! A verifier holding the key takes the output, checks that it ends in
//! `,"mac":"<64 hex>"}`, removes that suffix, appends `}` to get `body`, and
//! compares `HMAC-SHA256(key, body)` with the hex (in constant time). The
//! `mac` member is always last, so no JSON canonicalisation is involved.
//!
//! If the key was released but has expired the plugin fails instead of
//! answering unsigned: a caller that expects a MAC must not silently get none.

use enclet_plugin_sdk::secrets::SecretError;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The secret the MAC is keyed with.
pub const MAC_KEY: &str = "payout-hmac-key";

/// Appends the `mac` member to `body`, keyed with `key` if it was granted.
///
/// # Errors
///
/// If `body` is not a JSON object ending in `}`, or the key has expired.
pub fn append_mac(body: &[u8], key: Result<Vec<u8>, SecretError>) -> Result<Vec<u8>, String> {
    let Some((b'}', open)) = body.split_last() else {
        return Err("the split did not encode as a JSON object".to_owned());
    };
    let value = match key {
        Ok(key) => format!("\"{}\"", hex(&hmac_sha256(&key, body)?)),
        Err(SecretError::NotGranted) => "null".to_owned(),
        Err(SecretError::Expired) => {
            return Err(format!(
                "secret {MAC_KEY} has expired: the enclave needs a fresh release"
            ));
        }
    };
    let mut out = Vec::with_capacity(body.len() + 8 + value.len());
    out.extend_from_slice(open);
    out.extend_from_slice(b",\"mac\":");
    out.extend_from_slice(value.as_bytes());
    out.push(b'}');
    Ok(out)
}

/// `HMAC-SHA256(key, message)`.
///
/// # Errors
///
/// Never in practice: HMAC takes a key of any length.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32], String> {
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .map_err(|e| format!("HMAC key: {e}"))?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

    use super::*;

    const BODY: &[u8] = br#"{"currency":"EUR","total_cents":1,"payouts":[]}"#;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_granted_key_macs_the_body_and_the_verifier_recipe_recovers_it() {
        let out = append_mac(BODY, Ok(b"k".to_vec())).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let mac = json["mac"].as_str().unwrap();
        assert_eq!(mac, hex(&hmac_sha256(b"k", BODY).unwrap()));
        // The documented recipe: strip `,"mac":"<hex>"}`, append `}`.
        let suffix = format!(",\"mac\":\"{mac}\"}}");
        let body = [out.strip_suffix(suffix.as_bytes()).unwrap(), b"}"].concat();
        assert_eq!(body, BODY);
        // Another key gives another MAC.
        let other = append_mac(BODY, Ok(b"K".to_vec())).unwrap();
        assert_ne!(other, out);
    }

    #[test]
    fn not_granted_is_null_and_expired_is_an_error() {
        let out = append_mac(BODY, Err(SecretError::NotGranted)).unwrap();
        assert_eq!(
            out,
            br#"{"currency":"EUR","total_cents":1,"payouts":[],"mac":null}"#
        );
        let err = append_mac(BODY, Err(SecretError::Expired)).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        assert!(append_mac(b"[1]", Err(SecretError::NotGranted)).is_err());
    }
}
