use std::path::{Path, PathBuf};

use super::{CONFIG_FILE, Config, ConfigError, DEFAULT_TOML};

#[test]
fn the_default_file_is_the_default_config() {
    assert_eq!(Config::from_toml(DEFAULT_TOML).unwrap(), Config::default());
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
    // The example documents every optional setting: uncommenting them parses.
    let uncommented: String = DEFAULT_TOML
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") && !rest.starts_with("How") => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let all = Config::from_toml(&uncommented).unwrap();
    assert_eq!(all.tls.client_ca, Some(PathBuf::from("parents-ca.pem")));
    assert_eq!(all.policy.data, Some(PathBuf::from("data.json")));
    assert_eq!(all.insecure_fixed_nitro_time_for_tests, Some(1_700_000_000));
    assert_eq!(
        all.insecure_nitro_root_for_tests,
        Some(PathBuf::from("test-nitro-root.pem"))
    );
}

#[test]
fn settings_are_read() {
    let c = Config::from_toml(
        "listen = \"127.0.0.1:9\"\nnonce_ttl_secs = 5\n[tls]\ncert = \"a\"\nkey = \"b\"\n",
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9);
    assert_eq!(c.nonce_ttl_secs, 5);
    assert_eq!(c.tls.key, Some(PathBuf::from("b")));
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    let err = Config::from_toml("nonce_ttl = 5\n").unwrap_err();
    assert_eq!(err.code(), "config_parse");
    assert!(err.to_string().contains("nonce_ttl"), "{err}");
    let err = Config::from_toml("[tls]\nclient-ca = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("client-ca"), "{err}");
    let err = Config::from_toml("[tpmm]\n").unwrap_err();
    assert!(err.to_string().contains("tpmm"), "{err}");
}

#[test]
fn wrong_types_and_bounds_are_refused() {
    let err = Config::from_toml("session_ttl_secs = \"1h\"\n").unwrap_err();
    assert_eq!(err.code(), "config_parse");
    assert!(err.to_string().contains("line 1"), "{err}");
    for (text, key) in [
        ("nonce_ttl_secs = 0\n", "nonce_ttl_secs"),
        ("session_ttl_secs = 999999999999\n", "session_ttl_secs"),
        ("max_body_bytes = 0\n", "max_body_bytes"),
        ("max_body_bytes = 16777217\n", "max_body_bytes"),
        ("max_connections = 0\n", "max_connections"),
        ("max_sessions = 0\n", "max_sessions"),
        ("[tls]\ncert = \"a\"\n", "tls.key"),
    ] {
        match Config::from_toml(text).unwrap_err() {
            ConfigError::Invalid { key: k, .. } => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other}"),
        }
    }
    assert!(Config::from_toml("max_body_bytes = 16777216\n").is_ok());
    assert!(Config::from_toml("listen = \"localhost\"\n").is_err());
}

#[test]
fn relative_paths_resolve_against_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CONFIG_FILE);
    std::fs::write(
        &path,
        "reference_values = \"ref.toml\"\n[tpm]\nek_ca = \"/abs/ca.pem\"\n\
         ek_intermediates = [\"i1.der\"]\n[policy]\nrego = \"p/x.rego\"\n",
    )
    .unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.reference_values, Some(dir.path().join("ref.toml")));
    assert_eq!(c.tpm.ek_ca, Some(PathBuf::from("/abs/ca.pem")));
    assert_eq!(c.tpm.ek_intermediates, vec![dir.path().join("i1.der")]);
    assert_eq!(c.policy.rego, Some(dir.path().join("p/x.rego")));
    assert_eq!(c.policy.data, None);
}

#[test]
fn load_or_create_writes_defaults_once_and_keeps_edits() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CONFIG_FILE);
    let (c, created) = Config::load_or_create(&path).unwrap();
    assert!(created);
    assert_eq!(c, Config::default());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_TOML);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::write(&path, "nonce_ttl_secs = 7\n").unwrap();
    let (c, created) = Config::load_or_create(&path).unwrap();
    assert!(!created);
    assert_eq!(c.nonce_ttl_secs, 7);
    // A parse error names the file.
    std::fs::write(&path, "nonce_ttl_secs = \n").unwrap();
    let err = Config::load(&path).unwrap_err();
    assert!(err.to_string().contains(CONFIG_FILE), "{err}");
    assert!(Config::load(Path::new("/nonexistent/x.toml")).is_err());
}
