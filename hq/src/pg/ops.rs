//! PostgreSQL: operations ingest, exactly once per (terminal, seq), and the Z reports.

use till_sync::api::{OpResult, OpsUploadResponse, UploadedOp};
use till_sync::ops::Op;

use crate::db::Result;
use crate::db::ops::{Held, HeldSale, RETURNS_OF_SALE, SaleForReturn, ZReportRow, verdict};

use super::{PgStore, big, db, now_ms};

impl PgStore {
    pub(super) fn ingest_ops_impl(
        &self,
        store: &str,
        terminal: &str,
        ops: &[UploadedOp],
    ) -> Result<OpsUploadResponse> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        // One upload of a terminal's operations at a time: a second copy waits, then finds
        // the first's rows.
        tx.execute(
            "SELECT 1 FROM terminals WHERE store_id = $1 AND terminal_id = $2 FOR UPDATE",
            &[&store, &terminal],
        )
        .map_err(db)?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let r = &op.record;
            let seq = big(r.seq);
            let z = ZReportRow::of(op);
            let at_seq = tx
                .query_opt(
                    "SELECT hash FROM ops WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                    &[&store, &terminal, &seq],
                )
                .map_err(db)?
                .map(|row| row.get::<_, String>(0));
            let z_by = match &z {
                None => None,
                Some(z) => tx
                    .query_opt(
                        "SELECT op_seq FROM z_reports
                         WHERE store_id = $1 AND terminal_id = $2 AND z_no = $3",
                        &[&store, &terminal, &big(z.z_no)],
                    )
                    .map_err(db)?
                    .map(|row| row.get::<_, i64>(0).unsigned_abs()),
            };
            let sale = match &r.op {
                Op::Return(ret) => {
                    // The sale's row, locked: another terminal's return of it waits, then
                    // sees what this one took.
                    let record = tx
                        .query_opt(
                            "SELECT record FROM sales WHERE sale_id = $1 FOR UPDATE",
                            &[&ret.sale_id],
                        )
                        .map_err(db)?
                        .map(|row| row.get::<_, String>(0));
                    let returned = tx
                        .query(
                            "SELECT line_no, qty_milli FROM returned_lines WHERE sale_id = $1",
                            &[&ret.sale_id],
                        )
                        .map_err(db)?
                        .iter()
                        .map(|row| {
                            (
                                u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX),
                                row.get::<_, i64>(1),
                            )
                        })
                        .collect();
                    Some(HeldSale { record, returned })
                }
                _ => None,
            };
            if let Some(answer) = verdict(op, &Held { at_seq, z_by, sale }) {
                results.push(answer);
                continue;
            }
            let shift = r.shift.map(big);
            tx.execute(
                "INSERT INTO ops (store_id, terminal_id, seq, op_id, kind, shift_no, at_ms, staff,
                                  approver, body, prev_hash, hash, received_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &store,
                    &terminal,
                    &seq,
                    &r.op_id,
                    &r.op.kind(),
                    &shift,
                    &r.at_ms,
                    &r.staff,
                    &r.approver,
                    &String::from_utf8_lossy(&r.canonical_bytes()).into_owned(),
                    &op.prev_hash,
                    &op.hash,
                    &now_ms(),
                ],
            )
            .map_err(db)?;
            if let Some(z) = z {
                tx.execute(
                    "INSERT INTO z_reports (store_id, terminal_id, z_no, op_seq, opened_at_ms,
                         opened_by, closed_at_ms, utc_offset_s, closed_by, sales_count, net,
                         expected_cash, counted_cash, difference, member_sales, first_receipt,
                         last_receipt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                             $16, $17)",
                    &[
                        &store,
                        &terminal,
                        &big(z.z_no),
                        &seq,
                        &z.opened_at_ms,
                        &z.opened_by,
                        &z.closed_at_ms,
                        &i64::from(z.utc_offset_s),
                        &z.closed_by,
                        &big(z.sales_count),
                        &z.net,
                        &z.expected_cash,
                        &z.counted_cash,
                        &z.difference,
                        &big(z.member_sales),
                        &big(z.first_receipt),
                        &big(z.last_receipt),
                    ],
                )
                .map_err(db)?;
            }
            if let Op::Return(ret) = &r.op {
                for line in &ret.lines {
                    tx.execute(
                        "INSERT INTO returned_lines (sale_id, line_no, store_id, terminal_id,
                                                     op_seq, qty_milli)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            &ret.sale_id,
                            &i64::from(line.line_no),
                            &store,
                            &terminal,
                            &seq,
                            &line.qty_milli,
                        ],
                    )
                    .map_err(db)?;
                }
            }
            results.push(OpResult::accepted(r.seq));
        }
        tx.commit().map_err(db)?;
        Ok(OpsUploadResponse { results })
    }

    pub(super) fn sale_for_return_impl(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
    ) -> Result<Option<SaleForReturn>> {
        let mut conn = self.live()?;
        let Some(sale) = conn
            .query_opt(
                "SELECT sale_id, record FROM sales
                 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &big(seq)],
            )
            .map_err(db)?
        else {
            return Ok(None);
        };
        let sale_id: String = sale.get(0);
        let returns = conn
            .query(RETURNS_OF_SALE, &[&sale_id])
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(Some(SaleForReturn {
            record: sale.get(1),
            returns,
        }))
    }

    pub(super) fn z_reports_impl(
        &self,
        store: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ZReportRow>> {
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT store_id, terminal_id, z_no, opened_at_ms, opened_by, closed_at_ms,
                        utc_offset_s, closed_by, sales_count, net, expected_cash, counted_cash,
                        difference, member_sales, first_receipt, last_receipt
                 FROM z_reports WHERE $1::TEXT IS NULL OR store_id = $1
                 ORDER BY closed_at_ms DESC, store_id, terminal_id LIMIT $2",
                &[&store, &i64::from(limit)],
            )
            .map_err(db)?;
        let count = |r: &postgres::Row, i: usize| r.get::<_, i64>(i).unsigned_abs();
        Ok(rows
            .iter()
            .map(|r| ZReportRow {
                store: r.get(0),
                terminal: r.get(1),
                z_no: count(r, 2),
                opened_at_ms: r.get(3),
                opened_by: r.get(4),
                closed_at_ms: r.get(5),
                utc_offset_s: i32::try_from(r.get::<_, i64>(6)).unwrap_or_default(),
                closed_by: r.get(7),
                sales_count: count(r, 8),
                net: r.get(9),
                expected_cash: r.get(10),
                counted_cash: r.get(11),
                difference: r.get(12),
                member_sales: count(r, 13),
                first_receipt: count(r, 14),
                last_receipt: count(r, 15),
            })
            .collect())
    }
}
