//! Returns of this terminal's sales: what is left to return of each line, and the return
//! itself, committed in one transaction that checks what is left, so no line is refunded
//! twice, however many returns race (two tills' `till return` on one database wait for each
//! other's write lock).
//!
//! A return is an operation ([`Op::Return`]) in the operations chain, naming the original
//! sale; `returned_lines`, `returned_tenders` and `points_reversals` index what returns took,
//! for the next return's check and the member's points. The amounts and the tenders come from
//! `till_domain::returns`, the one place they are decided.

use rusqlite::params;
use till_domain::Money;
use till_domain::returns::{
    LineRefund, ReturnError, ReturnPolicy, Returned, SoldLine, line_refund, points_to_reverse,
    refund_tenders,
};
use till_domain::ticket::TenderKind;
use till_sync::ops::{Op, OpRecord, RefundTender, Return, ReturnLine};
use till_sync::{Attribution, SaleRecord};

use super::sales::load_record;
use super::shifts::{append_op, open_shift_in, tally_in};
use super::{Result, Store, StoreError};

/// One line of a sale as the return screen shows it: what was sold and what is left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnableLine {
    pub line_no: u32,
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub weighed: bool,
    /// Thousandths (grams for weighed goods).
    pub sold_milli: i64,
    pub left_milli: i64,
    /// What the line came to, and what earlier returns refunded of it, in minor units.
    pub total: i64,
    pub refunded: i64,
}

/// What the cashier picked: the sale, and `(line number, thousandths)` to take back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnRequest {
    pub sale_seq: u64,
    pub lines: Vec<(u32, i64)>,
    /// Why the customer returned it (free text, may be empty).
    pub reason: String,
    /// The config's return window and approval limit.
    pub policy: ReturnPolicy,
}

/// A committed return: its record in the operations chain and the sale it returned from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedReturn {
    pub record: OpRecord,
    pub ret: Return,
    pub sale: SaleRecord,
}

impl Store {
    /// Sale `seq`'s lines with what is left to return of each.
    pub fn returnable(&self, seq: u64) -> Result<(SaleRecord, Vec<ReturnableLine>)> {
        let sale = load_record(&self.conn, seq)?.ok_or(StoreError::SaleNotFound(seq))?;
        let mut lines = Vec::with_capacity(sale.lines.len());
        for l in &sale.lines {
            let returned = returned_of(&self.conn, seq, l.line_no)?;
            let sold = sold_line(l);
            lines.push(ReturnableLine {
                line_no: l.line_no,
                sku: l.sku.clone(),
                name_zh: l.name_zh.clone(),
                name_en: l.name_en.clone(),
                weighed: l.weighed,
                sold_milli: l.qty_milli,
                left_milli: till_domain::returns::refundable(&sold, &returned),
                total: l.total,
                refunded: returned.amount,
            });
        }
        Ok((sale, lines))
    }

    /// Commits a return by `staff` (approved by `approver`, when the caller's policy needed
    /// one) in the open shift: each picked line checked against what is left in this same
    /// transaction, the refund split back over the sale's tenders, the points its part
    /// earned reversed, all recorded as one operation. Refused, with nothing written: no
    /// open shift, an unknown sale or line, a line picked twice, more than is left
    /// ([`StoreError::Return`]), a return the policy reserves for a manager without one
    /// ([`StoreError::ReturnNeedsManager`]), or a cash refund over what the drawer should
    /// hold.
    pub fn commit_return(
        &mut self,
        staff: &str,
        approver: Option<&str>,
        request: &ReturnRequest,
    ) -> Result<CommittedReturn> {
        let currency = self.currency;
        let tx = self.conn.transaction()?;
        let shift = open_shift_in(&tx)?.ok_or(StoreError::NoOpenShift)?;
        let sale = load_record(&tx, request.sale_seq)?
            .ok_or(StoreError::SaleNotFound(request.sale_seq))?;
        if request.lines.is_empty() {
            return Err(StoreError::Return(ReturnError::Empty));
        }
        for (i, (line_no, _)) in request.lines.iter().enumerate() {
            if request.lines[..i].iter().any(|(n, _)| n == line_no) {
                return Err(StoreError::LinePickedTwice(*line_no));
            }
        }
        let mut refunds: Vec<(LineRefund, &till_sync::SaleLine)> = Vec::new();
        for (line_no, qty) in &request.lines {
            let line = sale
                .lines
                .iter()
                .find(|l| l.line_no == *line_no)
                .ok_or(StoreError::Return(ReturnError::UnknownLine(*line_no)))?;
            let returned = returned_of(&tx, sale.seq, *line_no)?;
            let refund = line_refund(&sold_line(line), &returned, *qty)?;
            refunds.push((refund, line));
        }
        let refund: i64 = refunds.iter().map(|(r, _)| r.amount).sum();
        let now = jiff::Timestamp::now().as_millisecond();
        if approver.is_none()
            && let Some(reason) = request
                .policy
                .needs_manager(sale.created_at_ms, now, refund)
        {
            return Err(StoreError::ReturnNeedsManager(reason));
        }
        let paid: Vec<(TenderKind, i64)> = sale
            .payments
            .iter()
            .filter_map(|p| Some((TenderKind::parse(&p.kind)?, p.amount)))
            .collect();
        let mut before_stmt = tx.prepare_cached(
            "SELECT kind, sum(amount) FROM returned_tenders WHERE sale_seq = ?1 GROUP BY kind",
        )?;
        let before: Vec<(TenderKind, i64)> = before_stmt
            .query_map([sale.seq], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
            .filter_map(|row| match row {
                Ok((kind, amount)) => Some(Ok((TenderKind::parse(&kind)?, amount))),
                Err(e) => Some(Err(e)),
            })
            .collect::<rusqlite::Result<_>>()?;
        drop(before_stmt);
        let tenders = refund_tenders(&paid, sale.change, &before, refund);
        let cash_out: i64 = tenders
            .iter()
            .filter(|(k, _)| *k == TenderKind::Cash)
            .map(|(_, a)| a)
            .sum();
        if cash_out > 0 {
            let drawer = tally_in(&tx, &shift)?.cash_in_drawer();
            if cash_out > drawer {
                return Err(StoreError::NotEnoughCash {
                    asked: Money::new(cash_out, currency),
                    drawer: Money::new(drawer, currency),
                });
            }
        }
        let member_id = match &sale.attribution {
            Attribution::Member { member_id } => Some(member_id.clone()),
            Attribution::Anonymous { .. } => None,
        };
        let (refunded_before, reversed_before): (i64, i64) = tx.query_row(
            "SELECT coalesce((SELECT sum(amount) FROM returned_lines WHERE sale_seq = ?1), 0),
                    coalesce((SELECT sum(points) FROM points_reversals WHERE sale_seq = ?1), 0)",
            [sale.seq],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let points = match &member_id {
            Some(_) => points_to_reverse(
                till_sync::loyalty::earned(&sale),
                sale.payable(),
                refunded_before + refund,
                reversed_before,
            ),
            None => 0,
        };
        let ret = Return {
            sale_store: sale.store.clone(),
            sale_terminal: sale.terminal.clone(),
            sale_seq: sale.seq,
            sale_id: sale.sale_id.clone(),
            member_id: member_id.clone(),
            lines: refunds
                .iter()
                .map(|(r, l)| ReturnLine {
                    line_no: r.line_no,
                    sku: l.sku.clone(),
                    name: l.name_zh.clone(),
                    qty_milli: r.qty_milli,
                    amount: r.amount,
                    tax: r.tax,
                    tax_rate_bp: l.tax_rate_bp,
                })
                .collect(),
            refund,
            tenders: tenders
                .iter()
                .map(|(kind, amount)| RefundTender {
                    kind: kind.as_str().to_string(),
                    amount: *amount,
                    reference: sale
                        .payments
                        .iter()
                        .find(|p| p.kind == kind.as_str())
                        .and_then(|p| p.reference.clone()),
                })
                .collect(),
            points,
            reason: request.reason.clone(),
        };
        let record = append_op(
            &tx,
            &self.identity,
            staff,
            approver,
            Some(shift.number),
            Op::Return(ret.clone()),
        )?;
        for (r, _) in &refunds {
            tx.prepare_cached(
                "INSERT INTO returned_lines (sale_seq, line_no, op_seq, qty_milli, amount, tax)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                sale.seq,
                r.line_no,
                record.seq,
                r.qty_milli,
                r.amount,
                r.tax
            ])?;
        }
        for (kind, amount) in &tenders {
            tx.prepare_cached(
                "INSERT INTO returned_tenders (sale_seq, op_seq, kind, amount)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![sale.seq, record.seq, kind.as_str(), amount])?;
        }
        if let (Some(member), true) = (&member_id, points > 0) {
            tx.prepare_cached(
                "INSERT INTO points_reversals (op_seq, sale_seq, member_id, points)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![record.seq, sale.seq, member, points])?;
        }
        tx.commit()?;
        Ok(CommittedReturn { record, ret, sale })
    }
}

fn sold_line(l: &till_sync::SaleLine) -> SoldLine {
    SoldLine {
        line_no: l.line_no,
        qty_milli: l.qty_milli,
        weighed: l.weighed,
        total: l.total,
        tax: l.tax,
    }
}

/// What earlier returns took of line `line_no` of sale `seq`.
fn returned_of(conn: &rusqlite::Connection, seq: u64, line_no: u32) -> Result<Returned> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(qty_milli), 0), coalesce(sum(amount), 0), coalesce(sum(tax), 0)
             FROM returned_lines WHERE sale_seq = ?1 AND line_no = ?2",
        )?
        .query_row(params![seq, line_no], |r| {
            Ok(Returned {
                qty_milli: r.get(0)?,
                amount: r.get(1)?,
                tax: r.get(2)?,
            })
        })?)
}

#[cfg(test)]
mod tests;
