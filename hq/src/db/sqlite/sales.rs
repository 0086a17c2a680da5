//! SQLite: sales ingest, exactly once per sale, and the per-store summaries.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use till_sync::api::{SaleResult, SaleStatus, UploadResponse, UploadedSale};

use crate::db::{HqError, Result, StoreSummary};

use super::{SqliteStore, now_ms};

impl SqliteStore {
    pub(super) fn ingest_impl(
        &self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse> {
        let mut conn = self.w();
        // IMMEDIATE: two copies of one batch arriving together are taken one after the other,
        // and the second finds the first's answer.
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let earlier: Option<(String, String)> = tx
            .query_row(
                "SELECT body_hash, response FROM idempotency WHERE store_id = ?1 AND terminal_id = ?2 AND key = ?3",
                params![store, terminal, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((hash, response)) = earlier {
            if hash != body_hash {
                return Err(HqError::KeyReused);
            }
            return serde_json::from_str(&response)
                .map_err(|e| HqError::Database(rusqlite::Error::ToSqlConversionFailure(e.into())));
        }
        let mut results = Vec::with_capacity(sales.len());
        for sale in sales {
            results.push(ingest_one(&tx, store, terminal, sale)?);
        }
        crate::db::members::after_ingest(&mut tx, store, terminal, sales, &results)?;
        let response = UploadResponse { results };
        tx.execute(
            "INSERT INTO idempotency (store_id, terminal_id, key, body_hash, response, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![store, terminal, key, body_hash, serde_json::to_string(&response).unwrap_or_default(), now_ms()],
        )?;
        tx.execute(
            "UPDATE terminals SET last_sync_ms = ?3 WHERE store_id = ?1 AND terminal_id = ?2",
            params![store, terminal, now_ms()],
        )?;
        tx.commit()?;
        Ok(response)
    }

    pub(super) fn summaries_impl(&self) -> Result<Vec<StoreSummary>> {
        let conn = self.r()?;
        let mut out: BTreeMap<String, StoreSummary> = BTreeMap::new();
        let mut stmt = conn.prepare(
            "SELECT store_id, count(*), coalesce(sum(total), 0), coalesce(sum(change), 0) FROM sales GROUP BY store_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let store: String = r.get(0)?;
            out.insert(
                store.clone(),
                StoreSummary {
                    store,
                    sales: r.get(1)?,
                    total: r.get(2)?,
                    change: r.get(3)?,
                    tenders: BTreeMap::new(),
                },
            );
        }
        let mut stmt = conn.prepare(
            "SELECT s.store_id, p.kind, sum(p.amount) FROM sale_payments p JOIN sales s ON s.sale_id = p.sale_id
             GROUP BY s.store_id, p.kind",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let store: String = r.get(0)?;
            if let Some(summary) = out.get_mut(&store) {
                summary.tenders.insert(r.get(1)?, r.get(2)?);
            }
        }
        Ok(out.into_values().collect())
    }
}

fn ingest_one(
    tx: &Transaction<'_>,
    store: &str,
    terminal: &str,
    sale: &UploadedSale,
) -> Result<SaleResult> {
    let record = &sale.record;
    let result = |status, reason: Option<String>| SaleResult {
        seq: record.seq,
        sale_id: record.sale_id.clone(),
        status,
        reason,
    };
    let by_id: Option<String> = tx
        .prepare_cached("SELECT hash FROM sales WHERE sale_id = ?1")?
        .query_row([&record.sale_id], |r| r.get(0))
        .optional()?;
    if let Some(hash) = by_id {
        return Ok(if hash == sale.hash {
            result(SaleStatus::Duplicate, None)
        } else {
            result(
                SaleStatus::Rejected,
                Some("sale id already belongs to a different sale".into()),
            )
        });
    }
    let by_seq: Option<String> = tx
        .prepare_cached(
            "SELECT sale_id FROM sales WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
        )?
        .query_row(params![store, terminal, record.seq], |r| r.get(0))
        .optional()?;
    if let Some(other) = by_seq {
        return Ok(result(
            SaleStatus::Rejected,
            Some(format!(
                "sequence {} already belongs to sale {other}",
                record.seq
            )),
        ));
    }
    let member = match &record.attribution {
        till_sync::Attribution::Member { member_id } => Some(member_id.clone()),
        till_sync::Attribution::Anonymous { .. } => None,
    };
    tx.prepare_cached(
        "INSERT INTO sales (sale_id, store_id, terminal_id, seq, created_at_ms, total, change, member_id, record, prev_hash, hash, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        record.sale_id,
        store,
        terminal,
        record.seq,
        record.created_at_ms,
        record.total,
        record.change,
        member,
        String::from_utf8_lossy(&record.canonical_bytes()),
        sale.prev_hash,
        sale.hash,
        now_ms()
    ])?;
    let mut payment = tx.prepare_cached(
        "INSERT INTO sale_payments (sale_id, idx, kind, amount) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, p) in record.payments.iter().enumerate() {
        payment.execute(params![record.sale_id, i, p.kind, p.amount])?;
    }
    if let Some((member_id, points)) = crate::points_for(record) {
        tx.prepare_cached(
            "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sale_id) DO NOTHING",
        )?
        .execute(params![record.sale_id, member_id, points, now_ms()])?;
    }
    Ok(result(SaleStatus::Accepted, None))
}
