//! The plugin measurement rule, shared by the Nitro and TPM paths.
//!
//! A plugin's measurement is SHA-384 over the exact component bytes the enclave
//! compiled. The enclave addresses plugins by this value, extends it into the
//! plugin PCR at load, and appends it to the event log; verifiers replay the log
//! with [`replay_sha384`] / [`replay_sha256`] and compare against the quoted PCR.

use core::fmt;
use core::str::FromStr;

use sha2::{Digest, Sha256, Sha384};

/// Length of a measurement in bytes (SHA-384).
pub const MEASUREMENT_LEN: usize = 48;

/// SHA-384 of a plugin component's bytes: its identity everywhere in enclet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Measurement([u8; MEASUREMENT_LEN]);

impl Measurement {
    /// Measures a plugin: SHA-384 over exactly these component bytes.
    #[must_use]
    pub fn of_plugin(component: &[u8]) -> Self {
        Self(Sha384::digest(component).into())
    }

    /// Wraps a digest that was computed elsewhere.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; MEASUREMENT_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw digest.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; MEASUREMENT_LEN] {
        &self.0
    }

    /// Lowercase hex, 96 characters.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Measurement({})", self.to_hex())
    }
}

/// Why a string is not a measurement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a measurement is 96 hexadecimal characters (SHA-384)")]
pub struct ParseMeasurementError;

impl FromStr for Measurement {
    type Err = ParseMeasurementError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; MEASUREMENT_LEN];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseMeasurementError)?;
        Ok(Self(out))
    }
}

impl serde::Serialize for Measurement {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// Replays SHA-384 PCR extends from an all-zero PCR: `pcr = H(pcr || m)` for each.
#[must_use]
pub fn replay_sha384<'a>(measurements: impl IntoIterator<Item = &'a Measurement>) -> [u8; 48] {
    measurements.into_iter().fold([0u8; 48], |pcr, m| {
        let mut h = Sha384::new();
        h.update(pcr);
        h.update(m.as_bytes());
        h.finalize().into()
    })
}

/// Replays SHA-256 PCR extends from an all-zero PCR, extending each measurement's
/// SHA-256 digest (a TPM SHA-256 bank cannot hold a 48-byte value):
/// `pcr = SHA256(pcr || SHA256(m))`.
#[must_use]
pub fn replay_sha256<'a>(measurements: impl IntoIterator<Item = &'a Measurement>) -> [u8; 32] {
    measurements.into_iter().fold([0u8; 32], |pcr, m| {
        let mut h = Sha256::new();
        h.update(pcr);
        h.update(Sha256::digest(m.as_bytes()));
        h.finalize().into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurement_is_sha384_of_bytes() {
        // SHA-384("abc") from FIPS 180-2.
        let m = Measurement::of_plugin(b"abc");
        assert_eq!(
            m.to_hex(),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
        assert_ne!(Measurement::of_plugin(b"abd"), m);
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_strings() {
        let m = Measurement::of_plugin(b"plugin");
        assert_eq!(m.to_hex().parse::<Measurement>(), Ok(m));
        assert!("00".parse::<Measurement>().is_err());
        assert!("zz".repeat(48).parse::<Measurement>().is_err());
        assert!(format!("{}00", m.to_hex()).parse::<Measurement>().is_err());
    }

    #[test]
    fn replay_depends_on_order_and_content() {
        let a = Measurement::of_plugin(b"a");
        let b = Measurement::of_plugin(b"b");
        assert_eq!(replay_sha384([]), [0u8; 48]);
        assert_ne!(replay_sha384([&a, &b]), replay_sha384([&b, &a]));
        assert_ne!(replay_sha256([&a]), replay_sha256([&b]));
        let mut h = Sha384::new();
        h.update([0u8; 48]);
        h.update(a.as_bytes());
        assert_eq!(replay_sha384([&a]), <[u8; 48]>::from(h.finalize()));
    }
}
