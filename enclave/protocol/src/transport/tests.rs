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
fn vsock_cid_and_port_bounds() {
    // Accepted edges: the host (2), a Nitro parent (3), an enclave (4), the
    // largest CID and port that are not the wildcard.
    for (s, cid, port) in [
        ("vsock:2:5005", Some(2), 5005),
        ("vsock:3:5005", Some(3), 5005),
        ("vsock:4:1", Some(4), 1),
        (
            "vsock:4294967294:4294967294",
            Some(4_294_967_294),
            4_294_967_294,
        ),
        ("vsock:4294967294", None, 4_294_967_294),
        ("vsock:007:05005", Some(7), 5005),
    ] {
        assert_eq!(
            s.parse::<Endpoint>().unwrap(),
            Endpoint::Vsock { cid, port },
            "{s}"
        );
    }
    // Their close variants, each refused for its own reason.
    for (bad, reason) in [
        ("vsock:0:5005", "reserved"),
        ("vsock:1:5005", "reserved"),
        ("vsock:4294967295:5005", "any CID"),
        ("vsock:4:4294967295", "any port"),
        ("vsock:4294967295", "any port"),
        ("vsock:4294967296:5005", "out of range"),
        ("vsock:4:4294967296", "out of range"),
        ("vsock:4:99999999999999999999", "out of range"),
        ("vsock:4:", "decimal"),
        ("vsock::5005", "decimal"),
        ("vsock:4:5005 ", "decimal"),
        ("vsock: 4:5005", "decimal"),
        ("vsock:4:5005/", "decimal"),
        ("vsock:0x10:5005", "decimal"),
        ("vsock:4:5e3", "decimal"),
        ("vsock:4:5005:", "decimal"),
    ] {
        let e = bad.parse::<Endpoint>().unwrap_err();
        assert_eq!(e.code(), "invalid_address", "{bad}");
        assert!(e.to_string().contains(reason), "{bad}: {e}");
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
