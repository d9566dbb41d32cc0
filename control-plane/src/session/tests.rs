use enclet_control_plane_api::AttesterKind;

use super::SessionTable;
use crate::store::SessionId;

fn sid(b: u8) -> SessionId {
    SessionId([b; 16])
}

#[test]
fn lookups_distinguish_unknown_expired_and_live() {
    let t = SessionTable::new(4);
    t.insert(sid(1), AttesterKind::Nitro, 1_000, None, 0)
        .unwrap();
    let live = t.get(&sid(1), 999).unwrap();
    assert_eq!(live.attester, AttesterKind::Nitro);
    assert!(live.activated_ak.is_none());
    assert_eq!(t.get(&sid(1), 1_000).unwrap_err().code, "session_expired");
    assert_eq!(t.get(&sid(2), 0).unwrap_err().code, "unknown_session");
    t.remove(&sid(1));
    assert_eq!(t.get(&sid(1), 0).unwrap_err().code, "unknown_session");
}

#[test]
fn a_full_table_evicts_expired_sessions_but_never_live_ones() {
    let t = SessionTable::new(2);
    t.insert(sid(1), AttesterKind::Nitro, 100, None, 0).unwrap();
    t.insert(sid(2), AttesterKind::Nitro, 500, None, 0).unwrap();
    // Both live at 50: full.
    let err = t
        .insert(sid(3), AttesterKind::Nitro, 900, None, 50)
        .unwrap_err();
    assert_eq!(err.code, "overloaded");
    assert_eq!(crate::api::status_for(err.code).as_u16(), 503);
    // At 100 the first has expired and makes room.
    t.insert(sid(3), AttesterKind::Nitro, 900, None, 100)
        .unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t.get(&sid(1), 100).unwrap_err().code, "unknown_session");
    assert!(t.get(&sid(2), 100).is_ok());
    assert_eq!(t.evict_expired(500), 1);
    assert_eq!(t.len(), 1);
    assert!(!t.is_empty());
}

#[test]
fn activation_needs_a_live_tpm_session() {
    let t = SessionTable::new(4);
    t.insert(sid(1), AttesterKind::Nitro, 1_000, None, 0)
        .unwrap();
    assert_eq!(
        t.activate(&sid(1), b"answer", 10).unwrap_err().code,
        "wrong_attester"
    );
    assert_eq!(
        t.activate(&sid(1), b"answer", 1_000).unwrap_err().code,
        "session_expired"
    );
    assert_eq!(
        t.activate(&sid(9), b"answer", 10).unwrap_err().code,
        "unknown_session"
    );
}
