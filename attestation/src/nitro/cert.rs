//! One X.509 certificate of the chain: parsing, its issuer's signature over it,
//! and the few facts the chain checks need, in an owned [`CertInfo`] that the
//! [`super::CertCache`] can keep.

use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, UnparsedPublicKey,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_SIG_ECDSA_WITH_SHA256,
    OID_SIG_ECDSA_WITH_SHA384, OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_KEY_USAGE,
};
use x509_parser::prelude::FromDer;

use super::error::ChainError;

/// The elliptic curves we accept for certificate keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

/// An EC public key: its curve and uncompressed point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcKey {
    pub(crate) curve: Curve,
    pub(crate) point: Vec<u8>,
}

/// The basicConstraints extension, reduced to what the chain checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaStatus {
    /// Absent, or cA = false.
    NotCa,
    /// cA = true, with an optional path length constraint.
    Ca { path_len: Option<u32> },
}

/// What the chain checks need to know about one certificate, once its
/// issuer's signature over it has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    pub(crate) subject: String,
    pub(crate) subject_raw: Vec<u8>,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) key: EcKey,
    /// What basicConstraints says.
    pub(crate) ca: CaStatus,
    pub(crate) key_cert_sign: bool,
    pub(crate) digital_signature: bool,
    pub(crate) has_key_usage: bool,
}

/// A parsed certificate that still borrows its DER.
pub(crate) struct Parsed<'a> {
    pub(crate) cert: X509Certificate<'a>,
}

impl<'a> Parsed<'a> {
    /// Parses DER, refusing trailing bytes.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, ChainError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| ChainError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(ChainError::Malformed(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        Ok(Self { cert })
    }

    /// The subject, for error messages.
    pub(crate) fn subject(&self) -> String {
        self.cert.subject().to_string()
    }

    /// The raw DER of the issuer name.
    pub(crate) fn issuer_raw(&self) -> &[u8] {
        self.cert.issuer().as_raw()
    }

    /// Checks `issuer_key`'s signature over this certificate's TBS bytes.
    pub(crate) fn verify_signed_by(&self, issuer_key: &EcKey) -> Result<(), ChainError> {
        let outer = &self.cert.signature_algorithm;
        if outer != &self.cert.tbs_certificate.signature {
            return Err(ChainError::Algorithm(
                "inner and outer signature algorithms differ".into(),
            ));
        }
        if outer.parameters.is_some() {
            return Err(ChainError::Algorithm(
                "ECDSA signature algorithm with parameters".into(),
            ));
        }
        let alg: &'static signature::EcdsaVerificationAlgorithm =
            match (&outer.algorithm, issuer_key.curve) {
                (oid, Curve::P384) if *oid == OID_SIG_ECDSA_WITH_SHA384 => &ECDSA_P384_SHA384_ASN1,
                (oid, Curve::P256) if *oid == OID_SIG_ECDSA_WITH_SHA256 => &ECDSA_P256_SHA256_ASN1,
                (oid, curve) => {
                    return Err(ChainError::Algorithm(format!(
                        "signature algorithm {oid} with a {curve:?} issuer key"
                    )));
                }
            };
        UnparsedPublicKey::new(alg, &issuer_key.point)
            .verify(
                self.cert.tbs_certificate.as_ref(),
                &self.cert.signature_value.data,
            )
            .map_err(|_| ChainError::Signature)
    }

    /// Extracts the facts the chain checks need.
    pub(crate) fn info(&self) -> Result<CertInfo, ChainError> {
        let tbs = &self.cert.tbs_certificate;
        for ext in tbs.extensions() {
            if ext.critical
                && ext.oid != OID_X509_EXT_BASIC_CONSTRAINTS
                && ext.oid != OID_X509_EXT_KEY_USAGE
            {
                return Err(ChainError::CriticalExtension(ext.oid.to_id_string()));
            }
        }
        let bc = tbs
            .basic_constraints()
            .map_err(|e| ChainError::Malformed(format!("basicConstraints: {e}")))?;
        let ku = tbs
            .key_usage()
            .map_err(|e| ChainError::Malformed(format!("keyUsage: {e}")))?;
        let validity = tbs.validity();
        Ok(CertInfo {
            subject: self.subject(),
            subject_raw: tbs.subject().as_raw().to_vec(),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            key: ec_key(&self.cert)?,
            ca: match bc {
                Some(b) if b.value.ca => CaStatus::Ca {
                    path_len: b.value.path_len_constraint,
                },
                _ => CaStatus::NotCa,
            },
            key_cert_sign: ku.as_ref().is_some_and(|k| k.value.key_cert_sign()),
            digital_signature: ku.as_ref().is_some_and(|k| k.value.digital_signature()),
            has_key_usage: ku.is_some(),
        })
    }
}

/// The subject key, which must be an EC key on P-256 or P-384.
fn ec_key(cert: &X509Certificate<'_>) -> Result<EcKey, ChainError> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        return Err(ChainError::Algorithm(format!(
            "public key algorithm {}",
            spki.algorithm.algorithm
        )));
    }
    let curve_oid = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .ok_or_else(|| ChainError::Algorithm("EC key without a named curve".into()))?;
    let curve = if curve_oid == OID_NIST_EC_P384 {
        Curve::P384
    } else if curve_oid == OID_EC_P256 {
        Curve::P256
    } else {
        return Err(ChainError::Algorithm(format!("EC curve {curve_oid}")));
    };
    Ok(EcKey {
        curve,
        point: spki.subject_public_key.data.to_vec(),
    })
}
