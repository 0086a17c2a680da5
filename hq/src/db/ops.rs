//! Each terminal's operations journal at HQ (shift openings, Z reports, paid in and out,
//! no-sale openings, voids, logins, lockouts) and the Z reports drawn from it. What both
//! backends decide about an uploaded operation is decided here, once.

use till_domain::quantity::Quantity;
use till_domain::returns::{Returned, SoldLine, refundable};
use till_sync::SaleRecord;
use till_sync::api::{OpResult, UploadedOp};
use till_sync::ops::{Op, Return};

/// One Z report as HQ lists it (`till-hq z-reports`). Amounts in minor units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZReportRow {
    pub store: String,
    pub terminal: String,
    /// The shift's number on its terminal, gap-free.
    pub z_no: u64,
    pub opened_at_ms: i64,
    pub opened_by: String,
    pub closed_at_ms: i64,
    /// The terminal's UTC offset at the close, to show it in the store's time.
    pub utc_offset_s: i32,
    pub closed_by: String,
    pub sales_count: u64,
    pub net: i64,
    pub expected_cash: i64,
    pub counted_cash: i64,
    /// counted − expected: negative when cash was missing.
    pub difference: i64,
    pub member_sales: u64,
    pub first_receipt: u64,
    pub last_receipt: u64,
}

impl ZReportRow {
    /// The row a Z record files, or None for any other operation.
    pub(crate) fn of(op: &UploadedOp) -> Option<ZReportRow> {
        let r = &op.record;
        let (Op::ShiftClose(z), Some(z_no)) = (&r.op, r.shift) else {
            return None;
        };
        Some(ZReportRow {
            store: r.store.clone(),
            terminal: r.terminal.clone(),
            z_no,
            opened_at_ms: z.opened_at_ms,
            opened_by: z.opened_by.clone(),
            closed_at_ms: r.at_ms,
            utc_offset_s: r.utc_offset_s,
            closed_by: r.staff.clone(),
            sales_count: z.sales_count,
            net: z.net,
            expected_cash: z.expected_cash,
            counted_cash: z.counted_cash,
            difference: z.difference,
            member_sales: z.member_sales,
            first_receipt: z.first_receipt,
            last_receipt: z.last_receipt,
        })
    }
}

/// A sale as HQ holds it, for its return at another terminal: its canonical record and the
/// canonical records of the returns filed against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleForReturn {
    pub record: String,
    pub returns: Vec<String>,
}

/// The query both backends run for a sale's returns: the return operations that took any of
/// its lines, each once.
pub(crate) const RETURNS_OF_SALE: &str = "SELECT o.body FROM ops o
     WHERE EXISTS (SELECT 1 FROM returned_lines r
                   WHERE r.sale_id = $1 AND r.store_id = o.store_id
                     AND r.terminal_id = o.terminal_id AND r.op_seq = o.seq)
     ORDER BY o.store_id, o.terminal_id, o.seq";

/// What HQ already holds that bears on filing `op`.
pub(crate) struct Held {
    /// The hash of the operation HQ holds at the same terminal and sequence number.
    pub at_seq: Option<String>,
    /// The sequence number of the operation that filed the same Z number, if `op` is a Z.
    pub z_by: Option<u64>,
    /// For a return: the sale as HQ holds it and what was returned of it.
    pub sale: Option<HeldSale>,
}

/// A returned sale as HQ holds it.
pub(crate) struct HeldSale {
    /// Its canonical record; None when HQ has no such sale.
    pub record: Option<String>,
    /// `(line, thousandths)` that returns filed earlier, from any terminal, took of it.
    pub returned: Vec<(u32, i64)>,
}

/// Whether to file `op`: None to file it, or the answer it gets instead (a duplicate of what
/// HQ holds, or a refusal: another record under its sequence number, or a second Z for its
/// shift).
pub(crate) fn verdict(op: &UploadedOp, held: &Held) -> Option<OpResult> {
    let seq = op.record.seq;
    if let Some(hash) = &held.at_seq {
        return Some(if *hash == op.hash {
            OpResult::duplicate(seq)
        } else {
            OpResult::rejected(
                seq,
                format!("operation #{seq} of this terminal is already filed with another record"),
            )
        });
    }
    if let (Op::Return(r), Some(sale)) = (&op.record.op, &held.sale) {
        return return_verdict(seq, r, sale.record.as_deref(), &sale.returned);
    }
    if let Some(other) = held.z_by {
        return Some(OpResult::rejected(
            seq,
            format!(
                "Z {} of this terminal is already filed (operation #{other})",
                op.record.shift.unwrap_or_default()
            ),
        ));
    }
    None
}

/// A return is filed only against a sale HQ holds, of the returning terminal's store, and only
/// for what is left of each line after the returns filed earlier from every terminal: the
/// one rule (`till_domain::returns::refundable`) a till applies to its own sales, applied
/// across the store's tills.
fn return_verdict(
    seq: u64,
    r: &Return,
    record: Option<&str>,
    returned: &[(u32, i64)],
) -> Option<OpResult> {
    let named = format!("{}/{} #{}", r.sale_store, r.sale_terminal, r.sale_seq);
    let Some(sale) = record.and_then(|t| SaleRecord::from_canonical_bytes(t.as_bytes()).ok())
    else {
        return Some(OpResult::rejected(
            seq,
            format!("the returned sale {named} ({}) is not at HQ", r.sale_id),
        ));
    };
    if sale.store != r.sale_store || sale.terminal != r.sale_terminal || sale.seq != r.sale_seq {
        return Some(OpResult::rejected(
            seq,
            format!("sale {} is not {named}", r.sale_id),
        ));
    }
    for line in &r.lines {
        let Some(sold) = sale.lines.iter().find(|l| l.line_no == line.line_no) else {
            return Some(OpResult::rejected(
                seq,
                format!("sale {named} has no line {}", line.line_no),
            ));
        };
        let before: i64 = returned
            .iter()
            .filter(|(n, _)| *n == line.line_no)
            .map(|(_, q)| q)
            .sum();
        let left = refundable(
            &SoldLine {
                line_no: sold.line_no,
                qty_milli: sold.qty_milli,
                weighed: sold.weighed,
                total: sold.total,
                tax: sold.tax,
            },
            &Returned {
                qty_milli: before,
                ..Returned::default()
            },
        );
        if line.qty_milli > left {
            return Some(OpResult::rejected(
                seq,
                format!(
                    "line {} of sale {named}: only {} left to return after the returns HQ has filed",
                    line.line_no,
                    Quantity::from_milli(left)
                ),
            ));
        }
    }
    None
}
