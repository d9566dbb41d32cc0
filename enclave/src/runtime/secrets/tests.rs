//! The table on its own: install, replace, expiry, rows per plugin.

use std::collections::BTreeMap;

use super::*;
use crate::clock::ManualClock;
use crate::runtime::Limits;

const NOW: u64 = 1_800_000_000;

fn plugin(n: u8) -> Measurement {
    Measurement::of_plugin(&[n])
}

fn loaded(plugins: &[Measurement]) -> Vec<PluginInfo> {
    plugins
        .iter()
        .map(|m| PluginInfo {
            name: "p".to_owned(),
            measurement: *m,
            limits: Limits::default(),
            size_bytes: 1,
        })
        .collect()
}

fn opened(expires_at: u64, entries: &[(Measurement, &str, &[u8])]) -> OpenedBundle {
    let mut secrets: BTreeMap<Measurement, BTreeMap<String, SecretBytes>> = BTreeMap::new();
    for (m, name, value) in entries {
        secrets
            .entry(*m)
            .or_default()
            .insert((*name).to_owned(), SecretBytes::new(value.to_vec()));
    }
    OpenedBundle {
        session: [3; 16],
        expires_at,
        secrets,
    }
}

fn read(secrets: &Secrets, m: Measurement, name: &str) -> Result<Vec<u8>, LookupError> {
    secrets.view(m, None).get(name).map(|v| v.expose().to_vec())
}

fn table() -> (Secrets, Arc<ManualClock>) {
    let clock = ManualClock::at(NOW);
    (
        Secrets::new(clock.clone(), CapabilityGate::InsecureUngated),
        clock,
    )
}

#[test]
fn each_plugin_reads_its_own_row_only() {
    let (secrets, _) = table();
    let all = loaded(&[plugin(1), plugin(2), plugin(3)]);
    assert_eq!(read(&secrets, plugin(1), "k"), Err(LookupError::NotGranted));
    let installed = secrets
        .install(
            opened(
                NOW + 10,
                &[
                    (plugin(2), "z", b"2z"),
                    (plugin(2), "a", b"2a"),
                    (plugin(1), "k", b"1k"),
                ],
            ),
            Vec::new(),
            &[],
            &all,
        )
        .unwrap();
    // Load order, names sorted, plugins without secrets left out.
    assert_eq!(
        installed,
        Installed {
            expires_at: NOW + 10,
            plugins: vec![
                Grant {
                    measurement: plugin(1),
                    names: vec!["k".to_owned()]
                },
                Grant {
                    measurement: plugin(2),
                    names: vec!["a".to_owned(), "z".to_owned()]
                },
            ],
        }
    );
    assert_eq!(read(&secrets, plugin(1), "k").unwrap(), b"1k");
    assert_eq!(read(&secrets, plugin(2), "a").unwrap(), b"2a");
    // Another plugin's name, a name nobody has, a plugin with nothing.
    assert_eq!(read(&secrets, plugin(1), "a"), Err(LookupError::NotGranted));
    assert_eq!(read(&secrets, plugin(2), "k"), Err(LookupError::NotGranted));
    assert_eq!(
        read(&secrets, plugin(1), "nope"),
        Err(LookupError::NotGranted)
    );
    assert_eq!(read(&secrets, plugin(3), "k"), Err(LookupError::NotGranted));
}

#[test]
fn expiry_is_judged_by_the_clock_at_install_and_at_lookup() {
    let (secrets, clock) = table();
    let all = loaded(&[plugin(1)]);
    assert_eq!(
        secrets.install(
            opened(NOW, &[(plugin(1), "k", b"v")]),
            Vec::new(),
            &[],
            &all
        ),
        Err(ReleaseError::Expired {
            expires_at: NOW,
            now: NOW
        })
    );
    assert_eq!(read(&secrets, plugin(1), "k"), Err(LookupError::NotGranted));
    secrets
        .install(
            opened(NOW + 1, &[(plugin(1), "k", b"v")]),
            Vec::new(),
            &[],
            &all,
        )
        .unwrap();
    // A view taken before expiry stops serving at expiry too.
    let early = secrets.view(plugin(1), None);
    assert_eq!(early.get("k").unwrap().expose(), b"v");
    clock.set(NOW + 1);
    assert_eq!(early.get("k"), Err(LookupError::Expired));
    assert_eq!(read(&secrets, plugin(1), "k"), Err(LookupError::Expired));
    // A name it never had is still not-granted, not expired.
    assert_eq!(
        read(&secrets, plugin(1), "other"),
        Err(LookupError::NotGranted)
    );
}

#[test]
fn after_expiry_the_table_keeps_names_but_drops_values() {
    let (secrets, clock) = table();
    secrets
        .install(
            opened(NOW + 5, &[(plugin(1), "k", b"v")]),
            Vec::new(),
            &[],
            &loaded(&[plugin(1)]),
        )
        .unwrap();
    assert!(format!("{:?}", secrets.snapshot()).contains("holds_values: true"));
    clock.set(NOW + 5);
    let shown = format!("{:?}", secrets.snapshot());
    assert!(shown.contains("holds_values: false"), "{shown}");
    assert!(shown.contains("\"k\""), "{shown}");
    assert_eq!(read(&secrets, plugin(1), "k"), Err(LookupError::Expired));
}

#[test]
fn a_release_replaces_the_whole_table_and_a_refused_one_changes_nothing() {
    let (secrets, _) = table();
    let all = loaded(&[plugin(1)]);
    secrets
        .install(
            opened(NOW + 10, &[(plugin(1), "old", b"o")]),
            Vec::new(),
            &[],
            &all,
        )
        .unwrap();
    let refused = secrets.install(
        opened(
            NOW + 10,
            &[(plugin(1), "new", b"n"), (plugin(9), "x", b"x")],
        ),
        Vec::new(),
        &[],
        &all,
    );
    assert_eq!(
        refused,
        Err(ReleaseError::UnknownPlugin {
            measurement: plugin(9).to_hex()
        })
    );
    assert_eq!(refused.unwrap_err().code(), "unknown_plugin");
    assert_eq!(read(&secrets, plugin(1), "old").unwrap(), b"o");
    assert_eq!(
        read(&secrets, plugin(1), "new"),
        Err(LookupError::NotGranted)
    );
    secrets
        .install(
            opened(NOW + 10, &[(plugin(1), "new", b"n")]),
            Vec::new(),
            &[],
            &all,
        )
        .unwrap();
    assert_eq!(read(&secrets, plugin(1), "new").unwrap(), b"n");
    assert_eq!(
        read(&secrets, plugin(1), "old"),
        Err(LookupError::NotGranted)
    );
    // An empty release revokes everything.
    let empty = secrets
        .install(opened(NOW + 10, &[]), Vec::new(), &[], &all)
        .unwrap();
    assert!(empty.plugins.is_empty());
    assert_eq!(
        read(&secrets, plugin(1), "new"),
        Err(LookupError::NotGranted)
    );
}

#[test]
fn debug_shows_names_never_values() {
    let (secrets, _) = table();
    secrets
        .install(
            opened(NOW + 10, &[(plugin(1), "name-shown", b"value-hidden")]),
            Vec::new(),
            &[],
            &loaded(&[plugin(1)]),
        )
        .unwrap();
    let shown = format!("{secrets:?} {:?}", secrets.view(plugin(1), None));
    assert!(shown.contains("name-shown"), "{shown}");
    assert!(!shown.contains("value-hidden"), "{shown}");
    assert!(!shown.contains(&hex::encode(b"value-hidden")), "{shown}");
}
