//! Reference-value files: a good file and, for each rule, a close variant that
//! is refused naming the key and line.

use super::*;

const A: &str = "2d151586641b790f3b1b92b8f89678c3aa86e73dd97969c892124be9d2b7fdc62b58a55cd9ee8216f6f5689cebf590ad";
const B: &str = "672cd3c91b7ac756037d260051169c70b1de59c7a3a9a8253322c98763697891c722fec043cbf72a824ae5d5ac41fc41";

fn good() -> String {
    format!(
        "# accepted images\n\
         [tpm]\n\
         images = [\"{A}\"]\n\
         \n\
         [nitro]\n\
         allow_debug = false\n\
         \n\
         [[nitro.images]]\n\
         pcr0 = \"{A}\"\n\
         pcr1 = \"{B}\"\n\
         pcr2 = \"{A}\"\n\
         \n\
         [[nitro.images]]\n\
         pcr0 = \"{B}\"\n\
         pcr1 = \"{B}\"\n\
         pcr2 = \"{B}\"\n\
         pcr8 = \"{}\"\n",
        A.to_uppercase()
    )
}

fn value_err(text: &str) -> (String, usize, String) {
    match ReferenceValues::from_toml(text).unwrap_err() {
        ReferenceError::Value {
            key, line, message, ..
        } => (key, line, message),
        other => panic!("expected a value error, got {other}"),
    }
}

#[test]
fn a_good_file_parses_every_key() {
    let r = ReferenceValues::from_toml(&good()).unwrap();
    let a: [u8; 48] = hex::decode(A).unwrap().try_into().unwrap();
    let b: [u8; 48] = hex::decode(B).unwrap().try_into().unwrap();
    assert_eq!(r.tpm_images().len(), 1);
    assert_eq!(r.tpm_images()[0].measurement, Measurement::from_bytes(a));
    assert_eq!(
        r.tpm_images()[0].pcr23,
        replay_sha256([&Measurement::from_bytes(a)])
    );
    assert!(r.tpm_image_allowed(&r.tpm_images()[0].pcr23));
    assert!(!r.tpm_image_allowed(&[0; 32]));
    assert!(!r.allows_debug());
    assert!(!r.is_insecure_any_image());
    let n = r.nitro_images();
    assert_eq!(n.len(), 2);
    assert_eq!((n[0].pcr0, n[0].pcr1, n[0].pcr8), (a, b, None));
    assert_eq!(n[1].pcr8, Some(a), "hex is case-insensitive");
}

#[test]
fn missing_sections_and_empty_lists_accept_nothing() {
    for text in ["", "[tpm]\nimages = []\n[nitro]\nallow_debug = true\n"] {
        let r = ReferenceValues::from_toml(text).unwrap();
        assert!(r.tpm_images().is_empty() && r.nitro_images().is_empty());
        assert!(!r.tpm_image_allowed(&replay_sha256([])));
    }
    assert!(
        ReferenceValues::from_toml("[nitro]\nallow_debug = true\n")
            .unwrap()
            .allows_debug()
    );
    assert!(ReferenceValues::insecure_any_image().tpm_image_allowed(&[7; 32]));
}

#[test]
fn unknown_keys_are_refused_naming_key_and_line() {
    // A misspelt optional key, a top-level key and a key in an image table.
    for (text, key, line) in [
        (
            good().replace("allow_debug", "allow_debugg"),
            "allow_debugg",
            6,
        ),
        (format!("extra = 1\n{}", good()), "extra", 1),
        (good().replace("pcr8", "pcr9"), "pcr9", 17),
    ] {
        let e = ReferenceValues::from_toml(&text).unwrap_err();
        let ReferenceError::Syntax { line: l, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(*l, line, "{e}");
        assert!(e.to_string().contains(key), "{e}");
        assert_eq!(e.code(), "reference_syntax");
    }
    // A required key missing from an image table.
    let e = ReferenceValues::from_toml(&good().replace(&format!("pcr2 = \"{B}\""), ""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("pcr2"), "{e}");
}

#[test]
fn bad_hex_and_wrong_lengths_are_refused_naming_the_key() {
    let bad_hex = good().replace(&format!("pcr1 = \"{B}\"\npcr2 = \"{A}\""), &{
        format!("pcr1 = \"{}zz\"\npcr2 = \"{A}\"", &B[..94])
    });
    let (key, line, msg) = value_err(&bad_hex);
    assert_eq!((key.as_str(), line), ("nitro.images[0].pcr1", 10));
    assert!(msg.contains("hexadecimal"), "{msg}");

    let short = good().replace(
        &format!("images = [\"{A}\"]"),
        &format!("images = [\"{}\"]", &A[..94]),
    );
    let (key, line, msg) = value_err(&short);
    assert_eq!((key.as_str(), line), ("tpm.images[0]", 3));
    assert!(msg.contains("96") && msg.contains("94"), "{msg}");

    let long = good().replace(
        &format!("pcr8 = \"{}\"", A.to_uppercase()),
        &format!("pcr8 = \"{A}00\""),
    );
    let (key, line, _) = value_err(&long);
    assert_eq!((key.as_str(), line), ("nitro.images[1].pcr8", 17));

    // A value of the wrong type is a syntax error on its line.
    let e = ReferenceValues::from_toml("[tpm]\nimages = \"abc\"\n").unwrap_err();
    assert!(matches!(e, ReferenceError::Syntax { line: 2, .. }), "{e}");
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reference.toml");
    std::fs::write(&path, good()).unwrap();
    assert_eq!(
        ReferenceValues::load(&path).unwrap(),
        ReferenceValues::from_toml(&good()).unwrap()
    );
    let e = ReferenceValues::load(&dir.path().join("absent.toml")).unwrap_err();
    assert_eq!(e.code(), "reference_io");
    assert!(e.to_string().contains("absent.toml"), "{e}");
}

#[test]
fn the_shipped_example_parses() {
    let text = include_str!("../../policy/reference.example.toml");
    let r = ReferenceValues::from_toml(text).unwrap();
    assert!(!r.tpm_images().is_empty() && !r.nitro_images().is_empty());
}
