//! The operations record: everything a terminal does with its drawer and its staff besides
//! selling (shift opening, the Z report that closes a shift, paid in, paid out, no-sale
//! openings, and the audit events), as one record type in a second hash chain.
//!
//! ## Canonical encoding, v1
//!
//! As for sales ([`crate::sale`]): the compact JSON serialisation of [`OpRecord`], keys in the
//! order the structs declare them, integers only (minor units, thousandths, basis points),
//! `null` for an absent optional value. The operation's own fields follow a `kind` tag that
//! names it (`shift_open`, `shift_close`, `paid_in`, …). The chain links the same way as the
//! sales journal ([`crate::chain_hash`]), from its own genesis ([`crate::GENESIS_HASH`]), with
//! its own gap-free sequence, so a deleted or edited Z, paid out or void is as visible as a
//! deleted sale.
//!
//! The sales stay in their own chain: a sale names no shift. A shift's sales are the receipt
//! numbers between its opening and its close ([`ShiftOpen::first_receipt`], and the Z's
//! `last_receipt`), which the sale chain makes gap-free.

use serde::{Deserialize, Serialize};
use till_domain::shift::ShiftReport;
use till_domain::ticket::TenderKind;

/// A Z's `first_receipt` and `last_receipt` when the shift sold nothing (receipts start at 1).
const NO_RECEIPT: u64 = 0;

/// The version written in every new operations record's `v` field.
pub const OP_RECORD_VERSION: u32 = 1;

/// One operation in a terminal's operations chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpRecord {
    pub v: u32,
    /// UUIDv7, lower-case hyphenated.
    pub op_id: String,
    pub store: String,
    pub terminal: String,
    /// Gap-free per terminal in the operations chain, starting at 1 (not a receipt number).
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)
    )]
    pub seq: u64,
    /// Milliseconds since the Unix epoch, UTC.
    pub at_ms: i64,
    /// The terminal's UTC offset at the time, so HQ can place it in the store's day.
    pub utc_offset_s: i32,
    /// The staff ID who did it (`cli` from the command line).
    pub staff: String,
    /// The staff ID who approved it, when it needed someone else's PIN.
    pub approver: Option<String>,
    /// The shift (its Z number) open at the time; None between shifts.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)
    )]
    pub shift: Option<u64>,
    pub op: Op,
}

/// What was done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// A shift opened with the float counted by denomination.
    ShiftOpen(ShiftOpen),
    /// A shift closed with a blind count: its Z report.
    ShiftClose(ZReport),
    /// Cash put into the drawer, with the configured reason.
    PaidIn(CashMovement),
    /// Cash taken out of the drawer, with the configured reason.
    PaidOut(CashMovement),
    /// The drawer opened without a sale.
    NoSale(NoSale),
    /// A line taken off an open ticket before payment.
    LineVoid(LineVoid),
    /// A whole open ticket cancelled.
    TicketCancel(TicketCancel),
    /// A discount given on a line or on the whole ticket.
    Discount(DiscountGiven),
    /// A line's catalog price changed at the till.
    PriceOverride(PriceOverride),
    /// Someone logged in to the touchscreen.
    Login(Session),
    /// Someone logged out (or was logged out at a shift change).
    Logout(Session),
    /// A PIN prompt locked after repeated wrong PINs.
    Lockout(Lockout),
    /// Part or all of a sale taken back and refunded.
    Return(Return),
}

impl Op {
    /// The `kind` tag: `shift_open`, `shift_close`, `paid_in`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Op::ShiftOpen(_) => "shift_open",
            Op::ShiftClose(_) => "shift_close",
            Op::PaidIn(_) => "paid_in",
            Op::PaidOut(_) => "paid_out",
            Op::NoSale(_) => "no_sale",
            Op::LineVoid(_) => "line_void",
            Op::TicketCancel(_) => "ticket_cancel",
            Op::Discount(_) => "discount",
            Op::PriceOverride(_) => "price_override",
            Op::Login(_) => "login",
            Op::Logout(_) => "logout",
            Op::Lockout(_) => "lockout",
            Op::Return(_) => "return",
        }
    }
}

/// How many notes or coins of one denomination were counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CountLine {
    /// The note or coin, in minor units (fen): 10000 for ¥100.
    pub value: i64,
    pub count: u32,
}

impl CountLine {
    /// The wire form of a count's `(denomination, how many)` pairs.
    pub fn list(counts: &[(i64, u32)]) -> Vec<CountLine> {
        counts
            .iter()
            .map(|(value, count)| CountLine {
                value: *value,
                count: *count,
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShiftOpen {
    /// The opening float, in minor units: Σ value × count.
    pub float: i64,
    pub counts: Vec<CountLine>,
    /// The receipt number the shift's first sale takes; its sales are this one onwards.
    pub first_receipt: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CashMovement {
    /// Minor units, positive.
    pub amount: i64,
    /// One of the config's reasons.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoSale {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LineVoid {
    pub sku: String,
    pub name: String,
    /// Thousandths of a unit (or grams for a weighed line).
    pub qty_milli: i64,
    /// The line's amount, in minor units.
    pub amount: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TicketCancel {
    pub lines: u32,
    /// What the ticket came to, in minor units.
    pub amount: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiscountGiven {
    /// The line's SKU, or None for a discount on the whole ticket.
    pub sku: Option<String>,
    /// The share of what it applies to, in basis points (1000 = 10 %).
    pub basis_points: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub sku: String,
    pub name: String,
    /// Unit prices before and after, in minor units.
    pub from: i64,
    pub to: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// `pin`, `shift_change`, `idle`, …: how the session began or ended.
    pub how: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    /// Which prompt locked (`login`, `approval`).
    pub prompt: String,
    /// How long it stays locked, in ms.
    pub for_ms: i64,
}

/// A return of part or all of a sale: its own record, naming the original sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Return {
    /// The original sale: its store, terminal and receipt number (its receipt code's parts),
    /// and its ID.
    pub sale_store: String,
    pub sale_terminal: String,
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)
    )]
    pub sale_seq: u64,
    pub sale_id: String,
    /// The sale's member, whose points the return reverses.
    pub member_id: Option<String>,
    pub lines: Vec<ReturnLine>,
    /// Σ the lines' amounts, in minor units.
    pub refund: i64,
    /// Where the refund went: the sale's own tenders.
    pub tenders: Vec<RefundTender>,
    /// The points taken back from the member.
    pub points: i64,
    pub reason: String,
}

/// One returned line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    /// The sale's line number.
    pub line_no: u32,
    pub sku: String,
    pub name: String,
    /// Thousandths of a unit, or grams.
    pub qty_milli: i64,
    /// Refunded for it, tax included as charged, in minor units.
    pub amount: i64,
    pub tax: i64,
    pub tax_rate_bp: u32,
}

/// A refund to one tender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundTender {
    /// `cash`, `card`, `wechat_pay`, `alipay` or `unionpay`.
    pub kind: String,
    pub amount: i64,
    /// The original payment's reference (a mobile payment's), for the refund.
    pub reference: Option<String>,
}

/// Tax of one rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaxTotal {
    /// Basis points: 1300 = 13 %.
    pub rate_bp: u32,
    /// Minor units.
    pub tax: i64,
}

/// Takings of one tender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenderTotal {
    /// `cash`, `card`, `wechat_pay`, `alipay` or `unionpay`, as a sale's payments name them.
    pub kind: String,
    /// Minor units; cash net of change and cash refunds.
    pub amount: i64,
}

/// A Z report: the close of one shift, with every figure of [`ShiftReport`] (PRODUCT.md,
/// "Store operations"). Amounts in minor units. Its number is the shift's number, in the
/// record's `shift`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ZReport {
    pub opened_at_ms: i64,
    pub opened_by: String,
    /// The closing count by denomination.
    pub counts: Vec<CountLine>,
    pub sales_count: u64,
    pub gross: i64,
    pub discounts: i64,
    pub rounding: i64,
    pub returns_count: u64,
    pub returns: i64,
    pub net: i64,
    pub tax: Vec<TaxTotal>,
    pub tenders: Vec<TenderTotal>,
    pub paid_in: i64,
    pub paid_out: i64,
    pub opening_float: i64,
    pub expected_cash: i64,
    pub counted_cash: i64,
    pub difference: i64,
    pub member_sales: u64,
    /// Member sales per 10,000 sales.
    pub capture_rate_bp: u32,
    pub voids: u64,
    pub no_sales: u64,
    /// The shift's first and last receipt numbers; 0 when it sold nothing.
    pub first_receipt: u64,
    pub last_receipt: u64,
}

impl ZReport {
    /// The Z of a closed shift's report (which must carry its count).
    pub fn new(
        report: &ShiftReport,
        opened_at_ms: i64,
        opened_by: &str,
        counts: &[(i64, u32)],
    ) -> ZReport {
        let counted = report.counted_cash.unwrap_or(0);
        ZReport {
            opened_at_ms,
            opened_by: opened_by.to_string(),
            counts: CountLine::list(counts),
            sales_count: report.sales_count,
            gross: report.gross,
            discounts: report.discounts,
            rounding: report.rounding,
            returns_count: report.returns_count,
            returns: report.returns,
            net: report.net,
            tax: report
                .tax
                .iter()
                .map(|(rate_bp, tax)| TaxTotal {
                    rate_bp: *rate_bp,
                    tax: *tax,
                })
                .collect(),
            tenders: report
                .tenders
                .iter()
                .map(|(kind, amount)| TenderTotal {
                    kind: kind.as_str().to_string(),
                    amount: *amount,
                })
                .collect(),
            paid_in: report.paid_in,
            paid_out: report.paid_out,
            opening_float: report.opening_float,
            expected_cash: report.expected_cash,
            counted_cash: counted,
            difference: counted - report.expected_cash,
            member_sales: report.member_sales,
            capture_rate_bp: report.capture_rate_bp,
            voids: report.voids,
            no_sales: report.no_sales,
            first_receipt: report.first_receipt.unwrap_or(NO_RECEIPT),
            last_receipt: report.last_receipt.unwrap_or(NO_RECEIPT),
        }
    }

    /// The figures back, as the printer and the screen show them.
    pub fn report(&self) -> ShiftReport {
        let receipt = |n: u64| (n != NO_RECEIPT).then_some(n);
        ShiftReport {
            sales_count: self.sales_count,
            gross: self.gross,
            discounts: self.discounts,
            rounding: self.rounding,
            returns_count: self.returns_count,
            returns: self.returns,
            net: self.net,
            tax: self.tax.iter().map(|t| (t.rate_bp, t.tax)).collect(),
            // A kind this build does not know (a newer till's) is left out of the figures
            // rather than misfiled; the net still holds it.
            tenders: self
                .tenders
                .iter()
                .filter_map(|t| Some((TenderKind::parse(&t.kind)?, t.amount)))
                .collect(),
            paid_in: self.paid_in,
            paid_out: self.paid_out,
            opening_float: self.opening_float,
            expected_cash: self.expected_cash,
            counted_cash: Some(self.counted_cash),
            difference: Some(self.difference),
            member_sales: self.member_sales,
            capture_rate_bp: self.capture_rate_bp,
            voids: self.voids,
            no_sales: self.no_sales,
            first_receipt: receipt(self.first_receipt),
            last_receipt: receipt(self.last_receipt),
        }
    }
}

impl OpRecord {
    /// The bytes hashed into the operations chain (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Plain structs of strings and integers always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<OpRecord, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use till_domain::shift::{MovementKind, SaleHeader, ShiftTally};

    use super::*;

    fn record(op: Op) -> OpRecord {
        OpRecord {
            v: OP_RECORD_VERSION,
            op_id: "01937c5e-0000-7000-8000-000000000001".into(),
            store: "S001".into(),
            terminal: "T01".into(),
            seq: 3,
            at_ms: 1_764_000_000_000,
            utc_offset_s: 28_800,
            staff: "c1".into(),
            approver: None,
            shift: Some(2),
            op,
        }
    }

    #[test]
    fn a_paid_out_has_stable_canonical_bytes() {
        let r = record(Op::PaidOut(CashMovement {
            amount: 2_500,
            reason: "supplier".into(),
        }));
        expect![[r#"{"v":1,"op_id":"01937c5e-0000-7000-8000-000000000001","store":"S001","terminal":"T01","seq":3,"at_ms":1764000000000,"utc_offset_s":28800,"staff":"c1","approver":null,"shift":2,"op":{"kind":"paid_out","amount":2500,"reason":"supplier"}}"#]]
        .assert_eq(&String::from_utf8(r.canonical_bytes()).unwrap());
        assert_eq!(
            OpRecord::from_canonical_bytes(&r.canonical_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn a_z_report_round_trips_with_its_figures() {
        let mut tally = ShiftTally::new(50_000);
        tally.add_sale(&SaleHeader {
            seq: 41,
            subtotal: 1_250,
            discount: 0,
            total: 1_250,
            rounding: 0,
            change: 750,
            member: true,
        });
        tally.add_sale_payment(TenderKind::Cash, 2_000);
        tally.add_sale_tax(1300, 144);
        tally.add_movement(MovementKind::PaidOut, 1_000);
        let report = tally.report(Some(50_000));
        let z = ZReport::new(&report, 1_763_990_000_000, "m1", &[(10000, 5), (50, 0)]);
        assert_eq!(z.report(), report);
        let r = record(Op::ShiftClose(z));
        expect![[r#"{"v":1,"op_id":"01937c5e-0000-7000-8000-000000000001","store":"S001","terminal":"T01","seq":3,"at_ms":1764000000000,"utc_offset_s":28800,"staff":"c1","approver":null,"shift":2,"op":{"kind":"shift_close","opened_at_ms":1763990000000,"opened_by":"m1","counts":[{"value":10000,"count":5},{"value":50,"count":0}],"sales_count":1,"gross":1250,"discounts":0,"rounding":0,"returns_count":0,"returns":0,"net":1250,"tax":[{"rate_bp":1300,"tax":144}],"tenders":[{"kind":"cash","amount":1250}],"paid_in":0,"paid_out":1000,"opening_float":50000,"expected_cash":50250,"counted_cash":50000,"difference":-250,"member_sales":1,"capture_rate_bp":10000,"voids":0,"no_sales":0,"first_receipt":41,"last_receipt":41}}"#]]
        .assert_eq(&String::from_utf8(r.canonical_bytes()).unwrap());
        assert_eq!(
            OpRecord::from_canonical_bytes(&r.canonical_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn a_record_with_an_unknown_field_or_kind_is_refused() {
        let bytes = String::from_utf8(
            record(Op::NoSale(NoSale {
                reason: "change".into(),
            }))
            .canonical_bytes(),
        )
        .unwrap();
        let extra = bytes.replace("\"reason\"", "\"extra\":1,\"reason\"");
        assert!(OpRecord::from_canonical_bytes(extra.as_bytes()).is_err());
        let unknown = bytes.replace("no_sale", "free_money");
        assert!(OpRecord::from_canonical_bytes(unknown.as_bytes()).is_err());
    }
}
