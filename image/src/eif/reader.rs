//! Big-endian field reads for the fixed-size header structures.

/// Big-endian fields from a slice whose length the caller has checked;
/// reading past its end yields zeros (never reached by the callers above).
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(super) fn array<const N: usize>(&mut self) -> [u8; N] {
        if let Some((head, tail)) = self.rest.split_first_chunk::<N>() {
            self.rest = tail;
            *head
        } else {
            self.rest = &[];
            [0; N]
        }
    }

    pub(super) fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    pub(super) fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    pub(super) fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
}
