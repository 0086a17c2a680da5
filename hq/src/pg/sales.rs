//! PostgreSQL: sales ingest, exactly once per sale and in bulk, and the per-store summaries.

use std::collections::BTreeMap;

use postgres::Transaction;
use till_sync::api::{SaleResult, SaleStatus, UploadResponse, UploadedSale};

use crate::db::{HqError, Result, StoreSummary};

use super::{PgStore, copy_in, copy_text, db, now_ms};

impl PgStore {
    pub(super) fn ingest_impl(
        &self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.execute(
            "SELECT 1 FROM terminals WHERE store_id = $1 AND terminal_id = $2 FOR UPDATE",
            &[&store, &terminal],
        )
        .map_err(db)?;
        let earlier = tx
            .query_opt(
                "SELECT body_hash, response FROM idempotency WHERE store_id = $1 AND terminal_id = $2 AND key = $3",
                &[&store, &terminal, &key],
            )
            .map_err(db)?;
        if let Some(row) = earlier {
            let (hash, response): (String, String) = (row.get(0), row.get(1));
            if hash != body_hash {
                return Err(HqError::KeyReused);
            }
            return serde_json::from_str(&response).map_err(|e| HqError::Backend(e.to_string()));
        }
        let results = ingest_batch(&mut tx, store, terminal, sales)?;
        crate::db::members::after_ingest(&mut tx, store, terminal, sales, &results)?;
        let response = UploadResponse { results };
        let json = serde_json::to_string(&response).map_err(|e| HqError::Backend(e.to_string()))?;
        tx.execute(
            "INSERT INTO idempotency (store_id, terminal_id, key, body_hash, response, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&store, &terminal, &key, &body_hash, &json, &now_ms()],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE terminals SET last_sync_ms = $3 WHERE store_id = $1 AND terminal_id = $2",
            &[&store, &terminal, &now_ms()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(response)
    }

    pub(super) fn summaries_impl(&self) -> Result<Vec<StoreSummary>> {
        let mut conn = self.live()?;
        let mut out: BTreeMap<String, StoreSummary> = BTreeMap::new();
        for r in conn
            .query(
                "SELECT store_id, count(*), coalesce(sum(total), 0)::BIGINT, coalesce(sum(change), 0)::BIGINT
                 FROM sales GROUP BY store_id",
                &[],
            )
            .map_err(db)?
        {
            let store: String = r.get(0);
            let sales: i64 = r.get(1);
            out.insert(
                store.clone(),
                StoreSummary { store, sales: sales.unsigned_abs(), total: r.get(2), change: r.get(3), tenders: BTreeMap::new() },
            );
        }
        for r in conn
            .query(
                "SELECT s.store_id, p.kind, sum(p.amount)::BIGINT FROM sale_payments p JOIN sales s ON s.sale_id = p.sale_id
                 GROUP BY s.store_id, p.kind",
                &[],
            )
            .map_err(db)?
        {
            let store: String = r.get(0);
            if let Some(summary) = out.get_mut(&store) {
                summary.tenders.insert(r.get(1), r.get(2));
            }
        }
        Ok(out.into_values().collect())
    }
}

/// Answers every sale of a batch with two lookups, then writes the new ones with `COPY`, which
/// costs PostgreSQL far less per row than one `INSERT` round trip each. The terminal's row lock
/// taken by the caller keeps another copy of the batch out meanwhile.
fn ingest_batch(
    tx: &mut Transaction<'_>,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
) -> Result<Vec<SaleResult>> {
    // One round trip answers both questions: which of these sale IDs HQ has, and which of
    // this terminal's sequence numbers in the batch's range are taken. A batch's sequence
    // numbers are nearly always one run, so a range scan of the unique index finds them.
    let ids: Vec<&str> = sales.iter().map(|s| s.record.sale_id.as_str()).collect();
    let seqs = sales
        .iter()
        .filter_map(|s| i64::try_from(s.record.seq).ok());
    let (low, high) = seqs.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let mut known_ids = std::collections::HashMap::new();
    let mut known_seqs = std::collections::HashMap::new();
    for r in tx
        .query(
            "SELECT true, sale_id, hash, 0::BIGINT FROM sales WHERE sale_id = ANY($1)
             UNION ALL
             SELECT false, sale_id, '', seq FROM sales
             WHERE store_id = $2 AND terminal_id = $3 AND seq BETWEEN $4 AND $5",
            &[&ids, &store, &terminal, &low, &high],
        )
        .map_err(db)?
    {
        if r.get::<_, bool>(0) {
            known_ids.insert(r.get::<_, String>(1), r.get::<_, String>(2));
        } else {
            known_seqs.insert(r.get::<_, i64>(3), r.get::<_, String>(1));
        }
    }
    let mut results = Vec::with_capacity(sales.len());
    let mut fresh: Vec<&UploadedSale> = Vec::new();
    let mut taken_ids = std::collections::HashSet::new();
    let mut taken_seqs = std::collections::HashSet::new();
    for sale in sales {
        let record = &sale.record;
        let result = |status, reason: Option<String>| SaleResult {
            seq: record.seq,
            sale_id: record.sale_id.clone(),
            status,
            reason,
        };
        let seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
        if let Some(hash) = known_ids.get(&record.sale_id) {
            results.push(if *hash == sale.hash {
                result(SaleStatus::Duplicate, None)
            } else {
                result(
                    SaleStatus::Rejected,
                    Some("sale id already belongs to a different sale".into()),
                )
            });
        } else if let Some(other) = known_seqs.get(&seq) {
            results.push(result(
                SaleStatus::Rejected,
                Some(format!(
                    "sequence {} already belongs to sale {other}",
                    record.seq
                )),
            ));
        } else if !taken_ids.insert(record.sale_id.as_str()) || !taken_seqs.insert(seq) {
            // The same sale or sequence twice in one batch: the first one stands.
            results.push(result(SaleStatus::Duplicate, None));
        } else {
            fresh.push(sale);
            results.push(result(SaleStatus::Accepted, None));
        }
    }
    if fresh.is_empty() {
        return Ok(results);
    }
    let received = now_ms();
    let mut rows = String::new();
    let mut payments = String::new();
    let mut points = String::new();
    for sale in &fresh {
        let r = &sale.record;
        let member = match &r.attribution {
            till_sync::Attribution::Member { member_id } => copy_text(member_id),
            till_sync::Attribution::Anonymous { .. } => "\\N".to_string(),
        };
        let canonical = String::from_utf8_lossy(&r.canonical_bytes()).into_owned();
        rows += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{member}\t{}\t{}\t{}\t{received}\n",
            copy_text(&r.sale_id),
            copy_text(store),
            copy_text(terminal),
            r.seq,
            r.created_at_ms,
            r.total,
            r.change,
            copy_text(&canonical),
            copy_text(&sale.prev_hash),
            copy_text(&sale.hash),
        );
        if let Some((member_id, earned)) = crate::points_for(r) {
            points += &format!(
                "{}\t{}\t{earned}\t{received}\n",
                copy_text(&r.sale_id),
                copy_text(&member_id)
            );
        }
        for (i, p) in r.payments.iter().enumerate() {
            payments += &format!(
                "{}\t{i}\t{}\t{}\n",
                copy_text(&r.sale_id),
                copy_text(&p.kind),
                p.amount
            );
        }
    }
    copy_in(
        tx,
        "COPY sales (sale_id, store_id, terminal_id, seq, created_at_ms, total, change, member_id, record, prev_hash, hash, received_ms) FROM STDIN",
        rows.as_bytes(),
    )?;
    copy_in(
        tx,
        "COPY sale_payments (sale_id, idx, kind, amount) FROM STDIN",
        payments.as_bytes(),
    )?;
    // Only sales new to HQ reach here, so each ledger row is written exactly once; the
    // primary key on sale_id would refuse a second one anyway.
    copy_in(
        tx,
        "COPY points_ledger (sale_id, member_id, points, created_ms) FROM STDIN",
        points.as_bytes(),
    )?;
    Ok(results)
}
