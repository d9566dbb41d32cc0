//! EK certificates: the chain to a configured CA and the binding to the EK.
//!
//! A TPM's endorsement key is trusted because its manufacturer (or, locally,
//! swtpm's CA) certified it. [`verify_ek_certificate`] checks, at a given time:
//!
//! 1. every certificate parses as DER X.509 with no trailing bytes;
//! 2. the EK certificate, then each intermediate, is issued (names match) and
//!    signed by the next certificate up, ending at the configured CA;
//! 3. every issuer in the chain is a CA (basicConstraints `cA`);
//! 4. every certificate, the CA included, is valid at `now`;
//! 5. the EK certificate's public key is the EK public area's key.
//!
//! Signatures: RSA PKCS#1 v1.5 with SHA-256/384/512 and ECDSA P-256/P-384.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_NIST_EC_P384, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA,
    OID_PKCS1_SHA512WITHRSA, OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey as SpkiKey;

use crate::{Error, UnixTime, Verified};

use super::TpmError;
use super::public::{PublicKey, TpmPublic};

/// Most intermediates accepted between an EK certificate and the CA.
const MAX_INTERMEDIATES: usize = 4;

/// A certified endorsement key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EkIdentity {
    #[serde(skip)]
    ek_public: Vec<u8>,
    /// The EK's name (`nameAlg || H(TPMT_PUBLIC)`), hex.
    pub ek_name: String,
    /// The EK certificate's subject (often empty for EK certificates).
    pub subject: String,
    /// The EK certificate's issuer.
    pub issuer: String,
    /// The EK certificate's serial number, hex.
    pub serial: String,
    /// The EK certificate's expiry, seconds since the epoch.
    pub not_after: i64,
}

impl EkIdentity {
    /// The EK's `TPMT_PUBLIC` bytes.
    #[must_use]
    pub fn ek_public(&self) -> &[u8] {
        &self.ek_public
    }
}

/// Verifies an EK certificate against the configured CA and the EK public area.
///
/// `intermediates` are ordered from the one that issued the EK certificate up
/// to the one the CA issued (empty when the CA signs EK certificates directly).
///
/// # Errors
/// [`TpmError::EkChain`] naming the certificate and check that failed; a parse
/// error if `ek_public` is not a public area.
pub fn verify_ek_certificate(
    ek_cert_der: &[u8],
    intermediates: &[&[u8]],
    ca_der: &[u8],
    ek_public: &[u8],
    now: UnixTime,
) -> Result<Verified<EkIdentity>, Error> {
    let ek = TpmPublic::parse(ek_public)?;
    if intermediates.len() > MAX_INTERMEDIATES {
        return Err(chain_err("too many intermediate certificates").into());
    }
    // Step 1: parse.
    let leaf = parse(ek_cert_der, "EK certificate")?;
    let mut chain = vec![("EK certificate", leaf)];
    for der in intermediates {
        chain.push((
            "intermediate certificate",
            parse(der, "intermediate certificate")?,
        ));
    }
    chain.push(("CA certificate", parse(ca_der, "CA certificate")?));
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    // Steps 2-4: issuance, signatures, CA flags, validity.
    for pair in chain.windows(2) {
        if let [(child_role, child), (parent_role, parent)] = pair {
            check_issued(child_role, child, parent_role, parent)?;
        }
    }
    for (role, cert) in &chain {
        let v = cert.validity();
        if now < v.not_before.timestamp() || now > v.not_after.timestamp() {
            return Err(chain_err(format!(
                "{role} is not valid at {now} (valid {} to {})",
                v.not_before, v.not_after
            ))
            .into());
        }
    }
    // Step 5: the certified key is the EK, in an end-entity certificate.
    let (_, leaf) = chain.first().ok_or_else(|| chain_err("empty chain"))?;
    if leaf.is_ca() {
        return Err(chain_err("EK certificate is a CA certificate").into());
    }
    check_key(leaf, &ek)?;
    Ok(Verified::new(EkIdentity {
        ek_public: ek.tpmt_bytes().to_vec(),
        ek_name: hex::encode(ek.name()),
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        serial: hex::encode(leaf.raw_serial()),
        not_after: leaf.validity().not_after.timestamp(),
    }))
}

fn chain_err(msg: impl Into<String>) -> TpmError {
    TpmError::EkChain(msg.into())
}

fn parse<'a>(der: &'a [u8], role: &str) -> Result<X509Certificate<'a>, TpmError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(chain_err(format!(
            "{role} has trailing bytes after its DER"
        ))),
        Err(e) => Err(chain_err(format!("{role} is not DER X.509: {e}"))),
    }
}

fn check_issued(
    child_role: &str,
    child: &X509Certificate<'_>,
    parent_role: &str,
    parent: &X509Certificate<'_>,
) -> Result<(), TpmError> {
    if child.issuer().as_raw() != parent.subject().as_raw() {
        return Err(chain_err(format!(
            "{child_role} was issued by \"{}\", not by the {parent_role} \"{}\"",
            child.issuer(),
            parent.subject()
        )));
    }
    if !parent.is_ca() {
        return Err(chain_err(format!("{parent_role} is not a CA certificate")));
    }
    match parent.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => {
            return Err(chain_err(format!(
                "{parent_role}'s keyUsage does not allow keyCertSign"
            )));
        }
        Ok(_) => {}
        Err(_) => {
            return Err(chain_err(format!(
                "{parent_role} has a malformed keyUsage extension"
            )));
        }
    }
    let alg = signature_alg(child, parent).ok_or_else(|| {
        chain_err(format!(
            "{child_role}'s signature algorithm is not supported"
        ))
    })?;
    UnparsedPublicKey::new(alg, parent.public_key().subject_public_key.data.as_ref())
        .verify(
            child.tbs_certificate.as_ref(),
            child.signature_value.data.as_ref(),
        )
        .map_err(|_| {
            chain_err(format!(
                "{child_role}'s signature does not verify with the {parent_role}'s key"
            ))
        })
}

fn signature_alg(
    child: &X509Certificate<'_>,
    parent: &X509Certificate<'_>,
) -> Option<&'static dyn VerificationAlgorithm> {
    let oid = &child.signature_algorithm.algorithm;
    let curve = parent
        .public_key()
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    let p256 = curve.as_ref() == Some(&OID_EC_P256);
    let p384 = curve.as_ref() == Some(&OID_NIST_EC_P384);
    if *oid == OID_PKCS1_SHA256WITHRSA {
        Some(&signature::RSA_PKCS1_2048_8192_SHA256)
    } else if *oid == OID_PKCS1_SHA384WITHRSA {
        Some(&signature::RSA_PKCS1_2048_8192_SHA384)
    } else if *oid == OID_PKCS1_SHA512WITHRSA {
        Some(&signature::RSA_PKCS1_2048_8192_SHA512)
    } else if *oid == OID_SIG_ECDSA_WITH_SHA256 && p256 {
        Some(&signature::ECDSA_P256_SHA256_ASN1)
    } else if *oid == OID_SIG_ECDSA_WITH_SHA256 && p384 {
        Some(&signature::ECDSA_P384_SHA256_ASN1)
    } else if *oid == OID_SIG_ECDSA_WITH_SHA384 && p256 {
        Some(&signature::ECDSA_P256_SHA384_ASN1)
    } else if *oid == OID_SIG_ECDSA_WITH_SHA384 && p384 {
        Some(&signature::ECDSA_P384_SHA384_ASN1)
    } else {
        None
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    b.get(b.iter().take_while(|x| **x == 0).count()..)
        .unwrap_or(&[])
}

fn check_key(leaf: &X509Certificate<'_>, ek: &TpmPublic) -> Result<(), TpmError> {
    let spki = leaf
        .public_key()
        .parsed()
        .map_err(|e| chain_err(format!("EK certificate's public key does not parse: {e}")))?;
    let same = match (spki, ek.key()) {
        (SpkiKey::RSA(rsa), PublicKey::Rsa { modulus, exponent }) => {
            strip_zeros(rsa.modulus) == strip_zeros(modulus)
                && strip_zeros(rsa.exponent) == strip_zeros(&exponent.to_be_bytes())
        }
        (SpkiKey::EC(point), PublicKey::Ecc { x, y, .. }) => {
            point.data() == [&[0x04][..], x, y].concat().as_slice()
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(chain_err(
            "the EK certificate certifies a different key than the EK public area",
        ))
    }
}

#[cfg(test)]
impl EkIdentity {
    /// An identity for an EK whose certificate a test did not check.
    pub(crate) fn for_tests(ek_public: &[u8]) -> Self {
        Self {
            ek_public: ek_public.to_vec(),
            ek_name: String::new(),
            subject: String::new(),
            issuer: String::new(),
            serial: String::new(),
            not_after: 0,
        }
    }
}
