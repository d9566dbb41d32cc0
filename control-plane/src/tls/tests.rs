use std::os::unix::fs::PermissionsExt as _;

use rcgen::{CertificateParams, DnType, KeyPair};

use super::devca::{DevCaFiles, ensure};
use super::peer::{MAX_SUBJECT_BYTES, peer_identity};
use super::{TlsError, read_certs, read_key, server_tls};
use crate::config::Config;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn dev_ca_is_made_once_with_private_keys_0600_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (files, created) = ensure(dir.path()).unwrap();
    assert!(created);
    assert_eq!(files, DevCaFiles::in_state_dir(dir.path()));
    assert_eq!(mode(&files.ca_key), 0o600);
    assert_eq!(mode(&files.server_key), 0o600);
    assert_eq!(mode(&dir.path().join("tls")), 0o700);
    let ca = std::fs::read(&files.ca_cert).unwrap();
    let (_, created) = ensure(dir.path()).unwrap();
    assert!(!created);
    assert_eq!(
        std::fs::read(&files.ca_cert).unwrap(),
        ca,
        "reused, not remade"
    );
    // The server certificate names the loopback host names.
    let der = read_certs(&files.server_cert).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(der[0].as_ref()).unwrap();
    let names: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
            x509_parser::extensions::GeneralName::IPAddress(ip) => hex::encode(ip),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        ["localhost", "7f000001", "00000000000000000000000000000001"]
    );
    assert!(read_key(&files.server_key).is_ok());
}

#[test]
fn a_partial_dev_ca_is_an_error_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = ensure(dir.path()).unwrap();
    std::fs::remove_file(&files.server_key).unwrap();
    let err = ensure(dir.path()).unwrap_err();
    assert_eq!(err.code(), "tls_dev_ca");
    assert!(!files.server_key.exists());
}

#[test]
fn server_config_from_dev_ca_or_configured_files() {
    let dir = tempfile::tempdir().unwrap();
    let tls = server_tls(&Config::default(), dir.path()).unwrap();
    assert!(tls.dev_ca_created);
    assert!(!tls.mutual);
    assert_eq!(tls.dev_ca, Some(dir.path().join("tls/ca.pem")));
    assert_eq!(tls.config.alpn_protocols, vec![b"http/1.1".to_vec()]);

    // Configured files: the dev CA is not made.
    let other = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.tls.cert = Some(dir.path().join("tls/server.pem"));
    config.tls.key = Some(dir.path().join("tls/server.key"));
    config.tls.client_ca = Some(dir.path().join("tls/ca.pem"));
    let tls = server_tls(&config, other.path()).unwrap();
    assert!(tls.dev_ca.is_none() && tls.mutual);
    assert!(!other.path().join("tls").exists());

    // A key that does not belong to the certificate is refused.
    config.tls.key = Some(dir.path().join("tls/ca.key"));
    let err = server_tls(&config, other.path()).unwrap_err();
    assert_eq!(err.code(), "tls_config", "{err}");
}

#[test]
fn unusable_pem_files_are_named_without_their_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(
        &path,
        "-----BEGIN NOTHING-----\nc2VjcmV0\n-----END NOTHING-----\n",
    )
    .unwrap();
    let err = read_key(&path).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }));
    assert!(err.to_string().contains("key.pem") && !err.to_string().contains("c2VjcmV0"));
    assert_eq!(read_certs(&path).unwrap_err().code(), "tls_pem");
    assert_eq!(
        read_certs(&dir.path().join("absent.pem"))
            .unwrap_err()
            .code(),
        "tls_io"
    );
}

#[test]
fn peer_is_the_certificate_fingerprint_and_subject_else_the_address() {
    let remote: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
    assert_eq!(peer_identity(None, remote), "127.0.0.1:5000");
    assert_eq!(peer_identity(Some(&[]), remote), "127.0.0.1:5000");
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "parent-1");
    let cert = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
    let peer = peer_identity(Some(std::slice::from_ref(cert.der())), remote);
    let fp = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cert.der().as_ref()));
    assert_eq!(peer, format!("cert sha256:{fp} CN=parent-1"));
    // A long multi-byte subject is cut at a character boundary.
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "é".repeat(100));
    let cert = params.self_signed(&KeyPair::generate().unwrap()).unwrap();
    let peer = peer_identity(Some(std::slice::from_ref(cert.der())), remote);
    assert!(
        peer.len() <= "cert sha256: ".len() + 64 + MAX_SUBJECT_BYTES,
        "{peer}"
    );
}
