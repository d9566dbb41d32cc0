//! Each test's swtpm is private: its own state, CA and port, gone on drop.

use std::net::TcpStream;

use enclet_attestation::tpm::TpmError;
use enclet_attester::{AttesterConfig, AttesterError};
use enclet_swtpm::Swtpm;

use crate::support::{Fixture, tpm_err, verify_ek};

#[test]
fn an_ek_certificate_from_another_ca_is_rejected() {
    let ours = Fixture::new();
    let theirs = Swtpm::start().unwrap();
    assert_ne!(ours.swtpm.port(), theirs.port());
    assert_ne!(
        ours.swtpm.ca_cert_der().unwrap(),
        theirs.ca_cert_der().unwrap()
    );

    assert!(verify_ek(&ours.identity, &ours.swtpm).is_ok());
    let err = tpm_err(verify_ek(&ours.identity, &theirs));
    assert!(matches!(err, TpmError::EkChain(_)), "{err}");
}

#[test]
fn an_ek_certificate_for_another_tpm_does_not_certify_this_ek() {
    let a = Fixture::new();
    let b = Fixture::new();
    assert_ne!(a.identity.ek_public, b.identity.ek_public);
    let mut mixed = a.identity.clone();
    mixed.ek_certificate = b.identity.ek_certificate.clone();
    let err = tpm_err(verify_ek(&mixed, &b.swtpm));
    assert!(matches!(err, TpmError::EkChain(_)), "{err}");
}

#[test]
fn dropping_the_simulator_stops_it_and_removes_its_state() {
    let swtpm = Swtpm::start().unwrap();
    let (port, dir) = (swtpm.port(), swtpm.dir().to_path_buf());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(dir.join("tpm").is_dir());
    drop(swtpm);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists());
}

#[test]
fn opening_fails_cleanly_without_a_tpm_or_backend() {
    let swtpm = Swtpm::start().unwrap();
    let config = swtpm.attester_config();
    drop(swtpm);
    let err = enclet_attester::open(&config).unwrap_err();
    assert!(matches!(err, AttesterError::Device(_)), "{err}");
    // No NSM on this machine: the failure names the device node.
    if !std::path::Path::new(enclet_attester::nsm::NSM_DEVICE).exists() {
        let err = enclet_attester::open(&AttesterConfig::Nsm).unwrap_err();
        assert!(
            matches!(
                err,
                AttesterError::Nsm(enclet_attester::nsm::NsmError::NoDevice { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("/dev/nsm"), "{err}");
    }
}
