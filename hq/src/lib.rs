//! Till HQ, the SCRM backend: its storage backends, its HTTP API, and its checks on what
//! terminals upload.

pub mod db;
pub mod pg;
pub mod server;
pub mod testing;

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

#[cfg(test)]
mod tests {
    use till_sync::{Attribution, SaleLine, SalePayment};

    use super::*;

    fn record(seq: u64) -> Vec<u8> {
        SaleRecord {
            v: 1,
            sale_id: format!("0193a1b2-c3d4-7e5f-8a6b-{seq:012}"),
            store: "S001".into(),
            terminal: "T01".into(),
            seq,
            created_at_ms: 1_795_000_000_000,
            utc_offset_s: 28_800,
            cashier: "1001".into(),
            currency: "CNY".into(),
            attribution: Attribution::Member {
                member_id: "10086".into(),
            },
            lines: vec![SaleLine {
                line_no: 1,
                sku: "1".into(),
                code: "6901028075831".into(),
                name_zh: "水".into(),
                name_en: "Water".into(),
                tax_class: "food".into(),
                tax_rate_bp: 900,
                unit_price: 200,
                qty_milli: 1000,
                weighed: false,
                price_overridden: false,
                gross: 200,
                discount: 0,
                tax: 17,
                total: 200,
            }],
            subtotal: 200,
            discount: 0,
            tax: 17,
            total: 200,
            rounding: 0,
            payments: vec![SalePayment {
                kind: "cash".into(),
                amount: 200,
                reference: None,
            }],
            change: 0,
        }
        .canonical_bytes()
    }

    #[test]
    fn replays_the_chain_and_names_the_first_problem() {
        let (one, two, three) = (record(1), record(2), record(3));
        let head = verify_chain([one.as_slice(), two.as_slice()]).unwrap();
        assert_eq!(head, chain_hash(&chain_hash(&GENESIS_HASH, &one), &two));
        assert_eq!(
            verify_chain([one.as_slice(), three.as_slice()]),
            Err(ChainError::Gap {
                expected: 2,
                found: 3
            })
        );
        let pretty =
            serde_json::to_vec_pretty(&SaleRecord::from_canonical_bytes(&two).unwrap()).unwrap();
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
