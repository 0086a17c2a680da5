//! SQLite: operations ingest, exactly once per (terminal, seq), and the Z reports.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use till_sync::api::{OpResult, OpsUploadResponse, UploadedOp};
use till_sync::ops::Op;

use crate::db::Result;
use crate::db::ops::{Held, HeldSale, RETURNS_OF_SALE, SaleForReturn, ZReportRow, verdict};

use super::{SqliteStore, now_ms};

impl SqliteStore {
    pub(super) fn ingest_ops_impl(
        &self,
        store: &str,
        terminal: &str,
        ops: &[UploadedOp],
    ) -> Result<OpsUploadResponse> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let r = &op.record;
            let z = ZReportRow::of(op);
            let held = Held {
                at_seq: tx
                    .prepare_cached(
                        "SELECT hash FROM ops WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
                    )?
                    .query_row(params![store, terminal, r.seq], |row| row.get(0))
                    .optional()?,
                z_by: match &z {
                    None => None,
                    Some(z) => tx
                        .prepare_cached(
                            "SELECT op_seq FROM z_reports
                             WHERE store_id = ?1 AND terminal_id = ?2 AND z_no = ?3",
                        )?
                        .query_row(params![store, terminal, z.z_no], |row| row.get(0))
                        .optional()?,
                },
                sale: match &r.op {
                    Op::Return(ret) => {
                        let record: Option<String> = tx
                            .prepare_cached("SELECT record FROM sales WHERE sale_id = ?1")?
                            .query_row([&ret.sale_id], |row| row.get(0))
                            .optional()?;
                        let returned = tx
                            .prepare_cached(
                                "SELECT line_no, qty_milli FROM returned_lines WHERE sale_id = ?1",
                            )?
                            .query_map([&ret.sale_id], |row| Ok((row.get(0)?, row.get(1)?)))?
                            .collect::<rusqlite::Result<Vec<(u32, i64)>>>()?;
                        Some(HeldSale { record, returned })
                    }
                    _ => None,
                },
            };
            if let Some(answer) = verdict(op, &held) {
                results.push(answer);
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO ops (store_id, terminal_id, seq, op_id, kind, shift_no, at_ms, staff,
                                  approver, body, prev_hash, hash, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                store,
                terminal,
                r.seq,
                r.op_id,
                r.op.kind(),
                r.shift,
                r.at_ms,
                r.staff,
                r.approver,
                String::from_utf8_lossy(&r.canonical_bytes()),
                op.prev_hash,
                op.hash,
                now_ms()
            ])?;
            if let Some(z) = z {
                tx.prepare_cached(
                    "INSERT INTO z_reports (store_id, terminal_id, z_no, op_seq, opened_at_ms,
                         opened_by, closed_at_ms, utc_offset_s, closed_by, sales_count, net,
                         expected_cash, counted_cash, difference, member_sales, first_receipt,
                         last_receipt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                             ?16, ?17)",
                )?
                .execute(params![
                    store,
                    terminal,
                    z.z_no,
                    r.seq,
                    z.opened_at_ms,
                    z.opened_by,
                    z.closed_at_ms,
                    z.utc_offset_s,
                    z.closed_by,
                    z.sales_count,
                    z.net,
                    z.expected_cash,
                    z.counted_cash,
                    z.difference,
                    z.member_sales,
                    z.first_receipt,
                    z.last_receipt
                ])?;
            }
            if let Op::Return(ret) = &r.op {
                for line in &ret.lines {
                    tx.prepare_cached(
                        "INSERT INTO returned_lines (sale_id, line_no, store_id, terminal_id,
                                                     op_seq, qty_milli)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        ret.sale_id,
                        line.line_no,
                        store,
                        terminal,
                        r.seq,
                        line.qty_milli
                    ])?;
                }
            }
            results.push(OpResult::accepted(r.seq));
        }
        tx.commit()?;
        Ok(OpsUploadResponse { results })
    }

    pub(super) fn sale_for_return_impl(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
    ) -> Result<Option<SaleForReturn>> {
        let conn = self.r()?;
        let sale: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT sale_id, record FROM sales
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            )?
            .query_row(params![store, terminal, seq], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((sale_id, record)) = sale else {
            return Ok(None);
        };
        let returns = conn
            .prepare_cached(&RETURNS_OF_SALE.replace("$1", "?1"))?
            .query_map([&sale_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(Some(SaleForReturn { record, returns }))
    }

    pub(super) fn z_reports_impl(
        &self,
        store: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ZReportRow>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare(
            "SELECT store_id, terminal_id, z_no, opened_at_ms, opened_by, closed_at_ms,
                    utc_offset_s, closed_by, sales_count, net, expected_cash, counted_cash,
                    difference, member_sales, first_receipt, last_receipt
             FROM z_reports WHERE ?1 IS NULL OR store_id = ?1
             ORDER BY closed_at_ms DESC, store_id, terminal_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![store, limit], |r| {
            Ok(ZReportRow {
                store: r.get(0)?,
                terminal: r.get(1)?,
                z_no: r.get(2)?,
                opened_at_ms: r.get(3)?,
                opened_by: r.get(4)?,
                closed_at_ms: r.get(5)?,
                utc_offset_s: r.get(6)?,
                closed_by: r.get(7)?,
                sales_count: r.get(8)?,
                net: r.get(9)?,
                expected_cash: r.get(10)?,
                counted_cash: r.get(11)?,
                difference: r.get(12)?,
                member_sales: r.get(13)?,
                first_receipt: r.get(14)?,
                last_receipt: r.get(15)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
