//! serde helper: a [`Measurement`] as one 48-byte CBOR byte string.
//!
//! Used as `#[serde(with = "crate::bytes::measurement")]`.

pub(crate) mod measurement {
    use enclet_attestation::Measurement;
    use enclet_attestation::measurement::MEASUREMENT_LEN;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(m: &Measurement, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(m.as_bytes())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Measurement, D::Error> {
        let buf = serde_bytes::ByteBuf::deserialize(d)?;
        let arr: [u8; MEASUREMENT_LEN] = buf.as_slice().try_into().map_err(|_| {
            D::Error::custom(format_args!(
                "a measurement is {MEASUREMENT_LEN} bytes, got {}",
                buf.len()
            ))
        })?;
        Ok(Measurement::from_bytes(arr))
    }
}
