//! The secret under test, the encodings it is searched for in, and the
//! payout plugin's MAC recipe (`sdk/plugins/payout/src/mac.rs`) as a
//! verifier holding the key runs it.

use aws_lc_rs::hmac;

/// The secret the default policy's data grants to the payout plugin.
pub const SECRET_NAME: &str = "payout-hmac-key";

/// A fresh random 32-byte value; `Debug` never prints it.
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn random() -> Self {
        let mut value = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut value).unwrap();
        Self(value)
    }

    pub fn value(&self) -> &[u8] {
        &self.0
    }

    /// The forms it could leak in: raw, hex (either case), base64 (standard
    /// or URL-safe; without padding, so a padded encoding matches too).
    /// Forms that happen to coincide (base64 without `+` or `/` is also its
    /// URL-safe form) are listed once.
    pub fn forms(&self) -> Vec<(&'static str, Vec<u8>)> {
        let all = [
            ("raw", self.0.clone()),
            ("hex", hex::encode(&self.0).into_bytes()),
            ("HEX", hex::encode_upper(&self.0).into_bytes()),
            ("base64", base64(&self.0, STANDARD)),
            ("base64url", base64(&self.0, URL_SAFE)),
        ];
        let mut forms: Vec<(&'static str, Vec<u8>)> = Vec::new();
        for (name, form) in all {
            if !forms.iter().any(|(_, f)| *f == form) {
                forms.push((name, form));
            }
        }
        forms
    }

    /// The names of the forms found in `haystack`.
    pub fn found_in(&self, haystack: &[u8]) -> Vec<&'static str> {
        self.forms()
            .into_iter()
            .filter(|(_, form)| contains(haystack, form))
            .map(|(name, _)| name)
            .collect()
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// RFC 4648 base64 with `alphabet`, without padding (so it is also a prefix
/// of the padded form).
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks a payout output's `mac` with `key`, as documented: the output ends
/// in `,"mac":"<64 hex>"}`; without that suffix and with `}` appended it is
/// the MAC'ed body. Returns the body.
pub fn verify_mac(output: &[u8], key: &[u8]) -> Result<Vec<u8>, String> {
    const PREFIX: &[u8] = b",\"mac\":\"";
    const SUFFIX: &[u8] = b"\"}";
    let tail = PREFIX.len() + 64 + SUFFIX.len();
    let split = output
        .len()
        .checked_sub(tail)
        .ok_or("output too short for a mac")?;
    let (head, suffix) = output.split_at(split);
    let digits = suffix
        .strip_prefix(PREFIX)
        .and_then(|s| s.strip_suffix(SUFFIX))
        .ok_or_else(|| {
            format!(
                "no mac member at the end: {}",
                String::from_utf8_lossy(suffix)
            )
        })?;
    if !digits
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err("the mac is not lowercase hex".to_owned());
    }
    let tag = hex::decode(digits).map_err(|e| e.to_string())?;
    let body = [head, b"}"].concat();
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &body, &tag)
        .map_err(|_| "the mac does not verify with this key".to_owned())?;
    Ok(body)
}

#[test]
fn every_form_of_a_secret_is_found_where_it_is_and_only_there() {
    let secret = Secret::random();
    for (name, form) in secret.forms() {
        let haystack = [b"prefix ".as_slice(), &form, b" suffix"].concat();
        assert_eq!(secret.found_in(&haystack), [name], "{name}");
        // One character less is not a match.
        let cut = [b"prefix ".as_slice(), &form[1..], b" suffix"].concat();
        assert!(secret.found_in(&cut).is_empty(), "{name}");
    }
    // A padded base64 encoding is found by its unpadded form.
    let padded = [base64(secret.value(), STANDARD), b"=".to_vec()].concat();
    assert_eq!(secret.found_in(&padded), ["base64"]);
    assert!(
        Secret::random()
            .found_in(&secret.value().repeat(2))
            .is_empty()
    );
}

/// RFC 4648 section 10, and the alphabets' last two characters.
#[test]
fn base64_matches_the_rfc_vectors() {
    for (input, output) in [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(input.as_bytes(), STANDARD), output.as_bytes());
    }
    assert_eq!(base64(&[0xfb, 0xff], STANDARD), b"+/8");
    assert_eq!(base64(&[0xfb, 0xff], URL_SAFE), b"-_8");
}

#[test]
fn the_mac_recipe_accepts_the_right_key_and_body_only() {
    let key = b"k";
    let body = br#"{"currency":"EUR","total_cents":1,"payouts":[]}"#;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body);
    let output = format!(
        "{},\"mac\":\"{}\"}}",
        std::str::from_utf8(&body[..body.len() - 1]).unwrap(),
        hex::encode(tag.as_ref())
    );
    assert_eq!(verify_mac(output.as_bytes(), key).unwrap(), body);
    assert!(verify_mac(output.as_bytes(), b"K").is_err());
    let altered = output.replace("EUR", "USD");
    assert!(verify_mac(altered.as_bytes(), key).is_err());
    let upper = output.replace(&hex::encode(tag.as_ref()), &hex::encode_upper(tag.as_ref()));
    assert!(verify_mac(upper.as_bytes(), key).is_err());
    let null = br#"{"currency":"EUR","total_cents":1,"payouts":[],"mac":null}"#;
    assert!(verify_mac(null, key).is_err());
}
