//! PCR selections (`TPML_PCR_SELECTION`), claimed PCR values and the quote's
//! `pcrDigest`.
//!
//! A quote signs `pcrDigest = H(value_1 || value_2 || …)` over the selected PCRs,
//! banks in selection order and indices ascending within a bank, where `H` is
//! the signing scheme's hash. The verifier gets the values from the prover (or
//! a file) and recomputes the digest; only values that are part of the selection
//! are ever reported as verified.
//!
//! ## Text format of [`PcrValues`]
//!
//! One PCR per line, `BANK:INDEX=HEX`, e.g. `sha1:0=3dcb…` or `sha256:16=…`;
//! blank lines and lines starting with `#` are ignored. `BANK` is `sha1`,
//! `sha256`, `sha384` or `sha512`; `INDEX` is 0–31; `HEX` is the whole value.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::TpmError;
use super::alg::HashAlg;
use super::reader::Reader;

/// Most banks a selection may list.
const MAX_BANKS: u32 = 16;
/// Largest `sizeofSelect` accepted: 4 bytes = PCRs 0–31.
const MAX_SELECT_BYTES: u8 = 4;
/// Highest PCR index handled.
pub const MAX_PCR_INDEX: u8 = 31;

/// A `TPML_PCR_SELECTION`: banks in order, each with a bitmap of PCR indices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcrSelection {
    banks: Vec<(HashAlg, u32)>,
}

impl PcrSelection {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Self, TpmError> {
        let count = r.u32("TPML_PCR_SELECTION.count")?;
        if count > MAX_BANKS {
            return Err(TpmError::Invalid {
                field: "TPML_PCR_SELECTION.count",
                reason: "more than 16 banks",
            });
        }
        let mut banks = Vec::new();
        for _ in 0..count {
            let id = r.u16("TPMS_PCR_SELECTION.hash")?;
            let hash = HashAlg::parse(id, "TPMS_PCR_SELECTION.hash")?;
            let size = r.u8("TPMS_PCR_SELECTION.sizeofSelect")?;
            if size > MAX_SELECT_BYTES {
                return Err(TpmError::Invalid {
                    field: "TPMS_PCR_SELECTION.sizeofSelect",
                    reason: "selects PCRs beyond 31",
                });
            }
            let mut bitmap = [0u8; 4];
            let bytes = r.take(usize::from(size), "TPMS_PCR_SELECTION.pcrSelect")?;
            for (dst, src) in bitmap.iter_mut().zip(bytes) {
                *dst = *src;
            }
            banks.push((hash, u32::from_le_bytes(bitmap)));
        }
        Ok(Self { banks })
    }

    /// Selected `(bank, index)` pairs in the order their values are hashed.
    pub fn iter(&self) -> impl Iterator<Item = (HashAlg, u8)> + '_ {
        self.banks.iter().flat_map(|&(bank, bits)| {
            (0..=MAX_PCR_INDEX)
                .filter(move |i| bits & (1u32 << i) != 0)
                .map(move |i| (bank, i))
        })
    }

    /// Whether `bank:index` is selected.
    #[must_use]
    pub fn contains(&self, bank: HashAlg, index: u8) -> bool {
        self.iter().any(|p| p == (bank, index))
    }
}

/// Claimed PCR values by bank and index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcrValues {
    values: BTreeMap<(HashAlg, u8), Vec<u8>>,
}

impl PcrValues {
    /// No values.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the value of `bank:index`.
    ///
    /// # Errors
    /// [`TpmError::PcrValues`] if the index is above 31, the value's length is not
    /// the bank's digest length, or the PCR already has a value.
    pub fn insert(&mut self, bank: HashAlg, index: u8, value: Vec<u8>) -> Result<(), TpmError> {
        if index > MAX_PCR_INDEX {
            return Err(TpmError::PcrValues(format!(
                "PCR index {index} is above {MAX_PCR_INDEX}"
            )));
        }
        if value.len() != bank.digest_len() {
            return Err(TpmError::PcrValues(format!(
                "{bank}:{index} has {} bytes, {bank} values have {}",
                value.len(),
                bank.digest_len()
            )));
        }
        if self.values.insert((bank, index), value).is_some() {
            return Err(TpmError::PcrValues(format!(
                "{bank}:{index} is given twice"
            )));
        }
        Ok(())
    }

    /// The value of `bank:index`, if given.
    #[must_use]
    pub fn get(&self, bank: HashAlg, index: u8) -> Option<&[u8]> {
        self.values.get(&(bank, index)).map(Vec::as_slice)
    }

    /// All values, ordered by bank then index.
    pub fn iter(&self) -> impl Iterator<Item = (HashAlg, u8, &[u8])> {
        self.values.iter().map(|(&(b, i), v)| (b, i, v.as_slice()))
    }

    /// How many values are given.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Parses the text format described in the module docs.
    ///
    /// # Errors
    /// [`TpmError::PcrValues`] naming the line that is malformed.
    pub fn parse_text(text: &str) -> Result<Self, TpmError> {
        let mut out = Self::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad =
                |what: &str| TpmError::PcrValues(format!("line {}: {what}", n.saturating_add(1)));
            let (bank, rest) = line
                .split_once(':')
                .ok_or_else(|| bad("expected BANK:INDEX=HEX"))?;
            let (index, value) = rest
                .split_once('=')
                .ok_or_else(|| bad("expected BANK:INDEX=HEX"))?;
            let bank = HashAlg::from_name(bank.trim()).ok_or_else(|| bad("unknown bank"))?;
            let index: u8 = index.trim().parse().map_err(|_| bad("bad PCR index"))?;
            let value = hex::decode(value.trim()).map_err(|_| bad("value is not hexadecimal"))?;
            out.insert(bank, index, value)
                .map_err(|e| bad(&e.to_string()))?;
        }
        Ok(out)
    }

    /// The text format described in the module docs.
    #[must_use]
    pub fn to_text(&self) -> String {
        self.iter().fold(String::new(), |mut out, (b, i, v)| {
            let _ = writeln!(out, "{b}:{i}={}", hex::encode(v));
            out
        })
    }
}

/// Recomputes a quote's `pcrDigest`: `hash` over the selected values in order.
pub(crate) fn pcr_digest(
    selection: &PcrSelection,
    values: &PcrValues,
    hash: HashAlg,
) -> Result<Vec<u8>, TpmError> {
    let parts = selection
        .iter()
        .map(|(bank, index)| {
            values.get(bank, index).ok_or(TpmError::PcrMissing {
                bank: bank.name(),
                index,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hash.digest(&parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(bytes: &[u8]) -> Result<PcrSelection, TpmError> {
        PcrSelection::parse(&mut Reader::new(bytes))
    }

    #[test]
    fn selection_lists_banks_in_order_and_indices_ascending() {
        // Two banks: sha256 {16, 23}, sha1 {0}.
        let s = selection(&[0, 0, 0, 2, 0, 0x0b, 3, 0, 0, 0x81, 0, 4, 3, 1, 0, 0]).unwrap();
        let v: Vec<_> = s.iter().collect();
        assert_eq!(
            v,
            [
                (HashAlg::Sha256, 16),
                (HashAlg::Sha256, 23),
                (HashAlg::Sha1, 0)
            ]
        );
        assert!(s.contains(HashAlg::Sha256, 16));
        assert!(!s.contains(HashAlg::Sha1, 16));
    }

    #[test]
    fn selection_rejects_oversized_and_unknown() {
        assert_eq!(
            selection(&[0, 0, 0, 17]).unwrap_err().code(),
            "tpm.parse.invalid"
        );
        assert_eq!(
            selection(&[0, 0, 0, 1, 0, 0x0b, 5]).unwrap_err().code(),
            "tpm.parse.invalid"
        );
        assert_eq!(
            selection(&[0, 0, 0, 1, 0, 0x10, 3]).unwrap_err().code(),
            "tpm.unsupported"
        );
        assert_eq!(
            selection(&[0, 0, 0, 1, 0, 0x0b, 3, 0]).unwrap_err().code(),
            "tpm.parse.truncated"
        );
    }

    #[test]
    fn text_round_trips_and_names_bad_lines() {
        let text = format!(
            "# comment\n\nsha1:0={}\nsha256:16={}\n",
            "00".repeat(20),
            "ab".repeat(32)
        );
        let v = PcrValues::parse_text(&text).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v.get(HashAlg::Sha256, 16), Some(&[0xab; 32][..]));
        assert_eq!(PcrValues::parse_text(&v.to_text()).unwrap(), v);
        for (bad, needle) in [
            ("sha1:0=00", "line 1"),
            ("sha1-0=00", "BANK:INDEX"),
            ("md5:0=00", "unknown bank"),
            ("sha1:x=00", "index"),
            ("sha1:40=00", "above"),
            ("sha1:0=zz", "hexadecimal"),
        ] {
            let e = PcrValues::parse_text(bad).unwrap_err();
            assert_eq!(e.code(), "tpm.pcr_values");
            assert!(e.to_string().contains(needle), "{bad}: {e}");
        }
        let twice = format!("sha1:0={0}\nsha1:0={0}", "00".repeat(20));
        assert!(
            PcrValues::parse_text(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn digest_needs_every_selected_value() {
        let s = selection(&[0, 0, 0, 1, 0, 0x0b, 3, 0, 0, 0x81]).unwrap();
        let mut v = PcrValues::new();
        v.insert(HashAlg::Sha256, 16, vec![1; 32]).unwrap();
        assert_eq!(
            pcr_digest(&s, &v, HashAlg::Sha256),
            Err(TpmError::PcrMissing {
                bank: "sha256",
                index: 23
            })
        );
        v.insert(HashAlg::Sha256, 23, vec![2; 32]).unwrap();
        let expected = HashAlg::Sha256.digest(&[&[1; 32], &[2; 32]]);
        assert_eq!(pcr_digest(&s, &v, HashAlg::Sha256).unwrap(), expected);
    }
}
