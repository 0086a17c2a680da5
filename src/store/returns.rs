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
use till_sync::api::SaleForReturn;
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
        let earlier = Earlier::local(&self.conn, seq)?;
        let lines = returnable_lines(&sale, &earlier);
        Ok((sale, lines))
    }

    /// The lines of a sale of another terminal of the store, as HQ sent it (`found`), with
    /// what is left to return of each after the returns HQ has filed and this till's own not
    /// yet filed.
    pub fn returnable_from_hq(&self, found: &SaleForReturn) -> Result<Vec<ReturnableLine>> {
        let earlier = self.earlier_of_hq_sale(found)?;
        Ok(returnable_lines(&found.sale, &earlier))
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
        let earlier = Earlier::local(&tx, sale.seq)?;
        let who = (staff, approver);
        let (record, ret, refunds) = append_return(
            &tx,
            &self.identity,
            currency,
            who,
            &shift,
            (&sale, &earlier),
            request,
        )?;
        for r in &refunds {
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
        for t in &ret.tenders {
            tx.prepare_cached(
                "INSERT INTO returned_tenders (sale_seq, op_seq, kind, amount)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![sale.seq, record.seq, t.kind, t.amount])?;
        }
        if let (Some(member), true) = (&ret.member_id, ret.points > 0) {
            tx.prepare_cached(
                "INSERT INTO points_reversals (op_seq, sale_seq, member_id, points)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![record.seq, sale.seq, member, ret.points])?;
        }
        tx.commit()?;
        Ok(CommittedReturn { record, ret, sale })
    }

    /// [`Self::commit_return`] of a sale of another terminal of the store, as HQ sent it
    /// (`found`; `request.sale_seq` is its receipt number). What is left is what was sold less
    /// the returns HQ filed and this till's own returns of it not yet filed; HQ checks the
    /// return again, across every terminal, when it files it. The return is a record in this
    /// till's operations journal, refunded from this drawer.
    pub fn commit_return_of_hq_sale(
        &mut self,
        staff: &str,
        approver: Option<&str>,
        found: &SaleForReturn,
        request: &ReturnRequest,
    ) -> Result<CommittedReturn> {
        let currency = self.currency;
        let (store, terminal) = self.identity();
        let sale = &found.sale;
        if sale.store != store || sale.seq != request.sale_seq {
            return Err(StoreError::SaleNotFound(request.sale_seq));
        }
        if sale.terminal == terminal {
            // This till's own sale is returned from its own records.
            return self.commit_return(staff, approver, request);
        }
        let earlier = self.earlier_of_hq_sale(found)?;
        let tx = self.conn.transaction()?;
        let shift = open_shift_in(&tx)?.ok_or(StoreError::NoOpenShift)?;
        // Read again inside the transaction: another return of it may have just committed.
        let earlier = Earlier::of_records(
            &sale.sale_id,
            earlier
                .records
                .iter()
                .chain(&local_returns_of(&tx, &sale.sale_id)?),
        );
        let who = (staff, approver);
        let (record, ret, _) = append_return(
            &tx,
            &self.identity,
            currency,
            who,
            &shift,
            (sale, &earlier),
            request,
        )?;
        tx.commit()?;
        Ok(CommittedReturn {
            record,
            ret,
            sale: sale.clone(),
        })
    }

    /// What earlier returns took of a sale HQ sent: the ones HQ filed, and this till's own
    /// not yet filed (or filed since), each once.
    fn earlier_of_hq_sale(&self, found: &SaleForReturn) -> Result<Earlier> {
        let own = local_returns_of(&self.conn, &found.sale.sale_id)?;
        Ok(Earlier::of_records(
            &found.sale.sale_id,
            found.returns.iter().chain(&own),
        ))
    }
}

/// What earlier returns took of a sale: of each line, of each tender, in all, and the points
/// they reversed.
#[derive(Clone, Debug, Default)]
struct Earlier {
    lines: Vec<(u32, Returned)>,
    tenders: Vec<(TenderKind, i64)>,
    refunded: i64,
    points: i64,
    /// The return records it was added up from (for a sale of another terminal).
    records: Vec<OpRecord>,
}

impl Earlier {
    fn line(&self, line_no: u32) -> Returned {
        self.lines
            .iter()
            .find(|(n, _)| *n == line_no)
            .map(|(_, r)| *r)
            .unwrap_or_default()
    }

    /// From this till's index of the returns of its own sale `seq`.
    fn local(conn: &rusqlite::Connection, seq: u64) -> Result<Earlier> {
        let lines = conn
            .prepare_cached(
                "SELECT line_no, sum(qty_milli), sum(amount), sum(tax) FROM returned_lines
                 WHERE sale_seq = ?1 GROUP BY line_no",
            )?
            .query_map([seq], |r| {
                Ok((
                    r.get(0)?,
                    Returned {
                        qty_milli: r.get(1)?,
                        amount: r.get(2)?,
                        tax: r.get(3)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<(u32, Returned)>>>()?;
        let tenders = conn
            .prepare_cached(
                "SELECT kind, sum(amount) FROM returned_tenders WHERE sale_seq = ?1 GROUP BY kind",
            )?
            .query_map([seq], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
            .filter_map(|row| match row {
                Ok((kind, amount)) => Some(Ok((TenderKind::parse(&kind)?, amount))),
                Err(e) => Some(Err(e)),
            })
            .collect::<rusqlite::Result<_>>()?;
        let points = conn.query_row(
            "SELECT coalesce(sum(points), 0) FROM points_reversals WHERE sale_seq = ?1",
            [seq],
            |r| r.get(0),
        )?;
        let refunded = lines.iter().map(|(_, r)| r.amount).sum();
        Ok(Earlier {
            lines,
            tenders,
            refunded,
            points,
            records: Vec::new(),
        })
    }

    /// From return records of sale `sale_id`, each counted once (by its operation ID).
    fn of_records<'a>(sale_id: &str, records: impl Iterator<Item = &'a OpRecord>) -> Earlier {
        let mut earlier = Earlier::default();
        for record in records {
            let Op::Return(ret) = &record.op else {
                continue;
            };
            if ret.sale_id != sale_id || earlier.records.iter().any(|r| r.op_id == record.op_id) {
                continue;
            }
            for line in &ret.lines {
                match earlier.lines.iter_mut().find(|(n, _)| *n == line.line_no) {
                    Some((_, r)) => {
                        r.qty_milli += line.qty_milli;
                        r.amount += line.amount;
                        r.tax += line.tax;
                    }
                    None => earlier.lines.push((
                        line.line_no,
                        Returned {
                            qty_milli: line.qty_milli,
                            amount: line.amount,
                            tax: line.tax,
                        },
                    )),
                }
            }
            for t in &ret.tenders {
                let Some(kind) = TenderKind::parse(&t.kind) else {
                    continue;
                };
                match earlier.tenders.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, a)) => *a += t.amount,
                    None => earlier.tenders.push((kind, t.amount)),
                }
            }
            earlier.refunded += ret.refund;
            earlier.points += ret.points;
            earlier.records.push(record.clone());
        }
        earlier
    }
}

/// This till's own returns of sale `sale_id` in its operations journal, but those HQ refused.
fn local_returns_of(conn: &rusqlite::Connection, sale_id: &str) -> Result<Vec<OpRecord>> {
    let rows = conn
        .prepare_cached(
            "SELECT seq, body FROM ops_journal WHERE kind = 'return' AND rejected_reason IS NULL",
        )?
        .query_map([], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut found = Vec::new();
    for (seq, body) in rows {
        // Most returns are of this till's own sales: skip them before decoding.
        if !body.contains(sale_id) {
            continue;
        }
        let record = OpRecord::from_canonical_bytes(body.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("operation #{seq}: {e}")))?;
        found.push(record);
    }
    Ok(found)
}

/// Each of `sale`'s lines with what is left to return of it after `earlier`.
fn returnable_lines(sale: &SaleRecord, earlier: &Earlier) -> Vec<ReturnableLine> {
    sale.lines
        .iter()
        .map(|l| {
            let returned = earlier.line(l.line_no);
            ReturnableLine {
                line_no: l.line_no,
                sku: l.sku.clone(),
                name_zh: l.name_zh.clone(),
                name_en: l.name_en.clone(),
                weighed: l.weighed,
                sold_milli: l.qty_milli,
                left_milli: till_domain::returns::refundable(&sold_line(l), &returned),
                total: l.total,
                refunded: returned.amount,
            }
        })
        .collect()
}

/// The return `request` asks of `sale` after `earlier`, by the rules of
/// `till_domain::returns`: each line's refund, the tenders it goes back to, the points it
/// reverses. Refused: nothing picked, a line picked twice or unknown, more than is left, or
/// (without `approver`) what the policy reserves for a manager.
fn draft_return(
    sale: &SaleRecord,
    earlier: &Earlier,
    request: &ReturnRequest,
    approver: Option<&str>,
) -> Result<(Return, Vec<LineRefund>)> {
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
        let refund = line_refund(&sold_line(line), &earlier.line(*line_no), *qty)?;
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
    let tenders = refund_tenders(&paid, sale.change, &earlier.tenders, refund);
    let member_id = match &sale.attribution {
        Attribution::Member { member_id } => Some(member_id.clone()),
        Attribution::Anonymous { .. } => None,
    };
    let points = match &member_id {
        Some(_) => points_to_reverse(
            till_sync::loyalty::earned(sale),
            sale.payable(),
            earlier.refunded + refund,
            earlier.points,
        ),
        None => 0,
    };
    let ret = Return {
        sale_store: sale.store.clone(),
        sale_terminal: sale.terminal.clone(),
        sale_seq: sale.seq,
        sale_id: sale.sale_id.clone(),
        member_id,
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
    Ok((ret, refunds.into_iter().map(|(r, _)| r).collect()))
}

/// Drafts the return `request` asks of `sale` after `earlier`, checks that the drawer of
/// `shift` can pay its cash, and appends it to the operations chain in `tx`, by `who` (the
/// staff member and any approver): the one path both kinds of return take.
fn append_return(
    tx: &rusqlite::Transaction<'_>,
    identity: &(String, String),
    currency: till_domain::Currency,
    who: (&str, Option<&str>),
    shift: &super::Shift,
    (sale, earlier): (&SaleRecord, &Earlier),
    request: &ReturnRequest,
) -> Result<(OpRecord, Return, Vec<LineRefund>)> {
    let (staff, approver) = who;
    let (ret, refunds) = draft_return(sale, earlier, request, approver)?;
    check_drawer(tx, shift, &ret, currency)?;
    let record = append_op(
        tx,
        identity,
        staff,
        approver,
        Some(shift.number),
        Op::Return(ret.clone()),
    )?;
    Ok((record, ret, refunds))
}

/// Refuses a cash refund over what the drawer of `shift` should hold.
fn check_drawer(
    tx: &rusqlite::Connection,
    shift: &super::Shift,
    ret: &Return,
    currency: till_domain::Currency,
) -> Result<()> {
    let cash_out: i64 = ret
        .tenders
        .iter()
        .filter(|t| t.kind == TenderKind::Cash.as_str())
        .map(|t| t.amount)
        .sum();
    if cash_out > 0 {
        let drawer = tally_in(tx, shift)?.cash_in_drawer();
        if cash_out > drawer {
            return Err(StoreError::NotEnoughCash {
                asked: Money::new(cash_out, currency),
                drawer: Money::new(drawer, currency),
            });
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests;
