//! Till HQ, the SCRM backend: its storage backends, its HTTP API, and its checks on what
//! terminals upload.

pub mod catalog;
pub mod claims;
pub mod db;
pub mod pass;
pub mod pg;
pub mod phones;
pub mod server;
pub mod sms;
#[cfg(feature = "testing")]
pub mod testing;

use till_sync::{GENESIS_HASH, SaleRecord, chain_hash};

/// The points a member's sale earns at HQ: exactly what its record says it earned under the
/// loyalty rule it names (checked on upload with [`till_sync::loyalty::check`]), or the legacy
/// rule's for a version-1 record; none for an anonymous sale.
pub fn points_for(record: &SaleRecord) -> Option<(String, i64)> {
    let till_sync::Attribution::Member { member_id } = &record.attribution else {
        return None;
    };
    Some((member_id.clone(), paid_points(record)))
}

/// The points a sale is worth to whoever it is attributed to, at the till or by a claim: a
/// claim earns what the sale would have.
pub fn paid_points(record: &SaleRecord) -> i64 {
    till_sync::loyalty::earned(record)
}

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

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::journal;

    #[test]
    fn replays_the_chain_and_names_the_first_problem() {
        let sales = journal("S001", "T01", 3);
        let bytes: Vec<Vec<u8>> = sales.iter().map(|s| s.record.canonical_bytes()).collect();
        let (one, two, three) = (&bytes[0], &bytes[1], &bytes[2]);
        let head = verify_chain([one.as_slice(), two.as_slice()]).unwrap();
        assert_eq!(head, chain_hash(&chain_hash(&GENESIS_HASH, one), two));
        assert_eq!(
            hex::encode(head),
            sales[1].hash,
            "HQ's replay gives the terminal's own links"
        );
        assert_eq!(
            verify_chain([one.as_slice(), three.as_slice()]),
            Err(ChainError::Gap {
                expected: 2,
                found: 3
            })
        );
        let pretty = serde_json::to_vec_pretty(&sales[1].record).unwrap();
        assert!(matches!(
            verify_chain([one.as_slice(), pretty.as_slice()]),
            Err(ChainError::Malformed { index: 1, .. })
        ));
        assert!(matches!(
            verify_chain([b"{}".as_slice()]),
            Err(ChainError::Malformed { index: 0, .. })
        ));
    }
}
