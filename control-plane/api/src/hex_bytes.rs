//! [`Hex`]: bytes that travel as a lowercase hex string.

use serde::{Deserialize, Serialize};

/// Bytes that travel as a lowercase hex string (uppercase is accepted on input).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hex({})", hex::encode(&self.0))
    }
}

impl From<Vec<u8>> for Hex {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .map(Hex)
            .map_err(|e| serde::de::Error::custom(format!("not hex: {e}")))
    }
}
