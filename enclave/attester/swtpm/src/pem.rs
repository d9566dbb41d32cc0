//! Just enough PEM to read one certificate written by `swtpm_localca`.

use std::path::Path;

use crate::SwtpmError;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Reads the first PEM certificate in a file as DER.
pub(super) fn read_certificate(path: &Path) -> Result<Vec<u8>, SwtpmError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SwtpmError::Simulator(format!("read {}: {e}", path.display())))?;
    decode(&text).ok_or_else(|| {
        SwtpmError::Simulator(format!("{} is not a PEM certificate", path.display()))
    })
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let body = text.split_once(BEGIN)?.1.split_once(END)?.0;
    base64_decode(body.bytes().filter(|b| !b.is_ascii_whitespace()))
}

fn base64_decode(chars: impl Iterator<Item = u8>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in chars {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pem_body_and_rejects_garbage() {
        let pem = format!("junk\n{BEGIN}\nTWFu\naGVsbG8=\n{END}\n");
        assert_eq!(decode(&pem).unwrap(), b"Manhello");
        assert!(decode("no markers").is_none());
        assert!(decode(&format!("{BEGIN}\n@@@@\n{END}")).is_none());
    }
}
