//! Shifts, the drawer's cash movements and the operations chain.
//!
//! Every operation (a shift's opening, its Z, a paid in or out, a no-sale opening, an audit
//! event) is an [`OpRecord`] appended to `ops_journal`, a hash chain of its own beside the
//! sales journal: gap-free `seq`, each record's canonical bytes stored as they were hashed,
//! and a head row (`ops_head`) updated in the same transaction, so a deleted newest record
//! shows. The `shifts` table indexes the chain: a shift's number (its Z number), who opened
//! it and when, its float, and the receipt numbers it covers.
//!
//! A shift's sales are the receipt numbers from its opening's `first_receipt` to the last
//! sale committed before its close, read by the sales table's key, so another shift's or
//! another till's records can never join its Z. The report's figures come from
//! [`ShiftTally`], the one function that adds them up, for X and Z alike.

use rusqlite::{OptionalExtension, Transaction, params};
use till_domain::Money;
use till_domain::shift::{
    CashCount, MovementKind, ReturnFigures, SaleHeader, ShiftReport, ShiftTally,
};
use till_domain::ticket::TenderKind;
use till_sync::api::{OpResult, SaleStatus, UploadedOp};
use till_sync::ops::{
    CashMovement, CountLine, NoSale, OP_RECORD_VERSION, Op, OpRecord, ShiftOpen, ZReport,
};
use till_sync::{GENESIS_HASH, chain_hash};

use super::{Result, Store, StoreError};

/// One shift, as the `shifts` table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Gap-free per terminal from 1; the Z report's number.
    pub number: u64,
    pub opened_at_ms: i64,
    pub opened_by: String,
    /// Minor units.
    pub opening_float: i64,
    /// The receipt number of the shift's first possible sale.
    pub first_receipt: u64,
    pub closed_at_ms: Option<i64>,
    pub closed_by: Option<String>,
    /// The last receipt number the shift covers, set at its close.
    pub last_receipt: Option<u64>,
}

/// A closed shift and its Z, as recorded in the operations chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedShift {
    pub shift: Shift,
    pub z: ZReport,
    /// The Z's record in the operations chain.
    pub record: OpRecord,
}

/// The first thing wrong with the operations chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpsProblem {
    /// An operation is missing: it was deleted.
    Gap { expected: u64, found: u64 },
    /// An operation's `prev_hash` is not the previous one's hash.
    BrokenLink { seq: u64 },
    /// An operation's bytes do not hash to its stored hash, or its columns disagree with its
    /// bytes: it was changed after it was recorded.
    Changed { seq: u64 },
    /// The head names a newer operation than the last one present: the newest were deleted.
    TailMissing { head_seq: u64, last_seq: u64 },
}

impl std::fmt::Display for OpsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpsProblem::Gap { expected, found } => write!(
                f,
                "gap at operation #{expected}: the next operation present is #{found}"
            ),
            OpsProblem::BrokenLink { seq } => write!(
                f,
                "break at operation #{seq}: it does not link to the operation before it"
            ),
            OpsProblem::Changed { seq } => write!(
                f,
                "break at operation #{seq}: it was changed after it was recorded"
            ),
            OpsProblem::TailMissing { head_seq, last_seq } => write!(
                f,
                "gap at operation #{}: the chain ends at #{last_seq} but recorded #{head_seq}",
                last_seq + 1
            ),
        }
    }
}

/// What checking the operations chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpsReport {
    pub checked: u64,
    pub last_hash: [u8; 32],
    pub problem: Option<OpsProblem>,
}

/// The operation kinds a shift's report reads, besides its sales.
const REPORTED_KINDS: &str =
    "('paid_in', 'paid_out', 'no_sale', 'line_void', 'ticket_cancel', 'return')";

impl Store {
    /// Opens a shift with `float` counted in the drawer, by `staff`. Refused while a shift is
    /// open ([`StoreError::ShiftOpen`]). The opening is a record in the operations chain.
    pub fn open_shift(&mut self, staff: &str, float: &CashCount) -> Result<(Shift, OpRecord)> {
        self.open_shift_approved(staff, None, float)
    }

    /// [`Self::open_shift`] by `staff`, whose role needed `approver`'s PIN (`[roles]`); the
    /// record names both.
    pub fn open_shift_approved(
        &mut self,
        staff: &str,
        approver: Option<&str>,
        float: &CashCount,
    ) -> Result<(Shift, OpRecord)> {
        let amount = float
            .total()
            .map_err(|e| StoreError::InvalidCount(e.to_string()))?;
        let tx = self.conn.transaction()?;
        if let Some(open) = open_shift_in(&tx)? {
            return Err(StoreError::ShiftOpen(open.number));
        }
        let number: u64 = tx.query_row(
            "SELECT coalesce(max(shift_no), 0) + 1 FROM shifts",
            [],
            |r| r.get(0),
        )?;
        let first_receipt: u64 =
            tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM sales", [], |r| {
                r.get(0)
            })?;
        let op = Op::ShiftOpen(ShiftOpen {
            float: amount,
            counts: CountLine::list(float.counts()),
            first_receipt,
        });
        let record = append_op(&tx, &self.identity, staff, approver, Some(number), op)?;
        tx.execute(
            "INSERT INTO shifts (shift_no, opened_at_ms, opened_by, opening_float, first_receipt,
                                 open_op_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                number,
                record.at_ms,
                staff,
                amount,
                first_receipt,
                record.seq
            ],
        )?;
        tx.commit()?;
        Ok((self.shift(number)?, record))
    }

    /// The open shift, if any.
    pub fn current_shift(&self) -> Result<Option<Shift>> {
        open_shift_in(&self.conn)
    }

    /// Shift number `number`, open or closed.
    pub fn shift(&self, number: u64) -> Result<Shift> {
        shift_in(&self.conn, number)?.ok_or(StoreError::ShiftNotFound(number))
    }

    /// The newest shifts first.
    pub fn shifts(&self, limit: u32) -> Result<Vec<Shift>> {
        let mut stmt = self.conn.prepare(&format!(
            "{SHIFT_COLUMNS} FROM shifts ORDER BY shift_no DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], shift_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The X report: the open shift's figures so far. Resets nothing and records nothing.
    pub fn x_report(&self) -> Result<(Shift, ShiftReport)> {
        let shift = open_shift_in(&self.conn)?.ok_or(StoreError::NoOpenShift)?;
        let tally = tally_in(&self.conn, &shift)?;
        Ok((shift, tally.report(None)))
    }

    /// Closes the open shift with the blind count `counted`, by `staff`: its Z report, a
    /// record in the operations chain, computed in the same transaction, so no sale or
    /// movement can land between the figures and the close. A ticket left open on the
    /// touchscreen is parked under its cashier in the same transaction. Refused with no open
    /// shift ([`StoreError::NoOpenShift`]), which is also what a second close gets.
    pub fn close_shift(&mut self, staff: &str, counted: &CashCount) -> Result<ClosedShift> {
        self.close_shift_approved(staff, None, counted)
    }

    /// [`Self::close_shift`] by `staff`, whose role needed `approver`'s PIN (`[roles]`); the
    /// record names both.
    pub fn close_shift_approved(
        &mut self,
        staff: &str,
        approver: Option<&str>,
        counted: &CashCount,
    ) -> Result<ClosedShift> {
        let amount = counted
            .total()
            .map_err(|e| StoreError::InvalidCount(e.to_string()))?;
        let tx = self.conn.transaction()?;
        let mut shift = open_shift_in(&tx)?.ok_or(StoreError::NoOpenShift)?;
        let last_receipt: u64 =
            tx.query_row("SELECT coalesce(max(seq), 0) FROM sales", [], |r| r.get(0))?;
        let report = tally_in(&tx, &shift)?.report(Some(amount));
        let z = ZReport::new(
            &report,
            shift.opened_at_ms,
            &shift.opened_by,
            counted.counts(),
        );
        let record = append_op(
            &tx,
            &self.identity,
            staff,
            approver,
            Some(shift.number),
            Op::ShiftClose(z.clone()),
        )?;
        tx.execute(
            "UPDATE shifts SET closed_at_ms = ?2, closed_by = ?3, last_receipt = ?4,
                               counted_cash = ?5, close_op_seq = ?6
             WHERE shift_no = ?1",
            params![
                shift.number,
                record.at_ms,
                staff,
                last_receipt,
                amount,
                record.seq
            ],
        )?;
        super::parked::park_open_ticket_in(&tx)?;
        tx.commit()?;
        shift.closed_at_ms = Some(record.at_ms);
        shift.closed_by = Some(staff.to_string());
        shift.last_receipt = Some(last_receipt);
        Ok(ClosedShift { shift, z, record })
    }

    /// The Z report of closed shift `number`, as recorded.
    pub fn z_report(&self, number: u64) -> Result<ClosedShift> {
        let shift = self.shift(number)?;
        let seq: Option<u64> = self.conn.query_row(
            "SELECT close_op_seq FROM shifts WHERE shift_no = ?1",
            [number],
            |r| r.get(0),
        )?;
        let seq = seq.ok_or(StoreError::ShiftNotClosed(number))?;
        let record = self.op(seq)?;
        match &record.op {
            Op::ShiftClose(z) => Ok(ClosedShift {
                shift,
                z: z.clone(),
                record,
            }),
            _ => Err(StoreError::Corrupt(format!(
                "shift {number}'s close names operation #{seq}, which is not a Z"
            ))),
        }
    }

    /// Pays cash in or out of the drawer (`amount` in minor units, positive), or records a
    /// no-sale opening (amount 0), in the open shift, with its `reason` (checked against the
    /// config by the caller). A paid out more than the drawer should hold is refused
    /// ([`StoreError::NotEnoughCash`]); so is cash moved with no open shift (a no-sale opening
    /// then belongs to no shift).
    pub fn cash_movement(
        &mut self,
        staff: &str,
        approver: Option<&str>,
        kind: MovementKind,
        amount: i64,
        reason: &str,
    ) -> Result<OpRecord> {
        let currency = self.currency;
        let tx = self.conn.transaction()?;
        let open = open_shift_in(&tx)?;
        // A no-sale opening is recorded even outside a shift (a till that sells without
        // shifts still opens its drawer); cash moved in or out belongs to one.
        if kind == MovementKind::NoSale && open.is_none() {
            let op = Op::NoSale(NoSale {
                reason: reason.to_string(),
            });
            let record = append_op(&tx, &self.identity, staff, approver, None, op)?;
            tx.commit()?;
            return Ok(record);
        }
        let shift = open.ok_or(StoreError::NoOpenShift)?;
        let op = match kind {
            MovementKind::NoSale => Op::NoSale(NoSale {
                reason: reason.to_string(),
            }),
            MovementKind::PaidIn | MovementKind::PaidOut => {
                if amount <= 0 {
                    return Err(StoreError::InvalidAmount(
                        Money::new(amount, currency).to_string(),
                    ));
                }
                let movement = CashMovement {
                    amount,
                    reason: reason.to_string(),
                };
                if kind == MovementKind::PaidIn {
                    Op::PaidIn(movement)
                } else {
                    let drawer = tally_in(&tx, &shift)?.cash_in_drawer();
                    if amount > drawer {
                        return Err(StoreError::NotEnoughCash {
                            asked: Money::new(amount, currency),
                            drawer: Money::new(drawer, currency),
                        });
                    }
                    Op::PaidOut(movement)
                }
            }
        };
        let record = append_op(&tx, &self.identity, staff, approver, Some(shift.number), op)?;
        tx.commit()?;
        Ok(record)
    }

    /// Appends an audit event (a void, a login, a lockout, …) to the operations chain, in the
    /// open shift if there is one.
    pub fn record_op(&mut self, staff: &str, approver: Option<&str>, op: Op) -> Result<OpRecord> {
        let tx = self.conn.transaction()?;
        let shift = open_shift_in(&tx)?.map(|s| s.number);
        let record = append_op(&tx, &self.identity, staff, approver, shift, op)?;
        tx.commit()?;
        Ok(record)
    }

    /// Operation `seq` of the operations chain.
    pub fn op(&self, seq: u64) -> Result<OpRecord> {
        let body: Vec<u8> = self
            .conn
            .query_row("SELECT body FROM ops_journal WHERE seq = ?1", [seq], |r| {
                body_bytes(r, 0)
            })
            .optional()?
            .ok_or(StoreError::OpNotFound(seq))?;
        decode_op(seq, &body)
    }

    /// The newest operations first, of shift `shift` if given.
    pub fn recent_ops(&self, shift: Option<u64>, limit: u32) -> Result<Vec<OpRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, body FROM ops_journal WHERE ?1 IS NULL OR shift_no = ?1
             ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![shift, limit], |r| {
            Ok((r.get::<_, u64>(0)?, body_bytes(r, 1)?))
        })?;
        rows.map(|row| {
            let (seq, body) = row?;
            decode_op(seq, &body)
        })
        .collect()
    }

    /// Up to `limit` operations HQ has not yet filed nor refused, oldest first, with their
    /// chain links, as they are uploaded.
    pub fn pending_ops(&self, limit: u32) -> Result<Vec<UploadedOp>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, body, prev_hash, hash FROM ops_journal
             WHERE acked_at_ms IS NULL AND rejected_reason IS NULL ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                body_bytes(r, 1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, body, prev_hash, hash) = row?;
            Ok(UploadedOp {
                record: decode_op(seq, &body)?,
                prev_hash: hex::encode(prev_hash),
                hash: hex::encode(hash),
            })
        })
        .collect()
    }

    /// Records HQ's answers: filed (accepted, or a duplicate of what it holds) or refused
    /// with its reason. Answers about operations this till does not hold change nothing.
    pub fn record_ops_filed(&self, results: &[OpResult]) -> Result<()> {
        let now = jiff::Timestamp::now().as_millisecond();
        let tx = self.conn.unchecked_transaction()?;
        for result in results {
            match result.status {
                SaleStatus::Accepted | SaleStatus::Duplicate => tx.execute(
                    "UPDATE ops_journal SET acked_at_ms = ?2 WHERE seq = ?1 AND acked_at_ms IS NULL",
                    params![result.seq, now],
                )?,
                SaleStatus::Rejected => tx.execute(
                    "UPDATE ops_journal SET rejected_reason = ?2 WHERE seq = ?1",
                    params![result.seq, result.reason.as_deref().unwrap_or("refused by HQ")],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// Operations not yet filed at HQ (refused ones excluded).
    pub fn ops_pending(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM ops_journal WHERE acked_at_ms IS NULL AND rejected_reason IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// Walks the operations chain and reports the first gap or break.
    pub fn verify_ops_journal(&self) -> Result<OpsReport> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, kind, shift_no, body, prev_hash, hash FROM ops_journal ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut expected = 1u64;
        let mut prev = GENESIS_HASH;
        let report = |checked: u64, prev, problem| {
            Ok(OpsReport {
                checked,
                last_hash: prev,
                problem,
            })
        };
        while let Some(row) = rows.next()? {
            let seq: u64 = row.get(0)?;
            let kind: String = row.get(1)?;
            let shift: Option<u64> = row.get(2)?;
            let body = body_bytes(row, 3)?;
            let prev_hash: Vec<u8> = row.get(4)?;
            let hash: Vec<u8> = row.get(5)?;
            if seq != expected {
                return report(
                    expected - 1,
                    prev,
                    Some(OpsProblem::Gap {
                        expected,
                        found: seq,
                    }),
                );
            }
            if prev_hash != prev {
                return report(expected - 1, prev, Some(OpsProblem::BrokenLink { seq }));
            }
            let computed = chain_hash(&prev, &body);
            let matches = OpRecord::from_canonical_bytes(&body)
                .is_ok_and(|r| r.seq == seq && r.op.kind() == kind && r.shift == shift);
            if hash != computed || !matches {
                return report(expected - 1, prev, Some(OpsProblem::Changed { seq }));
            }
            prev = computed;
            expected += 1;
        }
        let last_seq = expected - 1;
        let head: Option<u64> = self
            .conn
            .query_row("SELECT last_seq FROM ops_head WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(head_seq) = head.filter(|h| *h != last_seq) {
            return report(
                last_seq,
                prev,
                Some(OpsProblem::TailMissing { head_seq, last_seq }),
            );
        }
        report(last_seq, prev, None)
    }
}

const SHIFT_COLUMNS: &str = "SELECT shift_no, opened_at_ms, opened_by, opening_float, \
     first_receipt, closed_at_ms, closed_by, last_receipt";

fn shift_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Shift> {
    Ok(Shift {
        number: r.get(0)?,
        opened_at_ms: r.get(1)?,
        opened_by: r.get(2)?,
        opening_float: r.get(3)?,
        first_receipt: r.get(4)?,
        closed_at_ms: r.get(5)?,
        closed_by: r.get(6)?,
        last_receipt: r.get(7)?,
    })
}

pub(super) fn open_shift_in(conn: &rusqlite::Connection) -> Result<Option<Shift>> {
    Ok(conn
        .prepare_cached(&format!(
            "{SHIFT_COLUMNS} FROM shifts WHERE closed_at_ms IS NULL"
        ))?
        .query_row([], shift_row)
        .optional()?)
}

fn shift_in(conn: &rusqlite::Connection, number: u64) -> Result<Option<Shift>> {
    Ok(conn
        .prepare_cached(&format!("{SHIFT_COLUMNS} FROM shifts WHERE shift_no = ?1"))?
        .query_row([number], shift_row)
        .optional()?)
}

/// Whether a shift is open: what a sale checks, in its own transaction, when the config
/// requires one.
pub(super) fn shift_is_open(conn: &rusqlite::Connection) -> Result<bool> {
    Ok(open_shift_in(conn)?.is_some())
}

/// A record's stored bytes, whether the column holds them as text (as written) or as a blob
/// (as an edit might leave them): either way they are what is hashed.
fn body_bytes(r: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(match r.get_ref(column)? {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
        _ => Vec::new(),
    })
}

fn decode_op(seq: u64, body: &[u8]) -> Result<OpRecord> {
    OpRecord::from_canonical_bytes(body)
        .map_err(|e| StoreError::Corrupt(format!("operation #{seq}: {e}")))
}

/// Adds up shift `shift`'s records: its sales by receipt number (one pass over each of the
/// sales, lines and payments tables, by their keys), and its movements and voids from the
/// operations chain.
pub(super) fn tally_in(conn: &rusqlite::Connection, shift: &Shift) -> Result<ShiftTally> {
    let mut tally = ShiftTally::new(shift.opening_float);
    let from = shift.first_receipt;
    let to = shift.last_receipt.unwrap_or(u64::MAX >> 1);
    let mut sales = conn.prepare_cached(
        "SELECT seq, subtotal, discount, total, rounding, change, member_id IS NOT NULL
         FROM sales WHERE seq BETWEEN ?1 AND ?2",
    )?;
    let mut rows = sales.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        tally.add_sale(&SaleHeader {
            seq: r.get(0)?,
            subtotal: r.get(1)?,
            discount: r.get(2)?,
            total: r.get(3)?,
            rounding: r.get(4)?,
            change: r.get(5)?,
            member: r.get(6)?,
        });
    }
    let mut taxes = conn.prepare_cached(
        "SELECT tax_rate_bp, sum(tax) FROM sale_lines WHERE sale_seq BETWEEN ?1 AND ?2
         GROUP BY tax_rate_bp",
    )?;
    let mut rows = taxes.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        tally.add_sale_tax(r.get(0)?, r.get(1)?);
    }
    let mut payments = conn.prepare_cached(
        "SELECT kind, sum(amount) FROM payments WHERE sale_seq BETWEEN ?1 AND ?2 GROUP BY kind",
    )?;
    let mut rows = payments.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        let kind: String = r.get(0)?;
        let kind = TenderKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("a payment of unknown kind {kind:?}")))?;
        tally.add_sale_payment(kind, r.get(1)?);
    }
    let mut ops = conn.prepare_cached(&format!(
        "SELECT seq, body FROM ops_journal WHERE shift_no = ?1 AND kind IN {REPORTED_KINDS}"
    ))?;
    let mut rows = ops.query([shift.number])?;
    while let Some(r) = rows.next()? {
        let body = body_bytes(r, 1)?;
        match decode_op(r.get(0)?, &body)?.op {
            Op::PaidIn(m) => tally.add_movement(MovementKind::PaidIn, m.amount),
            Op::PaidOut(m) => tally.add_movement(MovementKind::PaidOut, m.amount),
            Op::NoSale(_) => tally.add_movement(MovementKind::NoSale, 0),
            Op::LineVoid(_) | Op::TicketCancel(_) => tally.add_void(),
            Op::Return(r) => tally.add_return(&return_figures(&r)),
            _ => {}
        }
    }
    Ok(tally)
}

/// A return's figures as the shift report needs them: the refund, its tax by rate, and the
/// tenders it went back to.
fn return_figures(r: &till_sync::ops::Return) -> ReturnFigures {
    let mut taxes: Vec<(u32, i64)> = Vec::new();
    for line in &r.lines {
        match taxes.iter_mut().find(|(rate, _)| *rate == line.tax_rate_bp) {
            Some(slot) => slot.1 += line.tax,
            None => taxes.push((line.tax_rate_bp, line.tax)),
        }
    }
    ReturnFigures {
        refund: r.refund,
        taxes,
        tenders: r
            .tenders
            .iter()
            .filter_map(|t| Some((TenderKind::parse(&t.kind)?, t.amount)))
            .collect(),
    }
}

/// Appends `op` to the operations chain in `tx`: the next sequence number, a UUIDv7, the
/// time, the link to the head, and the head moved on.
pub(super) fn append_op(
    tx: &Transaction<'_>,
    identity: &(String, String),
    staff: &str,
    approver: Option<&str>,
    shift: Option<u64>,
    op: Op,
) -> Result<OpRecord> {
    let head: Option<(u64, Vec<u8>)> = tx
        .prepare_cached("SELECT last_seq, last_hash FROM ops_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (last_seq, prev_hash) = match head {
        None => (0, GENESIS_HASH),
        Some((seq, hash)) => (
            seq,
            hash.try_into()
                .map_err(|_| StoreError::Corrupt("operations head hash is not 32 bytes".into()))?,
        ),
    };
    let now = jiff::Zoned::now();
    let record = OpRecord {
        v: OP_RECORD_VERSION,
        op_id: uuid::Uuid::now_v7().to_string(),
        store: identity.0.clone(),
        terminal: identity.1.clone(),
        seq: last_seq + 1,
        at_ms: now.timestamp().as_millisecond(),
        utc_offset_s: now.offset().seconds(),
        staff: staff.to_string(),
        approver: approver.map(str::to_string),
        shift,
        op,
    };
    let body = String::from_utf8(record.canonical_bytes())
        .map_err(|e| StoreError::Corrupt(format!("operation record: {e}")))?;
    let hash = chain_hash(&prev_hash, body.as_bytes());
    tx.prepare_cached(
        "INSERT INTO ops_journal (seq, kind, at_ms, shift_no, staff, body, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        record.seq,
        record.op.kind(),
        record.at_ms,
        shift,
        staff,
        body,
        prev_hash.as_slice(),
        hash.as_slice()
    ])?;
    tx.prepare_cached(
        "INSERT INTO ops_head (id, last_seq, last_hash) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
    )?
    .execute(params![record.seq, hash.as_slice()])?;
    Ok(record)
}

#[cfg(test)]
mod tests;
