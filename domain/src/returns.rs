//! Returns: what is left to return of a sold line, what returning part of it refunds, and
//! which tenders the refund goes back to. Every front-end and HQ call these, so a line can
//! never be refunded twice nor for more than was paid for it.
//!
//! Amounts are integer minor units (fen); quantities are thousandths (grams for weighed
//! goods). A part of a line refunds its share of what the line came to after discounts,
//! rounded half up ([`crate::money::div_round_half_up`]); the last of a line refunds exactly
//! what its earlier returns left, so a line's refunds always add up to what was paid for it.

use crate::money::div_round_half_up;
use crate::ticket::TenderKind;

/// Why a return of a line was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    #[error("the sale has no line {0}")]
    UnknownLine(u32),
    #[error("line {0}: return a quantity above zero")]
    NotPositive(u32),
    #[error("line {0} is sold by the unit: return whole units")]
    Fractional(u32),
    /// More than is left after earlier returns: `left_milli` thousandths remain.
    #[error(
        "line {line_no}: only {} left to return",
        crate::quantity::Quantity::from_milli(*.left_milli)
    )]
    TooMuch { line_no: u32, left_milli: i64 },
    #[error("nothing to return: pick at least one line")]
    Empty,
}

/// The chain's return policy (the config's `[returns]`): a return of a sale older than the
/// window, or refunding more than the approval limit, needs a manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReturnPolicy {
    pub window_days: u32,
    /// Minor units; a refund over it needs a manager.
    pub approval_over: i64,
}

/// Why a return needs a manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagerReason {
    /// The sale is older than the return window.
    PastWindow { days: u32 },
    /// The refund is over the approval limit (minor units).
    OverLimit { limit: i64 },
}

impl ReturnPolicy {
    /// Whether returning `refund` of a sale made at `sold_at_ms`, at `now_ms`, needs a
    /// manager, and why.
    pub fn needs_manager(
        &self,
        sold_at_ms: i64,
        now_ms: i64,
        refund: i64,
    ) -> Option<ManagerReason> {
        let window_ms = i64::from(self.window_days) * 86_400_000;
        if now_ms.saturating_sub(sold_at_ms) > window_ms {
            return Some(ManagerReason::PastWindow {
                days: self.window_days,
            });
        }
        (refund > self.approval_over).then_some(ManagerReason::OverLimit {
            limit: self.approval_over,
        })
    }
}

/// A sold line as a return needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoldLine {
    pub line_no: u32,
    /// Thousandths of a unit, or grams.
    pub qty_milli: i64,
    pub weighed: bool,
    /// What the line came to after discounts, tax included as charged.
    pub total: i64,
    pub tax: i64,
}

/// What earlier returns took of a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Returned {
    pub qty_milli: i64,
    pub amount: i64,
    pub tax: i64,
}

/// What one line's return refunds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRefund {
    pub line_no: u32,
    pub qty_milli: i64,
    pub amount: i64,
    pub tax: i64,
}

/// What is left to return of `sold`: sold less what earlier returns took.
pub fn refundable(sold: &SoldLine, returned: &Returned) -> i64 {
    (sold.qty_milli - returned.qty_milli).max(0)
}

/// The refund for returning `qty_milli` of `sold` after `returned`. Refused: nothing, a
/// fraction of a unit-sold line, or more than is left.
pub fn line_refund(
    sold: &SoldLine,
    returned: &Returned,
    qty_milli: i64,
) -> Result<LineRefund, ReturnError> {
    let line_no = sold.line_no;
    if qty_milli <= 0 {
        return Err(ReturnError::NotPositive(line_no));
    }
    if !sold.weighed && qty_milli % 1000 != 0 {
        return Err(ReturnError::Fractional(line_no));
    }
    let left = refundable(sold, returned);
    if qty_milli > left {
        return Err(ReturnError::TooMuch {
            line_no,
            left_milli: left,
        });
    }
    let (amount, tax) = if qty_milli == left {
        (sold.total - returned.amount, sold.tax - returned.tax)
    } else {
        let share = |of: i64| {
            div_round_half_up(
                i128::from(of) * i128::from(qty_milli),
                i128::from(sold.qty_milli),
            ) as i64
        };
        (share(sold.total), share(sold.tax))
    };
    Ok(LineRefund {
        line_no,
        qty_milli,
        amount,
        tax,
    })
}

/// Splits `refund` over the sale's tenders: back to each original tender in the order they
/// were paid, each up to what it took (cash net of the change given) less what earlier
/// returns refunded to it. `paid` is the sale's `(tender, amount)` in order, cash as handed
/// over; `change` comes off the cash. Whatever the tenders cannot take (never, for a refund
/// within what is left) goes to cash.
pub fn refund_tenders(
    paid: &[(TenderKind, i64)],
    change: i64,
    refunded_before: &[(TenderKind, i64)],
    refund: i64,
) -> Vec<(TenderKind, i64)> {
    let mut change_left = change;
    let mut taken: Vec<(TenderKind, i64)> = Vec::new();
    for (kind, amount) in paid {
        let mut net = *amount;
        if *kind == TenderKind::Cash {
            let off = change_left.min(net);
            net -= off;
            change_left -= off;
        }
        match taken.iter_mut().find(|(k, _)| k == kind) {
            Some(slot) => slot.1 += net,
            None => taken.push((*kind, net)),
        }
    }
    for (kind, amount) in refunded_before {
        if let Some(slot) = taken.iter_mut().find(|(k, _)| k == kind) {
            slot.1 -= amount;
        }
    }
    let mut left = refund;
    let mut out: Vec<(TenderKind, i64)> = Vec::new();
    for (kind, room) in taken {
        if left <= 0 {
            break;
        }
        let part = room.max(0).min(left);
        if part > 0 {
            out.push((kind, part));
            left -= part;
        }
    }
    if left > 0 {
        match out.iter_mut().find(|(k, _)| *k == TenderKind::Cash) {
            Some(slot) => slot.1 += left,
            None => out.push((TenderKind::Cash, left)),
        }
    }
    out
}

/// The points a return takes back: the sale earned `earned` on `payable`; after this return
/// `refunded_after` of it has been refunded in all, so the member keeps the share of the points
/// for what they kept (rounded down for what was refunded in all: a return never takes more
/// than the sale gave), less what earlier returns took back already.
pub fn points_to_reverse(
    earned: i64,
    payable: i64,
    refunded_after: i64,
    reversed_before: i64,
) -> i64 {
    if payable <= 0 || earned <= 0 {
        return 0;
    }
    let refunded = refunded_after.clamp(0, payable);
    let total = if refunded == payable {
        earned
    } else {
        (i128::from(earned) * i128::from(refunded) / i128::from(payable)) as i64
    };
    (total - reversed_before).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(qty_milli: i64, total: i64, tax: i64, weighed: bool) -> SoldLine {
        SoldLine {
            line_no: 1,
            qty_milli,
            weighed,
            total,
            tax,
        }
    }

    /// Odoo refunded a refund line again: here each part comes off what is left, and the
    /// parts add up to what the line cost, to the fen.
    #[test]
    fn a_line_returned_in_parts_refunds_exactly_what_it_cost() {
        let sold = line(3000, 1000, 115, false);
        let mut returned = Returned::default();
        let mut refunds = Vec::new();
        for _ in 0..3 {
            let r = line_refund(&sold, &returned, 1000).unwrap();
            returned.qty_milli += r.qty_milli;
            returned.amount += r.amount;
            returned.tax += r.tax;
            refunds.push(r.amount);
        }
        assert_eq!(refunds, [333, 333, 334]);
        assert_eq!((returned.amount, returned.tax), (1000, 115));
        assert_eq!(
            line_refund(&sold, &returned, 1000),
            Err(ReturnError::TooMuch {
                line_no: 1,
                left_milli: 0
            })
        );
    }

    #[test]
    fn what_a_return_refuses() {
        let sold = line(2000, 500, 57, false);
        let check = |returned: Returned, qty: i64, expected: ReturnError| {
            assert_eq!(line_refund(&sold, &returned, qty), Err(expected), "{qty}");
        };
        check(Returned::default(), 0, ReturnError::NotPositive(1));
        check(Returned::default(), -1000, ReturnError::NotPositive(1));
        check(Returned::default(), 500, ReturnError::Fractional(1));
        check(
            Returned::default(),
            3000,
            ReturnError::TooMuch {
                line_no: 1,
                left_milli: 2000,
            },
        );
        let half = Returned {
            qty_milli: 1000,
            amount: 250,
            tax: 29,
        };
        check(
            half,
            2000,
            ReturnError::TooMuch {
                line_no: 1,
                left_milli: 1000,
            },
        );
        let weighed = line(356, 462, 38, true);
        assert_eq!(
            line_refund(&weighed, &Returned::default(), 100)
                .unwrap()
                .amount,
            130,
            "100 g of 356 g at ￥4.62: ￥1.297… rounds to ￥1.30"
        );
    }

    #[test]
    fn a_return_takes_back_the_points_of_what_was_returned_and_no_more() {
        // ￥25.00 earned 25 points; ￥10.00 returned, then the rest.
        assert_eq!(points_to_reverse(25, 2_500, 1_000, 0), 10);
        assert_eq!(points_to_reverse(25, 2_500, 2_500, 10), 15);
        assert_eq!(points_to_reverse(25, 2_500, 999, 0), 9, "rounded down");
        assert_eq!(
            points_to_reverse(0, 2_500, 2_500, 0),
            0,
            "an anonymous sale"
        );
        assert_eq!(points_to_reverse(25, 2_500, 3_000, 25), 0, "never more");
    }

    #[test]
    fn old_or_large_returns_need_a_manager() {
        let policy = ReturnPolicy {
            window_days: 30,
            approval_over: 50_000,
        };
        let day = 86_400_000;
        assert_eq!(policy.needs_manager(0, 30 * day, 50_000), None);
        assert_eq!(
            policy.needs_manager(0, 30 * day + 1, 100),
            Some(ManagerReason::PastWindow { days: 30 })
        );
        assert_eq!(
            policy.needs_manager(0, day, 50_001),
            Some(ManagerReason::OverLimit { limit: 50_000 })
        );
    }

    /// ERPNext refunded the cash handed over, change included: a refund goes back to each
    /// tender up to what it really took.
    #[test]
    fn refunds_go_back_to_the_tenders_that_paid() {
        use TenderKind::{Card, Cash, WeChatPay};
        let paid = [(WeChatPay, 3_000), (Cash, 2_000)];
        // ￥50.00 in all: WeChat ￥30, cash ￥20 with ￥5.00 change (￥15 kept).
        assert_eq!(refund_tenders(&paid, 500, &[], 1_000), [(WeChatPay, 1_000)]);
        assert_eq!(
            refund_tenders(&paid, 500, &[], 4_500),
            [(WeChatPay, 3_000), (Cash, 1_500)]
        );
        assert_eq!(
            refund_tenders(&paid, 500, &[(WeChatPay, 3_000)], 1_500),
            [(Cash, 1_500)],
            "what WeChat gave back before is not given again"
        );
        assert_eq!(refund_tenders(&[(Card, 990)], 0, &[], 990), [(Card, 990)]);
    }
}
