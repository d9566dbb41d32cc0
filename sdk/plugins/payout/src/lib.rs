//! `payout`: the marketplace payout-split calculator.
//!
//! Given a basket of line items and the royalty rules that apply to them, it
//! returns how much each party is owed. All amounts are integer minor units
//! (cents); nothing is lost to rounding: fee and royalties round down and the
//! seller of each line receives the remainder, so the payouts always sum to the
//! basket total.
//!
//! Input (JSON):
//! ```json
//! { "currency": "EUR", "platform": "market", "fee_bps": 1000,
//!   "items": [ { "sku": "book-1", "seller": "alice", "unit_cents": 2000, "quantity": 2 } ],
//!   "royalties": [ { "sku": "book-1", "party": "author", "bps": 1500 } ] }
//! ```
//! Output (compact JSON, shown spread out here), parties sorted by name, and
//! last a `mac` member:
//! ```json
//! { "currency": "EUR", "total_cents": 4000,
//!   "payouts": [ { "party": "alice", "cents": 3000 }, { "party": "author", "cents": 600 },
//!                { "party": "market", "cents": 400 } ],
//!   "mac": "<hex HMAC-SHA256>" }
//! ```
//! `mac` is the HMAC-SHA256, keyed with the secret `payout-hmac-key`, of the
//! exact output bytes without the `,"mac":…` member; it is `null` when the
//! control plane did not release that key to this plugin. See [`mac`] for the
//! exact bytes and how a verifier recomputes it.

pub mod mac;
mod split;

use enclet_plugin_sdk::secrets::SecretError;

pub use split::{Basket, Item, Payout, Royalty, Split, split};

/// The payout plugin.
pub struct PayoutPlugin;

impl enclet_plugin_sdk::Plugin for PayoutPlugin {
    fn handle(input: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut keyed = false;
        let output = respond(&input, || {
            let key = enclet_plugin_sdk::secrets::get(mac::MAC_KEY);
            keyed = key.is_ok();
            key
        })?;
        enclet_plugin_sdk::log::debug(
            "basket split",
            &[
                ("output_bytes", &output.len().to_string()),
                ("mac", if keyed { "hmac-sha256" } else { "none" }),
            ],
        );
        Ok(output)
    }
}

/// The whole plugin minus the host: splits the basket in `input`, then asks
/// `mac_key` for the MAC key (only once the split succeeded) and appends the
/// `mac` member. Native tests pass their own `mac_key`.
///
/// # Errors
///
/// A bad basket (naming the field), or an expired key.
pub fn respond(
    input: &[u8],
    mac_key: impl FnOnce() -> Result<Vec<u8>, SecretError>,
) -> Result<Vec<u8>, String> {
    let basket: Basket =
        serde_json::from_slice(input).map_err(|e| format!("invalid basket: {e}"))?;
    let result = split(&basket)?;
    let body = serde_json::to_vec(&result).map_err(|e| format!("encoding result: {e}"))?;
    mac::append_mac(&body, mac_key())
}

enclet_plugin_sdk::export_plugin!(PayoutPlugin);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

    use super::*;

    const BASKET: &str = r#"{"currency":"EUR","platform":"market","fee_bps":1000,
        "items":[{"sku":"book-1","seller":"alice","unit_cents":2000,"quantity":2}],
        "royalties":[{"sku":"book-1","party":"author","bps":1500}]}"#;

    #[test]
    fn the_output_is_the_split_with_a_mac_over_it() {
        let out = respond(BASKET.as_bytes(), || Ok(b"key".to_vec())).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["total_cents"], 4000);
        let body =
            serde_json::to_vec(&split(&serde_json::from_str(BASKET).unwrap()).unwrap()).unwrap();
        let expected = mac::hmac_sha256(b"key", &body).unwrap();
        let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(json["mac"], hex.as_str());
    }

    #[test]
    fn without_the_key_mac_is_null_and_expired_fails() {
        let out = respond(BASKET.as_bytes(), || Err(SecretError::NotGranted)).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(json["mac"].is_null(), "{json}");
        assert_eq!(json["total_cents"], 4000);
        let err = respond(BASKET.as_bytes(), || Err(SecretError::Expired)).unwrap_err();
        assert!(err.contains("payout-hmac-key has expired"), "{err}");
    }

    #[test]
    fn a_bad_basket_never_asks_for_the_key() {
        let mut asked = false;
        let err = respond(b"{not json", || {
            asked = true;
            Ok(b"key".to_vec())
        })
        .unwrap_err();
        assert!(err.contains("invalid basket"), "{err}");
        assert!(!asked);
    }
}
