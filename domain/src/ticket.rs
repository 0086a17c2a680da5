//! The open ticket: lines, discounts, tenders, and totals that always reconcile to the fen.
//!
//! How totals are computed (all integer minor units, every division rounded half up by
//! [`div_round_half_up`]):
//! 1. A line's gross is `unit price × quantity`, rounded to the fen.
//! 2. Its line discount (percent of gross, or an amount) never exceeds the gross.
//! 3. A ticket discount is spread over the lines in proportion to what is left of each, by the
//!    largest-remainder method, so the parts add up exactly to the whole and no line goes
//!    below zero.
//! 4. Tax is computed per line on the line's net amount (see [`line_tax`]).
//! 5. The ticket's subtotal, discount, tax and total are sums of the line figures, so the printed
//!    lines always add up to the printed totals.
//!
//! Cash rounding (抹零) applies only to the part of the total paid in cash, and shows as its own
//! figure, never hidden in a line.

use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money, div_round_half_up, to_minor};
use crate::quantity::Quantity;
use crate::tax::{TaxMode, TaxRate, line_tax};
use crate::weighed::weight_for_price;

/// Identifies a line for the life of a ticket, even as other lines are voided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discount {
    /// Basis points of the amount: 1000 is 10 %.
    Percent(u32),
    /// A fixed amount off, in minor units.
    Amount(i64),
}

impl Discount {
    /// The discount on `base` minor units, never more than `base` and never negative.
    fn apply_to(&self, base: i64) -> i64 {
        let off = match *self {
            Discount::Percent(bp) => {
                to_minor(div_round_half_up(i128::from(base) * i128::from(bp), 10_000))
            }
            Discount::Amount(minor) => minor,
        };
        off.clamp(0, base.max(0))
    }

    /// The share of `base` this discount takes, in basis points, for approval limits.
    pub fn basis_points_of(&self, base: i64) -> u32 {
        match *self {
            Discount::Percent(bp) => bp,
            Discount::Amount(_) if base <= 0 => 10_000,
            Discount::Amount(minor) => {
                let bp = div_round_half_up(i128::from(minor) * 10_000, i128::from(base));
                u32::try_from(bp.clamp(0, 10_000)).unwrap_or(10_000)
            }
        }
    }
}

/// What a line sells. Names are kept in both languages so the receipt can use either.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    /// The code that was scanned or keyed, as the cashier saw it.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub tax_class: String,
    pub tax_rate: TaxRate,
    pub weighed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketLine {
    pub id: LineId,
    pub item: LineItem,
    pub unit_price: i64,
    pub quantity: Quantity,
    pub discount: Option<Discount>,
    /// Set when the cashier changed the catalog price.
    pub price_overridden: bool,
    /// The price printed on a price-embedded scale label, in minor units. It is the line's
    /// gross whatever `unit_price × quantity` rounds to: the label the customer sees wins.
    #[serde(default)]
    pub label_price: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    Cash,
    Card,
    WeChatPay,
    Alipay,
    UnionPay,
}

impl TenderKind {
    pub const ALL: [TenderKind; 5] = [
        TenderKind::Cash,
        TenderKind::Card,
        TenderKind::WeChatPay,
        TenderKind::Alipay,
        TenderKind::UnionPay,
    ];

    /// Mobile payments are captured by scanning the customer's payment code, so they always
    /// carry that reference.
    pub fn needs_reference(&self) -> bool {
        matches!(
            self,
            TenderKind::WeChatPay | TenderKind::Alipay | TenderKind::UnionPay
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            TenderKind::Cash => "cash",
            TenderKind::Card => "card",
            TenderKind::WeChatPay => "wechat_pay",
            TenderKind::Alipay => "alipay",
            TenderKind::UnionPay => "unionpay",
        }
    }

    pub fn parse(s: &str) -> Option<TenderKind> {
        TenderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    pub kind: TenderKind,
    /// For cash, what the customer handed over; for everything else, what was charged.
    pub amount: i64,
    pub reference: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashRoundingMode {
    /// Drop the odd fen (抹零): the customer always pays less or the same.
    Down,
    /// Round to the nearest increment, halves up (Swedish rounding).
    Nearest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashRounding {
    /// The smallest cash amount taken, in minor units: 10 is ￥0.10.
    pub increment: i64,
    pub mode: CashRoundingMode,
}

impl CashRounding {
    /// The adjustment (≤ 0 for Down) that makes `due` a multiple of the increment.
    pub fn adjustment(&self, due: i64) -> i64 {
        if self.increment <= 1 || due <= 0 {
            return 0;
        }
        let rounded = match self.mode {
            CashRoundingMode::Down => due - due % self.increment,
            CashRoundingMode::Nearest => {
                to_minor(div_round_half_up(
                    i128::from(due),
                    i128::from(self.increment),
                )) * self.increment
            }
        };
        rounded - due
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("line not found")]
    LineNotFound,
    #[error("quantity must be more than 0 and at most {max}")]
    QuantityOutOfRange { max: Quantity },
    #[error("{0} is sold by the unit: whole quantities only")]
    FractionalQuantity(String),
    #[error("{0} comes from a scale label: void the line and weigh it again")]
    LabelledLine(String),
    #[error("price cannot be negative")]
    NegativePrice,
    #[error("a percentage discount is between 0 % and 100 %")]
    PercentOutOfRange,
    #[error("a discount amount cannot be negative")]
    NegativeDiscount,
    #[error("the discount is more than the amount it applies to")]
    DiscountExceedsAmount,
    #[error("a tender amount must be more than zero")]
    TenderNotPositive,
    #[error("{kind} needs a payment reference", kind = .0.as_str())]
    MissingReference(TenderKind),
    #[error("{kind} cannot pay more than the {due} still due", kind = .kind.as_str())]
    TenderExceedsDue { kind: TenderKind, due: Money },
    #[error("nothing to pay: the ticket is empty")]
    EmptyTicket,
    #[error("{remaining} still due")]
    Underpaid { remaining: Money },
    #[error("tender not found")]
    TenderNotFound,
}

/// Computed figures for one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTotals {
    pub gross: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    pub lines: Vec<LineTotals>,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

/// Where payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentState {
    pub total: i64,
    /// Cash rounding applied to the cash part (negative when rounding down).
    pub rounding: i64,
    /// What the customer must pay in all: total + rounding.
    pub payable: i64,
    pub paid: i64,
    pub remaining: i64,
    pub change: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    currency_code: String,
    currency_exponent: u8,
    pub tax_mode: TaxMode,
    pub cash_rounding: Option<CashRounding>,
    lines: Vec<TicketLine>,
    discount: Option<Discount>,
    tenders: Vec<Tender>,
    next_line: u32,
}

impl Ticket {
    pub fn new(currency: Currency, tax_mode: TaxMode, cash_rounding: Option<CashRounding>) -> Self {
        Ticket {
            currency_code: currency.code().to_string(),
            currency_exponent: currency.exponent(),
            tax_mode,
            cash_rounding,
            lines: Vec::new(),
            discount: None,
            tenders: Vec::new(),
            next_line: 1,
        }
    }

    pub fn currency(&self) -> Currency {
        self.currency_code.parse().unwrap_or(Currency::CNY)
    }

    pub fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency())
    }

    pub fn lines(&self) -> &[TicketLine] {
        &self.lines
    }

    pub fn tenders(&self) -> &[Tender] {
        &self.tenders
    }

    pub fn discount(&self) -> Option<Discount> {
        self.discount
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn line(&self, id: LineId) -> Result<&TicketLine, TicketError> {
        self.lines
            .iter()
            .find(|l| l.id == id)
            .ok_or(TicketError::LineNotFound)
    }

    fn line_mut(&mut self, id: LineId) -> Result<&mut TicketLine, TicketError> {
        self.lines
            .iter_mut()
            .find(|l| l.id == id)
            .ok_or(TicketError::LineNotFound)
    }

    /// Adds a line, or adds to the quantity of the last line when the same unit-priced item is
    /// scanned again (what cashiers expect when scanning three bottles in a row).
    pub fn add(
        &mut self,
        item: LineItem,
        unit_price: i64,
        quantity: Quantity,
    ) -> Result<LineId, TicketError> {
        check_line_quantity(&item, quantity)?;
        if unit_price < 0 {
            return Err(TicketError::NegativePrice);
        }
        if let Some(last) = self.lines.last_mut() {
            let same = last.item.sku == item.sku
                && !item.weighed
                && last.unit_price == unit_price
                && last.discount.is_none()
                && !last.price_overridden;
            if same {
                let merged = Quantity::from_milli(last.quantity.milli() + quantity.milli());
                check_quantity(merged)?;
                last.quantity = merged;
                return Ok(last.id);
            }
        }
        Ok(self.push_line(item, unit_price, quantity, None))
    }

    fn push_line(
        &mut self,
        item: LineItem,
        unit_price: i64,
        quantity: Quantity,
        label_price: Option<i64>,
    ) -> LineId {
        let id = LineId(self.next_line);
        self.next_line += 1;
        self.lines.push(TicketLine {
            id,
            item,
            unit_price,
            quantity,
            discount: None,
            price_overridden: false,
            label_price,
        });
        id
    }

    /// Adds a line from a price-embedded scale label: the label's price (minor units) is the
    /// line's gross, and its weight is that price divided by the unit price, to the gram
    /// ([`weight_for_price`]), so the receipt reads "2.750 kg × ￥12.98/kg  ￥35.70".
    pub fn add_labelled(
        &mut self,
        item: LineItem,
        unit_price: i64,
        label_price: i64,
    ) -> Result<LineId, TicketError> {
        if unit_price < 0 || label_price < 0 {
            return Err(TicketError::NegativePrice);
        }
        let quantity = weight_for_price(label_price, unit_price);
        check_quantity(quantity)?;
        Ok(self.push_line(item, unit_price, quantity, Some(label_price)))
    }

    /// Sets a line's quantity: more than zero, at most [`Quantity::MAX`], whole for goods sold
    /// by the unit; a scale label's line keeps the label's weight.
    pub fn set_quantity(&mut self, id: LineId, quantity: Quantity) -> Result<(), TicketError> {
        let line = self.line_mut(id)?;
        check_line_quantity(&line.item, quantity)?;
        if line.label_price.is_some() && quantity != line.quantity {
            return Err(TicketError::LabelledLine(line.item.name_zh.clone()));
        }
        line.quantity = quantity;
        Ok(())
    }

    pub fn set_price(&mut self, id: LineId, unit_price: i64) -> Result<(), TicketError> {
        if unit_price < 0 {
            return Err(TicketError::NegativePrice);
        }
        let line = self.line_mut(id)?;
        line.unit_price = unit_price;
        line.price_overridden = true;
        // An overridden price replaces the label's: the line is weight × the new price.
        line.label_price = None;
        Ok(())
    }

    pub fn void(&mut self, id: LineId) -> Result<TicketLine, TicketError> {
        let index = self
            .lines
            .iter()
            .position(|l| l.id == id)
            .ok_or(TicketError::LineNotFound)?;
        Ok(self.lines.remove(index))
    }

    pub fn set_line_discount(
        &mut self,
        id: LineId,
        discount: Option<Discount>,
    ) -> Result<(), TicketError> {
        let gross = line_gross(self.line(id)?);
        if let Some(d) = discount {
            validate_discount(d, gross)?;
        }
        self.line_mut(id)?.discount = discount;
        Ok(())
    }

    pub fn set_ticket_discount(&mut self, discount: Option<Discount>) -> Result<(), TicketError> {
        if let Some(d) = discount {
            let base: i64 = self
                .totals()
                .lines
                .iter()
                .map(|l| l.gross - l.discount)
                .sum();
            validate_discount(d, base)?;
        }
        self.discount = discount;
        Ok(())
    }

    /// The amount a ticket discount would apply to: the ticket after line discounts.
    pub fn discountable_amount(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| line_gross(l) - l.discount.map_or(0, |d| d.apply_to(line_gross(l))))
            .sum()
    }

    pub fn totals(&self) -> Totals {
        let mut lines: Vec<LineTotals> = self
            .lines
            .iter()
            .map(|l| {
                let gross = line_gross(l);
                let discount = l.discount.map_or(0, |d| d.apply_to(gross));
                LineTotals {
                    gross,
                    discount,
                    tax: 0,
                    total: 0,
                }
            })
            .collect();
        let after: Vec<i64> = lines.iter().map(|l| l.gross - l.discount).collect();
        let base: i64 = after.iter().sum();
        if let Some(d) = self.discount {
            let shares = allocate(d.apply_to(base), &after);
            for (line, share) in lines.iter_mut().zip(shares) {
                line.discount += share;
            }
        }
        for (line, ticket_line) in lines.iter_mut().zip(&self.lines) {
            let net = line.gross - line.discount;
            line.tax = line_tax(net, ticket_line.item.tax_rate, self.tax_mode);
            line.total = match self.tax_mode {
                TaxMode::Inclusive => net,
                TaxMode::Exclusive => net + line.tax,
            };
        }
        Totals {
            subtotal: lines.iter().map(|l| l.gross).sum(),
            discount: lines.iter().map(|l| l.discount).sum(),
            tax: lines.iter().map(|l| l.tax).sum(),
            total: lines.iter().map(|l| l.total).sum(),
            lines,
        }
    }

    pub fn add_tender(&mut self, tender: Tender) -> Result<(), TicketError> {
        if self.is_empty() {
            return Err(TicketError::EmptyTicket);
        }
        if tender.amount <= 0 {
            return Err(TicketError::TenderNotPositive);
        }
        let has_reference = tender
            .reference
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty());
        if tender.kind.needs_reference() && !has_reference {
            return Err(TicketError::MissingReference(tender.kind));
        }
        if tender.kind != TenderKind::Cash {
            // Only cash gives change, so nothing else may pay more than is left.
            let due = self.payment().remaining;
            if tender.amount > due {
                return Err(TicketError::TenderExceedsDue {
                    kind: tender.kind,
                    due: self.money(due),
                });
            }
        }
        self.tenders.push(tender);
        Ok(())
    }

    pub fn remove_tender(&mut self, index: usize) -> Result<Tender, TicketError> {
        if index >= self.tenders.len() {
            return Err(TicketError::TenderNotFound);
        }
        Ok(self.tenders.remove(index))
    }

    pub fn payment(&self) -> PaymentState {
        let total = self.totals().total;
        let non_cash: i64 = self
            .tenders
            .iter()
            .filter(|t| t.kind != TenderKind::Cash)
            .map(|t| t.amount)
            .sum();
        let cash: i64 = self
            .tenders
            .iter()
            .filter(|t| t.kind == TenderKind::Cash)
            .map(|t| t.amount)
            .sum();
        let rounding = match self.cash_rounding {
            Some(r) if cash > 0 => r.adjustment(total - non_cash),
            _ => 0,
        };
        let payable = total + rounding;
        let paid = non_cash + cash;
        PaymentState {
            total,
            rounding,
            payable,
            paid,
            remaining: (payable - paid).max(0),
            change: (paid - payable).max(0),
        }
    }

    /// What the cashier should ask for in cash to settle the rest, with cash rounding applied.
    pub fn cash_due(&self) -> i64 {
        let state = self.payment();
        if state.paid > 0 && self.tenders.iter().any(|t| t.kind == TenderKind::Cash) {
            return state.remaining;
        }
        let due = state.remaining;
        due + self.cash_rounding.map_or(0, |r| r.adjustment(due))
    }

    /// Checks the ticket can be committed: it has lines and is paid in full.
    pub fn ready_to_commit(&self) -> Result<PaymentState, TicketError> {
        if self.is_empty() {
            return Err(TicketError::EmptyTicket);
        }
        let state = self.payment();
        if state.remaining > 0 {
            return Err(TicketError::Underpaid {
                remaining: self.money(state.remaining),
            });
        }
        Ok(state)
    }
}

/// The one quantity rule every front-end goes through (touchscreen, `till run`, `till sell`):
/// more than zero, at most [`Quantity::MAX`], and whole unless the goods are sold by weight.
fn check_line_quantity(item: &LineItem, quantity: Quantity) -> Result<(), TicketError> {
    check_quantity(quantity)?;
    if !item.weighed && !quantity.is_whole() {
        return Err(TicketError::FractionalQuantity(item.name_zh.clone()));
    }
    Ok(())
}

fn check_quantity(quantity: Quantity) -> Result<(), TicketError> {
    if quantity.milli() <= 0 || quantity > Quantity::MAX {
        return Err(TicketError::QuantityOutOfRange { max: Quantity::MAX });
    }
    Ok(())
}

fn validate_discount(discount: Discount, base: i64) -> Result<(), TicketError> {
    match discount {
        Discount::Percent(bp) if bp > 10_000 => Err(TicketError::PercentOutOfRange),
        Discount::Amount(a) if a < 0 => Err(TicketError::NegativeDiscount),
        Discount::Amount(a) if a > base => Err(TicketError::DiscountExceedsAmount),
        _ => Ok(()),
    }
}

fn line_gross(line: &TicketLine) -> i64 {
    if let Some(label_price) = line.label_price {
        return label_price;
    }
    to_minor(div_round_half_up(
        i128::from(line.unit_price) * i128::from(line.quantity.milli()),
        1000,
    ))
}

/// Splits `amount` over `weights` in proportion, by largest remainder: the parts sum to
/// `amount` exactly and no part exceeds its weight (given `amount ≤ Σ weights`). Ties go to the
/// earlier line so the split is deterministic.
fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total <= 0 || amount <= 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = i128::from(amount) * i128::from(*w);
        shares.push(to_minor(exact / total));
        remainders.push((exact % total, i));
    }
    let mut left = amount - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        if shares[i] < weights[i] {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
}

#[cfg(test)]
mod tests;
