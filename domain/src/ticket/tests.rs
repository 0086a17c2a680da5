//! Tests of `ticket`.

use proptest::prelude::*;

use super::*;

fn item(sku: &str, rate_bp: u32) -> LineItem {
    LineItem {
        sku: sku.into(),
        code: sku.into(),
        name_zh: sku.into(),
        name_en: sku.into(),
        tax_class: "standard".into(),
        tax_rate: TaxRate::from_basis_points(rate_bp).unwrap(),
        weighed: false,
    }
}

fn ticket(mode: TaxMode) -> Ticket {
    Ticket::new(Currency::CNY, mode, None)
}

#[test]
fn scanning_the_same_item_again_adds_to_its_line() {
    let mut t = ticket(TaxMode::Inclusive);
    let a = t.add(item("cola", 1300), 350, Quantity::ONE).unwrap();
    let b = t.add(item("cola", 1300), 350, Quantity::ONE).unwrap();
    assert_eq!(a, b);
    assert_eq!(t.lines()[0].quantity, Quantity::units(2));
    t.add(item("chips", 1300), 600, Quantity::ONE).unwrap();
    t.add(item("cola", 1300), 350, Quantity::ONE).unwrap();
    assert_eq!(t.lines().len(), 3, "a non-adjacent rescan is a new line");
    assert_eq!(t.totals().total, 350 * 3 + 600);
}

#[test]
fn weighed_line_rounds_half_up() {
    let mut t = ticket(TaxMode::Inclusive);
    let mut apples = item("apple", 900);
    apples.weighed = true;
    // ￥12.98/kg × 0.355 kg = 460.79 fen → ￥4.61.
    t.add(apples, 1298, Quantity::grams(355)).unwrap();
    let totals = t.totals();
    assert_eq!(totals.total, 461);
    // 461 × 9 / 109 = 38.06 → 38 fen of tax.
    assert_eq!(totals.tax, 38);
}

#[test]
fn exclusive_tax_is_added_per_line() {
    let mut t = ticket(TaxMode::Exclusive);
    t.add(item("a", 1300), 1000, Quantity::ONE).unwrap();
    t.add(item("b", 600), 333, Quantity::ONE).unwrap();
    let totals = t.totals();
    assert_eq!(totals.subtotal, 1333);
    assert_eq!(totals.tax, 130 + 20);
    assert_eq!(totals.total, 1333 + 150);
}

#[test]
fn ticket_discount_splits_exactly_across_lines() {
    let mut t = ticket(TaxMode::Inclusive);
    for sku in ["a", "b", "c"] {
        t.add(item(sku, 1300), 100, Quantity::ONE).unwrap();
    }
    t.set_ticket_discount(Some(Discount::Amount(100))).unwrap();
    let totals = t.totals();
    let shares: Vec<i64> = totals.lines.iter().map(|l| l.discount).collect();
    assert_eq!(shares, vec![34, 33, 33]);
    assert_eq!(totals.total, 200);
}

#[test]
fn bad_discounts_are_refused_and_change_nothing() {
    let mut t = ticket(TaxMode::Inclusive);
    let id = t.add(item("a", 1300), 500, Quantity::ONE).unwrap();
    let before = t.clone();
    assert_eq!(
        t.set_line_discount(id, Some(Discount::Percent(10_001))),
        Err(TicketError::PercentOutOfRange)
    );
    assert_eq!(
        t.set_line_discount(id, Some(Discount::Amount(-1))),
        Err(TicketError::NegativeDiscount)
    );
    assert_eq!(
        t.set_line_discount(id, Some(Discount::Amount(501))),
        Err(TicketError::DiscountExceedsAmount)
    );
    assert_eq!(
        t.set_ticket_discount(Some(Discount::Amount(501))),
        Err(TicketError::DiscountExceedsAmount)
    );
    assert_eq!(t, before);
}

#[test]
fn split_tender_gives_change_only_from_cash() {
    let mut t = ticket(TaxMode::Inclusive);
    t.add(item("a", 1300), 2350, Quantity::ONE).unwrap();
    let card = |amount| Tender {
        kind: TenderKind::Card,
        amount,
        reference: None,
    };
    assert_eq!(
        t.add_tender(card(3000)),
        Err(TicketError::TenderExceedsDue {
            kind: TenderKind::Card,
            due: Money::new(2350, Currency::CNY)
        })
    );
    t.add_tender(card(1000)).unwrap();
    assert_eq!(
        t.ready_to_commit(),
        Err(TicketError::Underpaid {
            remaining: Money::new(1350, Currency::CNY)
        })
    );
    assert_eq!(
        t.ready_to_commit().unwrap_err().to_string(),
        "￥13.50 still due"
    );
    t.add_tender(Tender {
        kind: TenderKind::Cash,
        amount: 2000,
        reference: None,
    })
    .unwrap();
    let state = t.ready_to_commit().unwrap();
    assert_eq!(state.change, 650);
    assert_eq!(
        t.add_tender(Tender {
            kind: TenderKind::WeChatPay,
            amount: 1,
            reference: None
        }),
        Err(TicketError::MissingReference(TenderKind::WeChatPay))
    );
}

#[test]
fn cash_rounding_drops_odd_fen_as_its_own_figure() {
    let mut t = Ticket::new(
        Currency::CNY,
        TaxMode::Inclusive,
        Some(CashRounding {
            increment: 10,
            mode: CashRoundingMode::Down,
        }),
    );
    t.add(item("a", 1300), 1237, Quantity::ONE).unwrap();
    assert_eq!(t.cash_due(), 1230);
    t.add_tender(Tender {
        kind: TenderKind::Cash,
        amount: 1230,
        reference: None,
    })
    .unwrap();
    let state = t.ready_to_commit().unwrap();
    assert_eq!(
        (state.total, state.rounding, state.payable, state.change),
        (1237, -7, 1230, 0)
    );
    let nearest = CashRounding {
        increment: 10,
        mode: CashRoundingMode::Nearest,
    };
    assert_eq!(nearest.adjustment(1235), 5);
    assert_eq!(nearest.adjustment(1234), -4);
}

#[test]
fn empty_ticket_cannot_be_paid_or_committed() {
    let mut t = ticket(TaxMode::Inclusive);
    assert_eq!(t.ready_to_commit(), Err(TicketError::EmptyTicket));
    assert_eq!(
        t.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: 100,
            reference: None
        }),
        Err(TicketError::EmptyTicket)
    );
}

fn arb_ticket() -> impl Strategy<Value = (Ticket, Vec<Option<Discount>>, Option<Discount>)> {
    let line = (
        0i64..200_000,
        1i64..20_000,
        prop_oneof![Just(0u32), Just(600), Just(900), Just(1300)],
    );
    let discount = prop_oneof![
        Just(None),
        (0u32..=10_000).prop_map(|bp| Some(Discount::Percent(bp))),
        (0i64..300_000).prop_map(|a| Some(Discount::Amount(a))),
    ];
    let mode = prop_oneof![Just(TaxMode::Inclusive), Just(TaxMode::Exclusive)];
    (
        mode,
        prop::collection::vec((line, discount.clone()), 1..25),
        discount,
    )
        .prop_map(|(mode, lines, ticket_discount)| {
            let mut t = ticket(mode);
            let mut discounts = Vec::new();
            for (i, ((price, qty, rate), d)) in lines.into_iter().enumerate() {
                // Only goods sold by weight take a fraction.
                let mut item = item(&format!("sku{i}"), rate);
                item.weighed = qty % 1000 != 0;
                t.add(item, price, Quantity::from_milli(qty)).unwrap();
                discounts.push(d);
            }
            (t, discounts, ticket_discount)
        })
}

proptest! {
    #[test]
    fn totals_reconcile_and_no_line_goes_negative((mut t, discounts, ticket_discount) in arb_ticket()) {
        let ids: Vec<LineId> = t.lines().iter().map(|l| l.id).collect();
        for (id, d) in ids.iter().zip(discounts) {
            // Discounts larger than the line are refused; the rest apply.
            let _ = t.set_line_discount(*id, d);
        }
        let _ = t.set_ticket_discount(ticket_discount);
        let totals = t.totals();
        prop_assert_eq!(totals.total, totals.lines.iter().map(|l| l.total).sum::<i64>());
        prop_assert_eq!(totals.tax, totals.lines.iter().map(|l| l.tax).sum::<i64>());
        let tax_on_top = if t.tax_mode == TaxMode::Exclusive { totals.tax } else { 0 };
        prop_assert_eq!(totals.total, totals.subtotal - totals.discount + tax_on_top);
        for l in &totals.lines {
            prop_assert!(l.discount >= 0 && l.discount <= l.gross, "{:?}", l);
            prop_assert!(l.total >= 0 && l.tax >= 0, "{:?}", l);
            prop_assert!(l.tax <= l.total, "{:?}", l);
        }
    }

    #[test]
    fn change_is_tendered_minus_due((mut t, _, _) in arb_ticket(), card_share in 0i64..=100, extra in 0i64..100_000) {
        let due = t.payment().payable;
        let card = due * card_share / 100;
        if card > 0 {
            t.add_tender(Tender { kind: TenderKind::Card, amount: card, reference: None }).unwrap();
        }
        let cash = due - card + extra;
        if cash > 0 {
            t.add_tender(Tender { kind: TenderKind::Cash, amount: cash, reference: None }).unwrap();
        }
        if due == 0 {
            return Ok(());
        }
        let state = t.ready_to_commit().unwrap();
        prop_assert_eq!(state.change, state.paid - state.payable);
        prop_assert_eq!(state.change, extra);
    }

    #[test]
    fn allocation_sums_exactly_and_respects_weights(weights in prop::collection::vec(0i64..100_000, 1..30), pct in 0i64..=100) {
        let total: i64 = weights.iter().sum();
        let amount = total * pct / 100;
        let shares = allocate(amount, &weights);
        prop_assert_eq!(shares.iter().sum::<i64>(), if total > 0 { amount } else { 0 });
        for (s, w) in shares.iter().zip(&weights) {
            prop_assert!(*s >= 0 && s <= w);
        }
    }
}
