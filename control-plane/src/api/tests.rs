use std::os::unix::fs::PermissionsExt as _;

use axum::http::HeaderValue;

use super::auth::TOKEN_FILE;
use super::{AdminToken, ApiError, status_for};

#[test]
fn every_documented_code_has_its_status() {
    let table = [
        ("invalid_request", 400),
        ("body_too_large", 413),
        ("unauthorized", 401),
        ("unknown_session", 404),
        ("session_expired", 403),
        ("wrong_attester", 400),
        ("ek_certificate_rejected", 403),
        ("ak_not_activated", 403),
        ("nonce_unknown", 403),
        ("nonce_expired", 403),
        ("nonce_replayed", 403),
        ("evidence_rejected", 403),
        ("event_log_mismatch", 403),
        ("event_log_unbound", 403),
        ("nonce_mismatch", 403),
        ("image_not_allowed", 403),
        ("debug_enclave", 403),
        ("policy_denied", 403),
        ("unknown_secret", 404),
        ("store_unavailable", 503),
        ("internal", 500),
        ("overloaded", 503),
        ("request_timeout", 408),
        ("not_found", 404),
        ("method_not_allowed", 405),
    ];
    for (code, status) in table {
        assert_eq!(status_for(code).as_u16(), status, "{code}");
    }
    assert_eq!(status_for("made_up").as_u16(), 500);
}

#[test]
fn store_failures_map_to_their_codes() {
    use crate::store::StoreError;
    let e = ApiError::from(StoreError::Unavailable("disk full".to_owned()));
    assert_eq!(e.code, "store_unavailable");
    assert!(!e.message.contains("disk full"));
    assert_eq!(
        ApiError::from(StoreError::InvalidSecret("name".to_owned())).code,
        "invalid_request"
    );
    assert_eq!(
        ApiError::from(StoreError::Corrupt("row".to_owned())).code,
        "internal"
    );
}

#[test]
fn the_token_is_made_0600_reused_and_checked_in_constant_time() {
    let dir = tempfile::tempdir().unwrap();
    let (token, path, created) = AdminToken::load_or_create(dir.path()).unwrap();
    assert!(created);
    assert_eq!(path, dir.path().join(TOKEN_FILE));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(token.expose().len(), 64);
    assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
    let (again, _, created) = AdminToken::load_or_create(dir.path()).unwrap();
    assert!(!created);
    assert_eq!(again.expose(), token.expose());

    let header = |v: String| HeaderValue::from_str(&v).unwrap();
    assert!(
        token
            .check(Some(&header(format!("Bearer {}", token.expose()))))
            .is_ok()
    );
    for bad in [
        None,
        Some(header(token.expose().to_owned())),
        Some(header(format!("bearer {}", token.expose()))),
        Some(header(format!("Bearer {}x", token.expose()))),
        Some(header("Bearer ".to_owned())),
    ] {
        assert_eq!(token.check(bad.as_ref()).unwrap_err().code, "unauthorized");
    }
}

#[test]
fn a_token_file_others_can_read_or_a_malformed_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, _) = AdminToken::load_or_create(dir.path()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = AdminToken::load_or_create(dir.path()).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, "not-a-token\n").unwrap();
    let err = AdminToken::load_or_create(dir.path()).unwrap_err();
    assert!(!err.to_string().contains("not-a-token"), "{err}");
}
