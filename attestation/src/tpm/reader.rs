//! A bounded big-endian reader for TPM wire structures.
//!
//! Every read names the field it is reading, so a truncated structure is
//! reported as, say, "truncated at `TPMS_ATTEST.extraData`". Nothing here indexes
//! a slice or allocates based on an unchecked length.

use super::TpmError;

/// Reads TPM marshalled values from the front of a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], TpmError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(TpmError::Truncated { field })?;
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], TpmError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(TpmError::Truncated { field })?;
        self.rest = tail;
        Ok(*head)
    }

    /// A `UINT8`.
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, TpmError> {
        self.array::<1>(field).map(u8::from_be_bytes)
    }

    /// A big-endian `UINT16`.
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, TpmError> {
        self.array::<2>(field).map(u16::from_be_bytes)
    }

    /// A big-endian `UINT32`.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, TpmError> {
        self.array::<4>(field).map(u32::from_be_bytes)
    }

    /// A big-endian `UINT64`.
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, TpmError> {
        self.array::<8>(field).map(u64::from_be_bytes)
    }

    /// A `TPM2B_*` buffer: a `UINT16` size then that many bytes, at most `max`.
    pub(crate) fn sized(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], TpmError> {
        let size = usize::from(self.u16(field)?);
        if size > max {
            return Err(TpmError::Invalid {
                field,
                reason: "size exceeds the structure's maximum",
            });
        }
        self.take(size, field)
    }

    /// Ends reading: any byte left over is an error.
    pub(crate) fn finish(self, structure: &'static str) -> Result<(), TpmError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(TpmError::Trailing {
                structure,
                count: self.rest.len(),
            })
        }
    }
}

/// If `bytes` is a `TPM2B_*` whose size covers exactly the rest, its content.
pub(crate) fn strip_tpm2b(bytes: &[u8]) -> Option<&[u8]> {
    let (size, rest) = bytes.split_first_chunk::<2>()?;
    (usize::from(u16::from_be_bytes(*size)) == rest.len()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_reports_truncation_by_field() {
        let mut r = Reader::new(&[0, 1, 0, 0, 0, 2, 9]);
        assert_eq!(r.u16("a").unwrap(), 1);
        assert_eq!(r.u32("b").unwrap(), 2);
        assert_eq!(r.u16("c"), Err(TpmError::Truncated { field: "c" }));
        assert_eq!(r.u8("d").unwrap(), 9);
        assert!(r.finish("s").is_ok());
    }

    #[test]
    fn sized_buffers_are_bounded_and_trailing_bytes_rejected() {
        let mut r = Reader::new(&[0, 2, 7, 8, 1]);
        assert_eq!(
            r.clone().sized(1, "x").unwrap_err().code(),
            "tpm.parse.invalid"
        );
        assert_eq!(r.sized(2, "x").unwrap(), &[7, 8]);
        assert_eq!(
            r.finish("S"),
            Err(TpmError::Trailing {
                structure: "S",
                count: 1
            })
        );
        assert_eq!(strip_tpm2b(&[0, 1, 5]), Some(&[5u8][..]));
        assert_eq!(strip_tpm2b(&[0, 2, 5]), None);
    }
}
