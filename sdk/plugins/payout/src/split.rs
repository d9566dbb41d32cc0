//! The split rules, independent of the plugin interface.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Basis points in a whole.
const WHOLE_BPS: u32 = 10_000;
/// Most line items in one basket.
pub const MAX_ITEMS: usize = 10_000;
/// Most royalty rules in one basket.
pub const MAX_ROYALTIES: usize = 10_000;
/// Longest party, SKU or currency name, in bytes.
pub const MAX_NAME: usize = 128;

/// A basket to split.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Basket {
    /// ISO 4217 code, echoed in the result.
    pub currency: String,
    /// The party that receives the marketplace fee.
    pub platform: String,
    /// Marketplace fee in basis points of each line.
    pub fee_bps: u32,
    /// The line items.
    pub items: Vec<Item>,
    /// Royalty rules by SKU.
    #[serde(default)]
    pub royalties: Vec<Royalty>,
}

/// One line of the basket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Product identifier.
    pub sku: String,
    /// The party that sold it.
    pub seller: String,
    /// Unit price in minor units.
    pub unit_cents: u64,
    /// Number of units (at least 1).
    pub quantity: u32,
}

/// A royalty owed to `party` on every sale of `sku`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Royalty {
    /// Product identifier.
    pub sku: String,
    /// Who receives the royalty.
    pub party: String,
    /// Share in basis points of the line total.
    pub bps: u32,
}

/// One party's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    /// The party.
    pub party: String,
    /// Amount in minor units.
    pub cents: u64,
}

/// The result of a split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    /// Currency of every amount.
    pub currency: String,
    /// Sum of all line totals; equals the sum of the payouts.
    pub total_cents: u64,
    /// Payouts sorted by party.
    pub payouts: Vec<Payout>,
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "{what} must be 1..={MAX_NAME} bytes, got {}",
            name.len()
        ));
    }
    Ok(())
}

/// `amount * bps / 10000`, rounded down, without overflow.
fn share(amount: u64, bps: u32) -> u64 {
    let exact = u128::from(amount) * u128::from(bps) / u128::from(WHOLE_BPS);
    // bps <= WHOLE_BPS is checked by the caller, so the share never exceeds amount.
    u64::try_from(exact).unwrap_or(amount)
}

fn credit(book: &mut BTreeMap<String, u64>, party: &str, cents: u64) -> Result<(), String> {
    let entry = book.entry(party.to_owned()).or_insert(0);
    *entry = entry.checked_add(cents).ok_or("payout overflows u64")?;
    Ok(())
}

/// Splits a basket.
///
/// # Errors
///
/// A message naming the offending field: empty or oversized names, a zero
/// quantity, too many items or rules, fee plus royalties above 100 % for a SKU,
/// or amounts that overflow.
pub fn split(basket: &Basket) -> Result<Split, String> {
    check_name("currency", &basket.currency)?;
    check_name("platform", &basket.platform)?;
    if basket.items.is_empty() || basket.items.len() > MAX_ITEMS {
        return Err(format!(
            "items must have 1..={MAX_ITEMS} entries, got {}",
            basket.items.len()
        ));
    }
    if basket.royalties.len() > MAX_ROYALTIES {
        return Err(format!("at most {MAX_ROYALTIES} royalty rules"));
    }
    let mut rules: BTreeMap<&str, Vec<&Royalty>> = BTreeMap::new();
    for rule in &basket.royalties {
        check_name("royalty sku", &rule.sku)?;
        check_name("royalty party", &rule.party)?;
        rules.entry(rule.sku.as_str()).or_default().push(rule);
    }
    for (sku, sku_rules) in &rules {
        let total = sku_rules
            .iter()
            .fold(basket.fee_bps, |acc, r| acc.saturating_add(r.bps));
        if total > WHOLE_BPS {
            return Err(format!(
                "fee plus royalties for {sku} is {total} bps, above {WHOLE_BPS}"
            ));
        }
    }
    if basket.fee_bps > WHOLE_BPS {
        return Err(format!("fee_bps is {}, above {WHOLE_BPS}", basket.fee_bps));
    }

    let mut book = BTreeMap::new();
    let mut total: u64 = 0;
    for (index, item) in basket.items.iter().enumerate() {
        check_name("sku", &item.sku)?;
        check_name("seller", &item.seller)?;
        if item.quantity == 0 {
            return Err(format!("items[{index}].quantity is 0"));
        }
        let line = item
            .unit_cents
            .checked_mul(u64::from(item.quantity))
            .ok_or_else(|| format!("items[{index}] total overflows"))?;
        total = total
            .checked_add(line)
            .ok_or("basket total overflows u64")?;
        let fee = share(line, basket.fee_bps);
        credit(&mut book, &basket.platform, fee)?;
        let mut seller = line - fee;
        for rule in rules.get(item.sku.as_str()).into_iter().flatten() {
            let cut = share(line, rule.bps);
            credit(&mut book, &rule.party, cut)?;
            seller = seller.saturating_sub(cut);
        }
        credit(&mut book, &item.seller, seller)?;
    }
    let payouts = book
        .into_iter()
        .map(|(party, cents)| Payout { party, cents })
        .collect();
    Ok(Split {
        currency: basket.currency.clone(),
        total_cents: total,
        payouts,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    fn basket(json: &str) -> Basket {
        serde_json::from_str(json).unwrap()
    }

    const EXAMPLE: &str = r#"{ "currency": "EUR", "platform": "market", "fee_bps": 1000,
        "items": [ { "sku": "book-1", "seller": "alice", "unit_cents": 2000, "quantity": 2 } ],
        "royalties": [ { "sku": "book-1", "party": "author", "bps": 1500 } ] }"#;

    #[test]
    fn documented_example() {
        let s = split(&basket(EXAMPLE)).unwrap();
        let got: Vec<(&str, u64)> = s
            .payouts
            .iter()
            .map(|p| (p.party.as_str(), p.cents))
            .collect();
        assert_eq!(got, [("alice", 3000), ("author", 600), ("market", 400)]);
        assert_eq!(s.total_cents, 4000);
    }

    #[test]
    fn rounding_goes_to_the_seller_and_totals_match() {
        let b = basket(
            r#"{ "currency": "EUR", "platform": "m", "fee_bps": 333,
            "items": [ { "sku": "a", "seller": "s", "unit_cents": 7, "quantity": 3 },
                       { "sku": "b", "seller": "t", "unit_cents": 1, "quantity": 1 } ],
            "royalties": [ { "sku": "a", "party": "r", "bps": 3333 } ] }"#,
        );
        let s = split(&b).unwrap();
        assert_eq!(
            s.payouts.iter().map(|p| p.cents).sum::<u64>(),
            s.total_cents
        );
        assert_eq!(s.total_cents, 22);
    }

    #[test]
    fn rejects_bad_baskets_by_field() {
        let cases = [
            (
                EXAMPLE.replace("\"quantity\": 2", "\"quantity\": 0"),
                "quantity is 0",
            ),
            (
                EXAMPLE.replace("\"bps\": 1500", "\"bps\": 9500"),
                "above 10000",
            ),
            (
                EXAMPLE.replace("\"seller\": \"alice\"", "\"seller\": \"\""),
                "seller",
            ),
            (
                EXAMPLE.replace(
                    "\"unit_cents\": 2000",
                    "\"unit_cents\": 18446744073709551615",
                ),
                "overflows",
            ),
        ];
        for (json, needle) in cases {
            let err = split(&basket(&json)).unwrap_err();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
        let empty = basket(r#"{ "currency": "EUR", "platform": "m", "fee_bps": 0, "items": [] }"#);
        assert!(split(&empty).unwrap_err().contains("items"));
    }
}
