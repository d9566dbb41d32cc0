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
//! Output (JSON), parties sorted by name:
//! ```json
//! { "currency": "EUR", "total_cents": 4000,
//!   "payouts": [ { "party": "alice", "cents": 3000 }, { "party": "author", "cents": 600 },
//!                { "party": "market", "cents": 400 } ] }
//! ```

mod split;

pub use split::{Basket, Item, Payout, Royalty, Split, split};

/// The payout plugin.
pub struct PayoutPlugin;

impl enclet_plugin_sdk::Plugin for PayoutPlugin {
    fn handle(input: Vec<u8>) -> Result<Vec<u8>, String> {
        let basket: Basket =
            serde_json::from_slice(&input).map_err(|e| format!("invalid basket: {e}"))?;
        let result = split(&basket)?;
        enclet_plugin_sdk::log::debug(
            "basket split",
            &[
                ("items", &basket.items.len().to_string()),
                ("parties", &result.payouts.len().to_string()),
            ],
        );
        serde_json::to_vec(&result).map_err(|e| format!("encoding result: {e}"))
    }
}

enclet_plugin_sdk::export_plugin!(PayoutPlugin);
