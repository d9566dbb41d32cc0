use std::path::PathBuf;

use super::{Endpoint, VsockTransport};

#[test]
fn parses_unix_and_vsock_addresses() {
    assert_eq!(
        "unix:/tmp/e.sock".parse::<Endpoint>().unwrap(),
        Endpoint::Unix(PathBuf::from("/tmp/e.sock"))
    );
    assert_eq!(
        "vsock:16:5005".parse::<Endpoint>().unwrap(),
        Endpoint::Vsock {
            cid: Some(16),
            port: 5005
        }
    );
    assert_eq!(
        "vsock:5005".parse::<Endpoint>().unwrap(),
        Endpoint::Vsock {
            cid: None,
            port: 5005
        }
    );
}

#[test]
fn rejects_malformed_addresses() {
    for bad in [
        "",
        "unix:",
        "/tmp/e.sock",
        "tcp:127.0.0.1:1",
        "vsock:",
        "vsock:a:1",
        "vsock:1:",
        "vsock:1:2:3",
        "vsock:-1",
        "vsock:+5",
        "vsock:4294967296",
        "VSOCK:5",
    ] {
        let e = bad.parse::<Endpoint>().unwrap_err();
        assert_eq!(e.code(), "invalid_address", "{bad}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
}

#[test]
fn display_round_trips() {
    for s in ["unix:/run/enclet/e.sock", "vsock:3:5005", "vsock:7000"] {
        assert_eq!(s.parse::<Endpoint>().unwrap().to_string(), s);
    }
}

#[test]
fn vsock_addresses_without_dialling() {
    let any = VsockTransport::new(None, 5005);
    assert_eq!(any.listen_addr().cid(), vsock::VMADDR_CID_ANY);
    assert_eq!(any.listen_addr().port(), 5005);
    assert!(any.connect_addr().is_err(), "vsock:PORT cannot be dialled");
    let host = VsockTransport::new(Some(16), 9);
    assert_eq!(host.connect_addr().unwrap().cid(), 16);
    assert_eq!(host.connect_addr().unwrap().port(), 9);
}
