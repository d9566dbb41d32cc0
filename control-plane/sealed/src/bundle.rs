//! The bundle, its sealing context, seal and open.

use std::collections::BTreeMap;

use enclet_attestation::Measurement;
use enclet_attestation::measurement::MEASUREMENT_LEN;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::key::{Kem, public_key};
use crate::{Error, PUBLIC_KEY_LEN, SESSION_LEN};

/// Largest encoded bundle, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// Most secrets in one bundle.
pub const MAX_SECRETS: usize = 256;
/// Longest secret name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Largest secret value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// AES-256-GCM tag length.
const TAG_LEN: usize = 16;
/// Bundle format version.
const VERSION: u8 = 1;
/// CBOR nesting bound while decoding.
const RECURSION_LIMIT: usize = 8;
/// Domain separation of the sealing context.
const LABEL: &[u8] = b"enclet/sealed-secret/v1\0";

/// Secrets sealed to one enclave key in one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBundle {
    /// The control plane's session.
    pub session: [u8; SESSION_LEN],
    /// When every secret in it expires, Unix seconds.
    pub expires_at: u64,
    /// The sealed values.
    pub secrets: Vec<SealedSecret>,
}

/// One sealed value (the plugin and name are in the clear; the value is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The plugin it is for.
    pub plugin: Measurement,
    /// The secret's name.
    pub name: String,
    pub(crate) enc: [u8; PUBLIC_KEY_LEN],
    pub(crate) ciphertext: Vec<u8>,
}

/// A secret's plaintext: zeroed on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps a plaintext value.
    #[must_use]
    pub fn new(value: Vec<u8>) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The plaintext. Callers must not log or persist it.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<redacted {} bytes>)", self.0.len())
    }
}

/// An opened bundle: each plugin's secrets by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedBundle {
    /// The session it was sealed in.
    pub session: [u8; SESSION_LEN],
    /// When the secrets expire, Unix seconds.
    pub expires_at: u64,
    /// Plugin → name → value.
    pub secrets: BTreeMap<Measurement, BTreeMap<String, SecretBytes>>,
}

/// The sealing context of one value: HPKE `info` and AEAD associated data.
///
/// `LABEL || session || plugin || expires_at (u64 BE) || name length (u32 BE) || name`.
#[must_use]
pub fn context(
    session: &[u8; SESSION_LEN],
    plugin: &Measurement,
    expires_at: u64,
    name: &str,
) -> Vec<u8> {
    let name_len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(LABEL.len() + SESSION_LEN + MEASUREMENT_LEN + 12 + name.len());
    out.extend_from_slice(LABEL);
    out.extend_from_slice(session);
    out.extend_from_slice(plugin.as_bytes());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(&name_len.to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out
}

/// Seals `value` for `plugin` under `name` to the enclave key `recipient`.
///
/// # Errors
/// [`Error::InvalidPublicKey`], [`Error::InvalidName`], [`Error::TooLarge`] for
/// an empty or oversized value, [`Error::Seal`] if HPKE fails.
pub fn seal(
    recipient: &[u8],
    session: &[u8; SESSION_LEN],
    expires_at: u64,
    plugin: &Measurement,
    name: &str,
    value: &[u8],
) -> Result<SealedSecret, Error> {
    let pk = public_key(recipient)?;
    check_name(name)?;
    if value.is_empty() || value.len() > MAX_VALUE_BYTES {
        return Err(Error::TooLarge {
            what: "secret value",
            len: value.len(),
            max: MAX_VALUE_BYTES,
        });
    }
    let ctx = context(session, plugin, expires_at, name);
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        &ctx,
        value,
        &ctx,
    )
    .map_err(|e| Error::Seal(e.to_string()))?;
    let enc = enc
        .to_bytes()
        .as_slice()
        .try_into()
        .map_err(|_| Error::Seal("encapsulated key is not 32 bytes".to_owned()))?;
    Ok(SealedSecret {
        plugin: *plugin,
        name: name.to_owned(),
        enc,
        ciphertext,
    })
}

pub(crate) fn open_bundle(
    private: &<Kem as hpke::Kem>::PrivateKey,
    bundle: &SealedBundle,
) -> Result<OpenedBundle, Error> {
    let mut secrets: BTreeMap<Measurement, BTreeMap<String, SecretBytes>> = BTreeMap::new();
    for s in &bundle.secrets {
        let failed = || Error::Open {
            plugin: s.plugin.to_hex(),
            name: s.name.clone(),
        };
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&s.enc).map_err(|_| failed())?;
        let ctx = context(&bundle.session, &s.plugin, bundle.expires_at, &s.name);
        let value = hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            private,
            &enc,
            &ctx,
            &s.ciphertext,
            &ctx,
        )
        .map_err(|_| failed())?;
        let slot = secrets.entry(s.plugin).or_default();
        if slot
            .insert(s.name.clone(), SecretBytes::new(value))
            .is_some()
        {
            return Err(Error::Duplicate {
                plugin: s.plugin.to_hex(),
                name: s.name.clone(),
            });
        }
    }
    Ok(OpenedBundle {
        session: bundle.session,
        expires_at: bundle.expires_at,
        secrets,
    })
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(
            name.chars().take(MAX_NAME_BYTES).collect(),
        ))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBundle {
    v: u8,
    #[serde(with = "serde_bytes")]
    session: Vec<u8>,
    expires_at: u64,
    secrets: Vec<WireSecret>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSecret {
    #[serde(with = "serde_bytes")]
    plugin: Vec<u8>,
    name: String,
    #[serde(with = "serde_bytes")]
    enc: Vec<u8>,
    #[serde(with = "serde_bytes")]
    ct: Vec<u8>,
}

impl SealedBundle {
    /// A bundle of these sealed values.
    ///
    /// # Errors
    /// [`Error::TooLarge`] over [`MAX_SECRETS`] values.
    pub fn new(
        session: [u8; SESSION_LEN],
        expires_at: u64,
        secrets: Vec<SealedSecret>,
    ) -> Result<Self, Error> {
        if secrets.len() > MAX_SECRETS {
            return Err(Error::TooLarge {
                what: "secret count",
                len: secrets.len(),
                max: MAX_SECRETS,
            });
        }
        Ok(Self {
            session,
            expires_at,
            secrets,
        })
    }

    /// The CBOR encoding.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = WireBundle {
            v: VERSION,
            session: self.session.to_vec(),
            expires_at: self.expires_at,
            secrets: self
                .secrets
                .iter()
                .map(|s| WireSecret {
                    plugin: s.plugin.as_bytes().to_vec(),
                    name: s.name.clone(),
                    enc: s.enc.to_vec(),
                    ct: s.ciphertext.clone(),
                })
                .collect(),
        };
        let mut out = Vec::new();
        // Writing CBOR into a Vec cannot fail for these plain types.
        let _ = ciborium::into_writer(&wire, &mut out);
        out
    }

    /// Parses an untrusted encoding, checking every bound.
    ///
    /// # Errors
    /// [`Error::TooLarge`] or [`Error::Malformed`] naming what was wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(Error::TooLarge {
                what: "bundle",
                len: bytes.len(),
                max: MAX_BUNDLE_BYTES,
            });
        }
        let mut rest = bytes;
        let wire: WireBundle =
            ciborium::de::from_reader_with_recursion_limit(&mut rest, RECURSION_LIMIT)
                .map_err(|e| Error::Malformed(format!("not a bundle: {e}")))?;
        if !rest.is_empty() {
            return Err(Error::Malformed(format!("{} trailing bytes", rest.len())));
        }
        if wire.v != VERSION {
            return Err(Error::Malformed(format!(
                "version {} (expected {VERSION})",
                wire.v
            )));
        }
        let session = wire.session.as_slice().try_into().map_err(|_| {
            Error::Malformed(format!(
                "session is {} bytes, not {SESSION_LEN}",
                wire.session.len()
            ))
        })?;
        let secrets = wire
            .secrets
            .into_iter()
            .map(secret_from_wire)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(session, wire.expires_at, secrets)
    }
}

fn secret_from_wire(w: WireSecret) -> Result<SealedSecret, Error> {
    let plugin: [u8; MEASUREMENT_LEN] =
        w.plugin.as_slice().try_into().map_err(|_| {
            Error::Malformed(format!("plugin measurement is {} bytes", w.plugin.len()))
        })?;
    check_name(&w.name)?;
    let enc = w
        .enc
        .as_slice()
        .try_into()
        .map_err(|_| Error::Malformed(format!("encapsulated key is {} bytes", w.enc.len())))?;
    if w.ct.len() < TAG_LEN + 1 || w.ct.len() > MAX_VALUE_BYTES + TAG_LEN {
        return Err(Error::Malformed(format!(
            "ciphertext is {} bytes",
            w.ct.len()
        )));
    }
    Ok(SealedSecret {
        plugin: Measurement::from_bytes(plugin),
        name: w.name,
        enc,
        ciphertext: w.ct,
    })
}
