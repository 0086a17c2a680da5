//! The outbox: committed sales waiting for HQ, read in sequence order with their journal
//! links, and acknowledged only from HQ's answer.

use rusqlite::params;
use till_sync::api::UploadedSale;

use super::sales::load_record;
use super::{Result, Store, StoreError};

impl Store {
    /// Up to `limit` unacknowledged sales, oldest first, ready to upload.
    pub fn outbox_batch(&self, limit: u32) -> Result<Vec<UploadedSale>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.seq, s.prev_hash, s.hash FROM outbox o JOIN sales s ON s.seq = o.seq
             WHERE o.acked_at_ms IS NULL AND o.rejected_reason IS NULL ORDER BY o.seq LIMIT ?1",
        )?;
        let links: Vec<(u64, Vec<u8>, Vec<u8>)> = stmt
            .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        links
            .into_iter()
            .map(|(seq, prev_hash, hash)| {
                let record = load_record(&self.conn, seq)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("outbox names missing sale #{seq}"))
                })?;
                Ok(UploadedSale {
                    record,
                    prev_hash: hex::encode(prev_hash),
                    hash: hex::encode(hash),
                })
            })
            .collect()
    }

    /// Marks sales as held by HQ. Only called with HQ's answer in hand.
    pub fn acknowledge(&mut self, seqs: &[u64]) -> Result<()> {
        let now = jiff::Timestamp::now().as_millisecond();
        let tx = self.conn.transaction()?;
        {
            let mut ack = tx.prepare_cached(
                "UPDATE outbox SET acked_at_ms = ?2 WHERE seq = ?1 AND acked_at_ms IS NULL",
            )?;
            for seq in seqs {
                ack.execute(params![seq, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Keeps a sale HQ refused out of later uploads, with HQ's reason, for a person to resolve.
    pub fn reject_in_outbox(&self, seq: u64, reason: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET rejected_reason = ?2 WHERE seq = ?1",
            params![seq, reason],
        )?;
        Ok(())
    }

    /// Sales refused by HQ, with the reason.
    pub fn outbox_rejected(&self) -> Result<Vec<(u64, String)>> {
        let mut stmt = self.conn.prepare("SELECT seq, rejected_reason FROM outbox WHERE rejected_reason IS NOT NULL ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
