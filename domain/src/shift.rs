//! Shifts and the drawer: the currency's denominations, a cash count by denomination, and the
//! X/Z report's figures.
//!
//! One function computes a report, for X and Z alike: [`ShiftTally`] is fed every record of
//! one shift (its sales' headers, tax lines and payments, its cash movements, its voids) and
//! [`ShiftTally::report`] gives the figures PRODUCT.md's "Store operations" lists. The records
//! come from the shift, never from a date range, so another till's or another shift's records
//! cannot leak into a close (uniCenta selected them by date), and a second close of one day
//! sums only its own shift (OSPOS summed the whole day).
//!
//! All amounts are integer minor units (fen).

use std::collections::BTreeMap;

use crate::money::Currency;
use crate::ticket::TenderKind;

/// Why a count or a list of denominations was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    #[error("a count is a whole number of notes or coins, not {0:?}")]
    NotACount(String),
    #[error("{0} is not one of this till's notes or coins")]
    UnknownDenomination(String),
    #[error("denomination {0} is listed twice")]
    DuplicateDenomination(String),
    #[error("a denomination is a positive amount, not {0}")]
    NonPositiveDenomination(String),
    #[error("the till needs at least one denomination to count cash")]
    NoDenominations,
    #[error("the count is too large")]
    TooLarge,
}

/// The notes and coins a drawer holds, largest first, in minor units (fen): `[10000, 5000,
/// …, 10]` for CNY. Parsed once from the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denominations(Vec<i64>);

impl Denominations {
    /// Checks and orders `values` (minor units): each positive, none twice, at least one.
    pub fn new(values: &[i64]) -> Result<Denominations, CountError> {
        if values.is_empty() {
            return Err(CountError::NoDenominations);
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(bad) = sorted.iter().find(|v| **v <= 0) {
            return Err(CountError::NonPositiveDenomination(bad.to_string()));
        }
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(CountError::DuplicateDenomination(w[0].to_string()));
        }
        Ok(Denominations(sorted))
    }

    /// The usual notes and coins of `currency`, the default when the config lists none: for
    /// CNY ¥100, 50, 20, 10, 5, 1, 0.5 and 0.1 (the 2, 0.05 and smaller are rare in a drawer).
    pub fn for_currency(currency: Currency) -> Denominations {
        // In major units × 100, whatever the currency's exponent, then scaled.
        let hundredths: &[i64] = match currency.code() {
            "USD" => &[10000, 5000, 2000, 1000, 500, 100, 25, 10, 5, 1],
            "EUR" => &[
                20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1,
            ],
            "HKD" => &[
                100000, 50000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10,
            ],
            "JPY" => &[
                1000000, 500000, 200000, 100000, 50000, 10000, 5000, 1000, 500, 100,
            ],
            _ => &[10000, 5000, 2000, 1000, 500, 100, 50, 10],
        };
        let per_major = currency.minor_per_major();
        let values: Vec<i64> = hundredths
            .iter()
            .filter(|h| (*h * per_major) % 100 == 0)
            .map(|h| h * per_major / 100)
            .collect();
        Denominations(values)
    }

    /// The values, largest first, in minor units.
    pub fn values(&self) -> &[i64] {
        &self.0
    }

    /// An empty count (every denomination zero), to fill in on a pad.
    pub fn empty_count(&self) -> CashCount {
        CashCount {
            counts: self.0.iter().map(|v| (*v, 0)).collect(),
        }
    }

    /// A count from `(denomination in minor units, how many)` pairs; unnamed denominations are
    /// zero. A denomination this till does not have is refused.
    pub fn count(&self, pairs: &[(i64, u32)]) -> Result<CashCount, CountError> {
        let mut count = self.empty_count();
        for (value, n) in pairs {
            count.set(*value, *n)?;
        }
        count.total()?;
        Ok(count)
    }
}

/// A drawer counted by denomination: how many of each note and coin. Its total is what the
/// report uses; the breakdown is kept with the shift, as a manager expects to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CashCount {
    /// `(denomination, how many)`, largest denomination first, every denomination present.
    counts: Vec<(i64, u32)>,
}

impl CashCount {
    /// Sets how many notes or coins of `value` (minor units) the drawer holds.
    pub fn set(&mut self, value: i64, n: u32) -> Result<(), CountError> {
        let slot = self
            .counts
            .iter_mut()
            .find(|(v, _)| *v == value)
            .ok_or_else(|| CountError::UnknownDenomination(value.to_string()))?;
        slot.1 = n;
        Ok(())
    }

    /// Sets the count of `value` from what was typed on the pad: digits only.
    pub fn set_typed(&mut self, value: i64, typed: &str) -> Result<(), CountError> {
        let n = parse_count(typed)?;
        self.set(value, n)?;
        self.total().map(|_| ())
    }

    /// `(denomination, how many)`, largest first.
    pub fn counts(&self) -> &[(i64, u32)] {
        &self.counts
    }

    /// The amount counted, in minor units.
    pub fn total(&self) -> Result<i64, CountError> {
        self.counts.iter().try_fold(0i64, |sum, (v, n)| {
            v.checked_mul(i64::from(*n))
                .and_then(|a| sum.checked_add(a))
                .ok_or(CountError::TooLarge)
        })
    }
}

/// A count as typed: ASCII digits only, no sign, at most a million notes.
pub fn parse_count(typed: &str) -> Result<u32, CountError> {
    let t = typed.trim();
    if t.is_empty() || t.len() > 7 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CountError::NotACount(typed.to_string()));
    }
    t.parse::<u32>()
        .ok()
        .filter(|n| *n <= 1_000_000)
        .ok_or_else(|| CountError::NotACount(typed.to_string()))
}

/// Cash moved in or out of the drawer outside a sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MovementKind {
    /// Cash put into the drawer (more change from the safe).
    PaidIn,
    /// Cash taken out (a supplier paid, a pickup to the safe).
    PaidOut,
    /// The drawer opened without a sale; no amount.
    NoSale,
}

impl MovementKind {
    pub const ALL: [MovementKind; 3] = [
        MovementKind::PaidIn,
        MovementKind::PaidOut,
        MovementKind::NoSale,
    ];

    /// The stored and wire name: `paid_in`, `paid_out`, `no_sale`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MovementKind::PaidIn => "paid_in",
            MovementKind::PaidOut => "paid_out",
            MovementKind::NoSale => "no_sale",
        }
    }

    pub fn parse(s: &str) -> Option<MovementKind> {
        MovementKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A sale's header as the report needs it; its tax lines and payments are fed separately
/// ([`ShiftTally::add_sale_tax`], [`ShiftTally::add_sale_payment`]), so a store can stream
/// each table once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaleHeader {
    /// The terminal's receipt sequence number.
    pub seq: u64,
    /// Σ line gross, before discounts.
    pub subtotal: i64,
    pub discount: i64,
    /// What the lines come to (tax included as charged).
    pub total: i64,
    /// Cash rounding, negative when fen were dropped.
    pub rounding: i64,
    /// Change given back, always in cash from the drawer.
    pub change: i64,
    /// A member's sale (not anonymous).
    pub member: bool,
}

/// A return's figures as the report needs them (the return itself is built by the returns
/// flow): what was refunded, its tax by rate, and the tenders refunded to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnFigures {
    /// What the customer got back, in minor units.
    pub refund: i64,
    /// `(tax rate in basis points, tax)` of the returned part.
    pub taxes: Vec<(u32, i64)>,
    /// `(tender, amount)` refunded; cash comes out of the drawer.
    pub tenders: Vec<(TenderKind, i64)>,
}

/// The X/Z report's figures for one shift. Every amount in minor units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftReport {
    pub sales_count: u64,
    /// Σ line gross of the sales, before discounts.
    pub gross: i64,
    pub discounts: i64,
    /// Cash rounding over the shift (negative when fen were dropped).
    pub rounding: i64,
    pub returns_count: u64,
    /// Refunded by returns.
    pub returns: i64,
    /// gross − discounts + rounding − returns: what the shift took.
    pub net: i64,
    /// `(rate in basis points, tax)`, sales' tax less returns', by rate ascending.
    pub tax: Vec<(u32, i64)>,
    /// Takings per tender, in [`TenderKind::ALL`] order, only those used: cash net of the
    /// change given and of cash refunds; the rest as charged less refunds.
    pub tenders: Vec<(TenderKind, i64)>,
    pub paid_in: i64,
    pub paid_out: i64,
    pub opening_float: i64,
    /// opening float + cash takings + paid in − paid out.
    pub expected_cash: i64,
    /// Known only at a close's blind count.
    pub counted_cash: Option<i64>,
    /// counted − expected: negative when cash is missing.
    pub difference: Option<i64>,
    pub member_sales: u64,
    /// Member sales per 10,000 sales (basis points); 0 with no sales.
    pub capture_rate_bp: u32,
    /// Lines voided from tickets, and whole tickets cancelled.
    pub voids: u64,
    pub no_sales: u64,
    /// The first and last receipt numbers of the shift's sales.
    pub first_receipt: Option<u64>,
    pub last_receipt: Option<u64>,
}

/// Adds up one shift's records into a [`ShiftReport`]: the one place that decides what the
/// drawer should hold. Feed it each record once, in any order.
#[derive(Clone, Debug, Default)]
pub struct ShiftTally {
    opening_float: i64,
    sales_count: u64,
    gross: i64,
    discounts: i64,
    total: i64,
    rounding: i64,
    change: i64,
    member_sales: u64,
    returns_count: u64,
    returns: i64,
    tax: BTreeMap<u32, i64>,
    tendered: BTreeMap<usize, i64>,
    paid_in: i64,
    paid_out: i64,
    voids: u64,
    no_sales: u64,
    first_receipt: Option<u64>,
    last_receipt: Option<u64>,
}

fn tender_slot(kind: TenderKind) -> usize {
    TenderKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl ShiftTally {
    /// A tally for a shift opened with `opening_float` (minor units) in the drawer.
    pub fn new(opening_float: i64) -> ShiftTally {
        ShiftTally {
            opening_float,
            ..ShiftTally::default()
        }
    }

    pub fn add_sale(&mut self, sale: &SaleHeader) {
        self.sales_count += 1;
        self.gross += sale.subtotal;
        self.discounts += sale.discount;
        self.total += sale.total;
        self.rounding += sale.rounding;
        self.change += sale.change;
        self.member_sales += u64::from(sale.member);
        self.first_receipt = Some(self.first_receipt.map_or(sale.seq, |f| f.min(sale.seq)));
        self.last_receipt = Some(self.last_receipt.map_or(sale.seq, |l| l.max(sale.seq)));
    }

    /// One sale line's tax at `rate_bp`.
    pub fn add_sale_tax(&mut self, rate_bp: u32, tax: i64) {
        *self.tax.entry(rate_bp).or_default() += tax;
    }

    /// One payment of a sale: for cash, what was handed over (the change comes off in
    /// [`ShiftTally::report`]).
    pub fn add_sale_payment(&mut self, kind: TenderKind, amount: i64) {
        *self.tendered.entry(tender_slot(kind)).or_default() += amount;
    }

    pub fn add_return(&mut self, r: &ReturnFigures) {
        self.returns_count += 1;
        self.returns += r.refund;
        for (rate, tax) in &r.taxes {
            *self.tax.entry(*rate).or_default() -= tax;
        }
        for (kind, amount) in &r.tenders {
            *self.tendered.entry(tender_slot(*kind)).or_default() -= amount;
        }
    }

    /// Cash paid in or out (`amount` ≥ 0), or a no-sale opening (amount ignored).
    pub fn add_movement(&mut self, kind: MovementKind, amount: i64) {
        match kind {
            MovementKind::PaidIn => self.paid_in += amount,
            MovementKind::PaidOut => self.paid_out += amount,
            MovementKind::NoSale => self.no_sales += 1,
        }
    }

    /// A voided line or a cancelled ticket.
    pub fn add_void(&mut self) {
        self.voids += 1;
    }

    /// The figures so far; `counted` is the close's blind count, if any.
    pub fn report(&self, counted: Option<i64>) -> ShiftReport {
        let cash_slot = tender_slot(TenderKind::Cash);
        let tenders: Vec<(TenderKind, i64)> = TenderKind::ALL
            .iter()
            .enumerate()
            .filter_map(|(slot, kind)| {
                let mut amount = *self.tendered.get(&slot)?;
                if slot == cash_slot {
                    amount -= self.change;
                }
                Some((*kind, amount))
            })
            .collect();
        let cash = tenders
            .iter()
            .find(|(k, _)| *k == TenderKind::Cash)
            .map_or(0, |(_, a)| *a);
        let expected_cash = self.opening_float + cash + self.paid_in - self.paid_out;
        let capture_rate_bp = (self.member_sales * 10_000)
            .checked_div(self.sales_count)
            .map_or(0, |r| u32::try_from(r).unwrap_or(10_000));
        ShiftReport {
            sales_count: self.sales_count,
            gross: self.gross,
            discounts: self.discounts,
            rounding: self.rounding,
            returns_count: self.returns_count,
            returns: self.returns,
            net: self.total + self.rounding - self.returns,
            tax: self.tax.iter().map(|(r, t)| (*r, *t)).collect(),
            tenders,
            paid_in: self.paid_in,
            paid_out: self.paid_out,
            opening_float: self.opening_float,
            expected_cash,
            counted_cash: counted,
            difference: counted.map(|c| c - expected_cash),
            member_sales: self.member_sales,
            capture_rate_bp,
            voids: self.voids,
            no_sales: self.no_sales,
            first_receipt: self.first_receipt,
            last_receipt: self.last_receipt,
        }
    }

    /// The cash the drawer should hold now, in minor units: what a paid out may not exceed.
    pub fn cash_in_drawer(&self) -> i64 {
        self.report(None).expected_cash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny() -> Denominations {
        Denominations::new(&[10000, 5000, 2000, 1000, 500, 100, 50, 10]).unwrap()
    }

    fn sale(seq: u64, total: i64, change: i64, member: bool) -> SaleHeader {
        SaleHeader {
            seq,
            subtotal: total,
            discount: 0,
            total,
            rounding: 0,
            change,
            member,
        }
    }

    #[test]
    fn denominations_are_checked_and_ordered() {
        let check = |values: &[i64], expected: Result<Vec<i64>, CountError>| {
            assert_eq!(
                Denominations::new(values).map(|d| d.values().to_vec()),
                expected,
                "{values:?}"
            );
        };
        check(&[10, 10000, 50], Ok(vec![10000, 50, 10]));
        check(&[], Err(CountError::NoDenominations));
        check(
            &[100, 0],
            Err(CountError::NonPositiveDenomination("0".into())),
        );
        check(
            &[100, -5],
            Err(CountError::NonPositiveDenomination("-5".into())),
        );
        check(
            &[100, 50, 100],
            Err(CountError::DuplicateDenomination("100".into())),
        );
    }

    #[test]
    fn each_currency_has_its_drawer() {
        assert_eq!(Denominations::for_currency(Currency::CNY), cny());
        let yen = Denominations::for_currency(Currency::JPY);
        assert_eq!(
            yen.values().first(),
            Some(&10_000),
            "¥10,000 is 10,000 minor units"
        );
        assert_eq!(yen.values().last(), Some(&1));
        for currency in [Currency::USD, Currency::EUR, Currency::HKD, Currency::JPY] {
            let d = Denominations::for_currency(currency);
            assert_eq!(Denominations::new(d.values()), Ok(d.clone()), "{currency}");
        }
    }

    #[test]
    fn a_count_adds_up_by_denomination_and_refuses_what_the_pad_should() {
        let d = cny();
        let count = d.count(&[(10000, 2), (50, 3)]).unwrap();
        assert_eq!(count.total(), Ok(20150));
        assert_eq!(count.counts().len(), 8, "every denomination is listed");
        assert_eq!(
            d.count(&[(2500, 1)]),
            Err(CountError::UnknownDenomination("2500".into()))
        );
        let mut pad = d.empty_count();
        for typed in ["-1", "abc", "", "1.5", "+3", "99999999", " "] {
            assert_eq!(
                pad.set_typed(10000, typed),
                Err(CountError::NotACount(typed.into())),
                "{typed:?}"
            );
        }
        assert_eq!(pad.total(), Ok(0), "a refused entry changes nothing");
        pad.set_typed(500, " 12 ").unwrap();
        assert_eq!(pad.total(), Ok(6000));
    }

    /// Expected cash counts the change given back (ERPNext counted what was handed over) and
    /// the opening float once (Odoo counted the opening difference twice).
    #[test]
    fn expected_cash_is_float_plus_cash_net_of_change_plus_paid_in_less_paid_out() {
        let mut t = ShiftTally::new(50_000);
        t.add_sale(&sale(7, 1_250, 750, true));
        t.add_sale_payment(TenderKind::Cash, 2_000);
        t.add_sale_tax(1300, 144);
        t.add_sale(&sale(8, 3_000, 0, false));
        t.add_sale_payment(TenderKind::WeChatPay, 3_000);
        t.add_sale_tax(900, 248);
        t.add_sale(&sale(9, 990, 10, false));
        t.add_sale_payment(TenderKind::Cash, 500);
        t.add_sale_payment(TenderKind::Card, 500);
        t.add_sale_tax(1300, 114);
        t.add_movement(MovementKind::PaidIn, 10_000);
        t.add_movement(MovementKind::PaidOut, 2_500);
        t.add_movement(MovementKind::NoSale, 0);
        t.add_void();
        let r = t.report(Some(58_000));
        assert_eq!(r.sales_count, 3);
        assert_eq!(r.net, 5_240);
        assert_eq!(
            r.tenders,
            vec![
                (TenderKind::Cash, 1_740),
                (TenderKind::Card, 500),
                (TenderKind::WeChatPay, 3_000)
            ]
        );
        assert_eq!(
            r.tenders.iter().map(|(_, a)| a).sum::<i64>(),
            r.net,
            "the tenders add up to the takings"
        );
        assert_eq!(r.expected_cash, 50_000 + 1_740 + 10_000 - 2_500);
        assert_eq!(r.difference, Some(58_000 - 59_240));
        assert_eq!(r.tax, vec![(900, 248), (1300, 258)]);
        assert_eq!((r.member_sales, r.capture_rate_bp), (1, 3333));
        assert_eq!((r.voids, r.no_sales), (1, 1));
        assert_eq!((r.first_receipt, r.last_receipt), (Some(7), Some(9)));
        assert_eq!(r.opening_float, 50_000);
    }

    #[test]
    fn returns_come_off_the_takings_the_tax_and_the_drawer() {
        let mut t = ShiftTally::new(10_000);
        t.add_sale(&sale(1, 5_000, 0, true));
        t.add_sale_payment(TenderKind::Cash, 5_000);
        t.add_sale_tax(1300, 575);
        t.add_return(&ReturnFigures {
            refund: 2_000,
            taxes: vec![(1300, 230)],
            tenders: vec![(TenderKind::Cash, 2_000)],
        });
        let r = t.report(None);
        assert_eq!((r.returns_count, r.returns, r.net), (1, 2_000, 3_000));
        assert_eq!(r.tax, vec![(1300, 345)]);
        assert_eq!(r.tenders, vec![(TenderKind::Cash, 3_000)]);
        assert_eq!(r.expected_cash, 13_000);
        assert_eq!((r.counted_cash, r.difference), (None, None));
    }

    #[test]
    fn an_empty_shift_expects_its_float_and_has_no_receipts() {
        let r = ShiftTally::new(20_000).report(Some(20_000));
        assert_eq!(r.expected_cash, 20_000);
        assert_eq!(r.difference, Some(0));
        assert_eq!(r.capture_rate_bp, 0);
        assert_eq!((r.first_receipt, r.last_receipt), (None, None));
        assert!(r.tenders.is_empty());
    }
}
