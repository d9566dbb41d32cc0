//! The per-invocation log budget: records, bytes read, what was dropped.

/// Log records a plugin may emit per invocation.
pub(crate) const MAX_RECORDS: u32 = 64;
/// Longest message kept, in bytes; longer ones are truncated.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024;
/// Fields kept per record.
pub(crate) const MAX_FIELDS: usize = 16;
/// Longest key or value kept, in bytes.
pub(crate) const MAX_FIELD_BYTES: usize = 256;
/// Bytes of guest strings one `log` call may read (see the module docs of
/// `host`).
pub(crate) const MAX_READ_BYTES_PER_CALL: usize = 64 * 1024;
/// Bytes of guest strings one invocation's `log` calls may read together.
/// Records within the other bounds read at most ~600 KiB per invocation, so
/// an honest plugin is cut by this only when it passes oversized strings.
pub(crate) const MAX_READ_BYTES_PER_INVOCATION: usize = 1024 * 1024;

/// What one invocation may still log, and what it had dropped.
#[derive(Debug)]
pub(crate) struct LogBudget {
    records_left: u32,
    read_left: usize,
    dropped_records: u32,
    dropped_fields: u64,
}

impl LogBudget {
    pub(crate) fn new() -> Self {
        Self {
            records_left: MAX_RECORDS,
            read_left: MAX_READ_BYTES_PER_INVOCATION,
            dropped_records: 0,
            dropped_fields: 0,
        }
    }

    /// Starts a record: a [`Reader`] for its strings, or `None` (and the record
    /// counted as dropped) if the record or byte budget is spent.
    pub(crate) fn start_record(&mut self) -> Option<Reader> {
        match self.records_left.checked_sub(1) {
            Some(left) if self.read_left > 0 => {
                self.records_left = left;
                Some(Reader {
                    left: self.read_left.min(MAX_READ_BYTES_PER_CALL),
                    read: 0,
                })
            }
            _ => {
                self.dropped_records = self.dropped_records.saturating_add(1);
                None
            }
        }
    }

    /// Charges what `reader` read and counts `dropped_fields`.
    pub(crate) fn end_record(&mut self, reader: &Reader, dropped_fields: usize) {
        self.read_left = self.read_left.saturating_sub(reader.read);
        let dropped = u64::try_from(dropped_fields).unwrap_or(u64::MAX);
        self.dropped_fields = self.dropped_fields.saturating_add(dropped);
    }

    pub(crate) fn dropped_records(&self) -> u32 {
        self.dropped_records
    }

    pub(crate) fn dropped_fields(&self) -> u64 {
        self.dropped_fields
    }

    /// Whether the invocation's read budget is used up.
    pub(crate) fn read_budget_spent(&self) -> bool {
        self.read_left == 0
    }

    pub(crate) fn dropped_anything(&self) -> bool {
        self.dropped_records > 0 || self.dropped_fields > 0 || self.read_budget_spent()
    }
}

/// The read budget of one `log` call.
#[derive(Debug)]
pub(crate) struct Reader {
    left: usize,
    read: usize,
}

impl Reader {
    /// Whether another string may be read.
    pub(crate) fn may_read(&self) -> bool {
        self.left > 0
    }

    /// Charges `bytes` just read; may overdraw, after which nothing more is read.
    pub(crate) fn charge(&mut self, bytes: usize) {
        self.left = self.left.saturating_sub(bytes);
        self.read = self.read.saturating_add(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_past_the_budget_are_counted_not_started() {
        let mut budget = LogBudget::new();
        for _ in 0..MAX_RECORDS {
            let reader = budget.start_record().unwrap();
            budget.end_record(&reader, 0);
        }
        for _ in 0..5 {
            assert!(budget.start_record().is_none());
        }
        assert_eq!(budget.dropped_records(), 5);
        assert!(budget.dropped_anything());
    }

    #[test]
    fn one_overdraft_spends_the_call_and_the_invocation() {
        let mut budget = LogBudget::new();
        let mut reader = budget.start_record().unwrap();
        assert!(reader.may_read());
        reader.charge(MAX_READ_BYTES_PER_CALL - 1);
        assert!(reader.may_read());
        // A huge string read while one byte was left: charged in full.
        reader.charge(MAX_READ_BYTES_PER_INVOCATION);
        assert!(!reader.may_read());
        budget.end_record(&reader, 3);
        assert!(budget.read_budget_spent());
        assert_eq!(budget.dropped_fields(), 3);
        // From now on every record is dropped without being read.
        assert!(budget.start_record().is_none());
        assert_eq!(budget.dropped_records(), 1);
    }

    #[test]
    fn the_call_budget_is_capped_by_what_the_invocation_has_left() {
        let mut budget = LogBudget::new();
        let mut reader = budget.start_record().unwrap();
        reader.charge(MAX_READ_BYTES_PER_INVOCATION - 10);
        budget.end_record(&reader, 0);
        let mut reader = budget.start_record().unwrap();
        reader.charge(10);
        assert!(!reader.may_read());
    }
}
