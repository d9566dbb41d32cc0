//! A small, bounded CBOR reader for the attestation payload.
//!
//! The payload has a fixed, shallow shape (a map of text keys to integers,
//! strings, byte strings, one map of PCRs and one array of certificates), so a
//! reader that returns borrowed slices is simpler and safer than a generic
//! value tree: nothing is allocated here, every length is checked against the
//! remaining input before use, and nesting never recurses.
//!
//! Accepted: definite and indefinite-length maps and arrays (AWS emits both),
//! non-minimal integer heads. Refused with a named error: indefinite-length
//! (chunked) byte and text strings, tags, floats, invalid UTF-8, truncation and
//! trailing bytes (see [`Reader::finish`]).

use super::error::NitroError;

/// Reads CBOR items from a byte slice, front to back.
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

/// The length announced by a map or array head.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Len {
    /// This many entries.
    Definite(u64),
    /// Entries until a break byte (0xff).
    Indefinite,
}

const MAJOR_UINT: u8 = 0;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const INFO_INDEFINITE: u8 = 31;
const BREAK: u8 = 0xff;
const NULL: u8 = 0xf6;

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    fn err(&self, reason: &'static str) -> NitroError {
        NitroError::Cbor {
            offset: self.pos,
            reason,
        }
    }

    /// Fails unless every byte has been consumed.
    pub(crate) fn finish(&self) -> Result<(), NitroError> {
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(self.err("trailing bytes after the payload map"))
        }
    }

    fn peek(&self) -> Result<u8, NitroError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], NitroError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.err("length overflows"))?;
        let out = self
            .input
            .get(self.pos..end)
            .ok_or_else(|| self.err("item runs past the end of input"))?;
        self.pos = end;
        Ok(out)
    }

    /// Reads an item head: major type and argument (`None` for indefinite).
    fn head(&mut self) -> Result<(u8, Option<u64>), NitroError> {
        let initial = self.peek()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        self.pos = self.pos.saturating_add(1);
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(self.be::<1>()?),
            25 => Some(self.be::<2>()?),
            26 => Some(self.be::<4>()?),
            27 => Some(self.be::<8>()?),
            INFO_INDEFINITE => None,
            _ => return Err(self.err("reserved additional information value")),
        };
        Ok((major, arg))
    }

    fn be<const N: usize>(&mut self) -> Result<u64, NitroError> {
        let bytes = self.take(N)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn definite(&mut self, want: u8, what: &'static str) -> Result<u64, NitroError> {
        let start = self.pos;
        match self.head()? {
            (major, Some(arg)) if major == want => Ok(arg),
            (major, None) if major == want => {
                self.pos = start;
                Err(self.err("indefinite-length strings are not accepted"))
            }
            _ => {
                self.pos = start;
                Err(self.err(what))
            }
        }
    }

    /// Reads an unsigned integer.
    pub(crate) fn uint(&mut self) -> Result<u64, NitroError> {
        self.definite(MAJOR_UINT, "expected an unsigned integer")
    }

    fn string(&mut self, major: u8, what: &'static str) -> Result<&'a [u8], NitroError> {
        let len = self.definite(major, what)?;
        let len = usize::try_from(len).map_err(|_| self.err("length overflows"))?;
        self.take(len)
    }

    /// Reads a definite-length byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], NitroError> {
        self.string(MAJOR_BYTES, "expected a byte string")
    }

    /// Reads a definite-length UTF-8 text string.
    pub(crate) fn text(&mut self) -> Result<&'a str, NitroError> {
        let start = self.pos;
        let raw = self.string(MAJOR_TEXT, "expected a text string")?;
        core::str::from_utf8(raw).map_err(|_| {
            self.pos = start;
            self.err("text string is not valid UTF-8")
        })
    }

    /// Reads a byte string, or `null` (returned as `None`).
    pub(crate) fn bytes_or_null(&mut self) -> Result<Option<&'a [u8]>, NitroError> {
        if self.peek()? == NULL {
            self.pos = self.pos.saturating_add(1);
            Ok(None)
        } else {
            self.bytes().map(Some)
        }
    }

    fn container(&mut self, want: u8, what: &'static str) -> Result<Len, NitroError> {
        let start = self.pos;
        match self.head()? {
            (major, Some(n)) if major == want => Ok(Len::Definite(n)),
            (major, None) if major == want => Ok(Len::Indefinite),
            _ => {
                self.pos = start;
                Err(self.err(what))
            }
        }
    }

    /// Reads a map head.
    pub(crate) fn map(&mut self) -> Result<Len, NitroError> {
        self.container(MAJOR_MAP, "expected a map")
    }

    /// Reads an array head.
    pub(crate) fn array(&mut self) -> Result<Len, NitroError> {
        self.container(MAJOR_ARRAY, "expected an array")
    }

    /// Whether another entry follows in a container of length `len` after
    /// `seen` entries; consumes the break byte that ends an indefinite one.
    pub(crate) fn has_next(&mut self, len: Len, seen: u64) -> Result<bool, NitroError> {
        match len {
            Len::Definite(n) => Ok(seen < n),
            Len::Indefinite => {
                if self.peek()? == BREAK {
                    self.pos = self.pos.saturating_add(1);
                    Ok(false)
                } else {
                    Ok(true)
                }
            }
        }
    }

    /// Current offset, for error messages.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }
}

/// Appends a CBOR head (major type, argument) in its shortest form.
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    // Each arm's `as` is guarded by the range it matches.
    match arg {
        0..=23 => out.push(m | u8::try_from(arg).unwrap_or(0)),
        24..=0xff => {
            out.push(m | 0x18);
            out.push(u8::try_from(arg).unwrap_or(0));
        }
        0x100..=0xffff => {
            out.push(m | 0x19);
            out.extend_from_slice(&u16::try_from(arg).unwrap_or(0).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 0x1a);
            out.extend_from_slice(&u32::try_from(arg).unwrap_or(0).to_be_bytes());
        }
        _ => {
            out.push(m | 0x1b);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

/// Appends a definite-length byte string.
pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_head(out, MAJOR_BYTES, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a definite-length text string.
pub(crate) fn write_text(out: &mut Vec<u8>, text: &str) {
    write_head(out, MAJOR_TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Appends a definite-length array head.
pub(crate) fn write_array_head(out: &mut Vec<u8>, len: u64) {
    write_head(out, MAJOR_ARRAY, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_definite_and_indefinite_maps() {
        // {"a": 1} definite, then the same indefinite.
        for input in [
            &[0xa1, 0x61, b'a', 0x01][..],
            &[0xbf, 0x61, b'a', 0x01, 0xff],
        ] {
            let mut r = Reader::new(input);
            let len = r.map().unwrap();
            assert!(r.has_next(len, 0).unwrap());
            assert_eq!(r.text().unwrap(), "a");
            assert_eq!(r.uint().unwrap(), 1);
            assert!(!r.has_next(len, 1).unwrap());
            r.finish().unwrap();
        }
    }

    #[test]
    fn rejects_truncation_trailing_bytes_and_chunked_strings() {
        let mut r = Reader::new(&[0x43, 1, 2]);
        assert!(matches!(r.bytes(), Err(NitroError::Cbor { offset: 1, .. })));
        let mut r = Reader::new(&[0x41, 1, 2]);
        assert_eq!(r.bytes().unwrap(), &[1]);
        assert!(r.finish().is_err());
        let mut r = Reader::new(&[0x5f, 0x41, 1, 0xff]);
        assert!(r.bytes().is_err());
        // A length that would overflow usize arithmetic.
        let mut r = Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(r.bytes().is_err());
        let mut r = Reader::new(&[0x62, 0xff, 0xfe]);
        assert!(r.text().is_err());
        let mut r = Reader::new(&[0x1c]);
        assert!(r.uint().is_err());
    }

    #[test]
    fn null_is_absent_and_other_types_are_refused() {
        let mut r = Reader::new(&[0xf6, 0x40, 0x01]);
        assert_eq!(r.bytes_or_null().unwrap(), None);
        assert_eq!(r.bytes_or_null().unwrap(), Some(&[][..]));
        assert!(r.bytes_or_null().is_err());
    }

    #[test]
    fn writer_uses_shortest_heads() {
        let mut out = Vec::new();
        for n in [0u64, 23, 24, 255, 256, 65535, 65536, 1 << 40] {
            write_head(&mut out, 0, n);
        }
        let mut r = Reader::new(&out);
        for n in [0u64, 23, 24, 255, 256, 65535, 65536, 1 << 40] {
            assert_eq!(r.uint().unwrap(), n);
        }
        r.finish().unwrap();
        assert_eq!(out.len(), 1 + 1 + 2 + 2 + 3 + 3 + 5 + 9);
    }
}
