//! `till journal verify`: walks the hash chain and reports the first gap or break.

use std::fmt;

use till_sync::{GENESIS_HASH, chain_hash};

use super::sales::load_record;
use super::{Result, Store, StoreError};

/// The first thing wrong with a journal, with the sequence number where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalProblem {
    /// A sequence number is missing: a sale was deleted.
    Gap { expected: u64, found: u64 },
    /// A sale's `prev_hash` is not the previous sale's hash.
    BrokenLink { seq: u64 },
    /// A sale's stored rows do not hash to its stored hash: it was edited after commit.
    HashMismatch { seq: u64 },
    /// A sale hashes correctly but its figures do not add up.
    Inconsistent { seq: u64 },
    /// The journal head names a newer sale than the last one present: the newest were deleted.
    TailMissing { head_seq: u64, last_seq: u64 },
}

impl fmt::Display for JournalProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalProblem::Gap { expected, found } => {
                write!(
                    f,
                    "gap at sale #{expected}: the next sale present is #{found}"
                )
            }
            JournalProblem::BrokenLink { seq } => {
                write!(
                    f,
                    "break at sale #{seq}: it does not link to the sale before it"
                )
            }
            JournalProblem::HashMismatch { seq } => {
                write!(
                    f,
                    "break at sale #{seq}: it was changed after it was committed"
                )
            }
            JournalProblem::Inconsistent { seq } => {
                write!(f, "break at sale #{seq}: its figures do not add up")
            }
            JournalProblem::TailMissing { head_seq, last_seq } => write!(
                f,
                "gap at sale #{}: the journal ends at #{last_seq} but recorded #{head_seq}",
                last_seq + 1
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalReport {
    pub sales_checked: u64,
    pub last_hash: [u8; 32],
    pub problem: Option<JournalProblem>,
}

impl Store {
    pub fn verify_journal(&self) -> Result<JournalReport> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, prev_hash, hash FROM sales ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut expected = 1u64;
        let mut prev = GENESIS_HASH;
        let mut checked = 0u64;
        let report = |checked, prev, problem| {
            Ok(JournalReport {
                sales_checked: checked,
                last_hash: prev,
                problem,
            })
        };
        while let Some(row) = rows.next()? {
            let seq: u64 = row.get(0)?;
            let prev_hash: Vec<u8> = row.get(1)?;
            let hash: Vec<u8> = row.get(2)?;
            if seq != expected {
                return report(
                    checked,
                    prev,
                    Some(JournalProblem::Gap {
                        expected,
                        found: seq,
                    }),
                );
            }
            if prev_hash != prev {
                return report(checked, prev, Some(JournalProblem::BrokenLink { seq }));
            }
            let record = load_record(&self.conn, seq)?.ok_or_else(|| {
                StoreError::Corrupt(format!("sale #{seq} vanished while verifying"))
            })?;
            let computed = chain_hash(&prev, &record.canonical_bytes());
            if hash != computed {
                return report(checked, prev, Some(JournalProblem::HashMismatch { seq }));
            }
            if record.check_consistency().is_err() {
                return report(checked, prev, Some(JournalProblem::Inconsistent { seq }));
            }
            prev = computed;
            checked += 1;
            expected += 1;
        }
        let head: Option<u64> = self
            .conn
            .query_row("SELECT last_seq FROM journal_head WHERE id = 1", [], |r| {
                r.get(0)
            })
            .ok();
        let last_seq = expected - 1;
        if let Some(head_seq) = head.filter(|h| *h != last_seq) {
            return report(
                checked,
                prev,
                Some(JournalProblem::TailMissing { head_seq, last_seq }),
            );
        }
        report(checked, prev, None)
    }
}
