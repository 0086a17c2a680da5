//! Till HQ's checks on what terminals upload. The server, stores and analytics build on these.

use till_sync::{GENESIS_HASH, SaleRecord, chain_hash};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("sale {index}: not a valid sale record: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("sale #{seq}: {reason}")]
    Inconsistent { seq: u64, reason: String },
    #[error("gap: expected sale #{expected}, found #{found}")]
    Gap { expected: u64, found: u64 },
}

/// Replays a terminal's journal from its first sale, checking every record's figures and that
/// the sequence has no gaps. Returns the chain head, which must equal the terminal's.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a [u8]>,
) -> Result<[u8; 32], ChainError> {
    let mut head = GENESIS_HASH;
    for (index, bytes) in records.into_iter().enumerate() {
        let expected = index as u64 + 1;
        let record =
            SaleRecord::from_canonical_bytes(bytes).map_err(|e| ChainError::Malformed {
                index,
                reason: e.to_string(),
            })?;
        if record.canonical_bytes() != bytes {
            return Err(ChainError::Malformed {
                index,
                reason: "not in canonical form".into(),
            });
        }
        record
            .check_consistency()
            .map_err(|e| ChainError::Inconsistent {
                seq: record.seq,
                reason: e.to_string(),
            })?;
        if record.seq != expected {
            return Err(ChainError::Gap {
                expected,
                found: record.seq,
            });
        }
        head = chain_hash(&head, bytes);
    }
    Ok(head)
}
