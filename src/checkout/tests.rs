//! Tests of `checkout`.

use super::*;
use crate::catalog::{ImportRules, import_csv};
use till_domain::TenderKind;

const CATALOG: &str = "\
sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu
1001,6901028075831,农夫山泉 550ml,Nongfu Spring 550ml,2.00,food,饮料,0,1,
1002,4006381333931|COLA-L,可口可乐 1.25L,Coca-Cola 1.25L,5.50,standard,饮料,0,1,
1003,73513537,旧款薯片,Old chips,7.50,standard,零食,0,0,
2042,6920202888883,红富士苹果,Fuji apples,12.98,food,生鲜,1,1,00042
3077,,熟食拼盘,Deli platter,25.00,food,熟食,0,1,00077
";

fn checkout() -> (tempfile::TempDir, Checkout) {
    let (dir, mut store) = crate::store::sales::tests::store();
    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let settings = CheckoutSettings::from_config(&config).unwrap();
    let rules = ImportRules::for_terminal(&settings, false, 0);
    let report = import_csv(&mut store, CATALOG.as_bytes(), &rules, |_| {}).unwrap();
    assert!(report.committed, "{:?}", report.rejected);
    // Sales belong to a shift (`[shift] required`, the default).
    store
        .open_shift("9001", &crate::demo::demo_float())
        .unwrap();
    (dir, Checkout::new(store, settings, "1001"))
}

fn manager() -> ManagerApproval {
    ManagerApproval {
        manager: "9001".into(),
    }
}

/// Runs a scan that must fail, and checks the ticket did not change.
fn refused(c: &mut Checkout, code: &str, context: ScanContext) -> CheckoutError {
    let before = c.ticket().clone();
    let error = c.scan(code, context).expect_err(code);
    assert_eq!(c.ticket(), &before, "{code} changed the ticket");
    error
}

#[test]
fn scans_add_lines_by_any_of_a_products_codes() {
    let (_dir, mut c) = checkout();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    c.scan("COLA-L", ScanContext::Sale).unwrap();
    c.scan("4006381333931", ScanContext::Sale).unwrap();
    let lines = c.ticket().lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].quantity, Quantity::units(2));
    assert_eq!(c.ticket().totals().total, 200 + 1100);
}

#[test]
fn bad_scans_leave_the_ticket_unchanged_with_a_reason() {
    let (_dir, mut c) = checkout();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let cases = [
        ("4006381333932", "wrong check digit"),
        ("6901234567892", "unknown product"),
        ("COLA-XL", "not a barcode this till knows"),
        ("73513537", "not for sale"),
        ("134567890123456789", "WeChat Pay payment code scanned"),
        ("6920202888883", "sold by weight"),
        ("2100099012507", "unknown product PLU 00099"),
    ];
    for (code, message) in cases {
        let error = refused(&mut c, code, ScanContext::Sale);
        assert!(error.to_string().contains(message), "{code}: {error}");
    }
    let long = "7".repeat(10 * 1024);
    assert!(
        refused(&mut c, &long, ScanContext::Sale)
            .to_string()
            .contains("too long")
    );
}

#[test]
fn payment_codes_are_references_on_the_payment_screen() {
    let (_dir, mut c) = checkout();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let outcome = c.scan("286543210987654321", ScanContext::Payment).unwrap();
    let ScanOutcome::PaymentReference(code) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(code.provider, PaymentProvider::Alipay);
    c.add_tender(Tender {
        kind: TenderKind::Alipay,
        amount: 200,
        reference: Some(code.code),
    })
    .unwrap();
    let sale = c.commit().unwrap();
    assert_eq!(
        sale.record.payments[0].reference.as_deref(),
        Some("286543210987654321")
    );
}

#[test]
fn weighed_items_come_from_scale_labels_or_a_keyed_weight() {
    let (_dir, mut c) = checkout();
    // Prefix 22: PLU 00042, 356 g.
    c.scan("2200042003566", ScanContext::Sale).unwrap();
    // Prefix 21: PLU 00042 at a label price of ￥12.50.
    c.scan("2100042012509", ScanContext::Sale).unwrap();
    c.scan_with_quantity("6920202888883", ScanContext::Sale, Quantity::parse("0.5"))
        .unwrap();
    let totals = c.ticket().totals();
    let gross: Vec<i64> = totals.lines.iter().map(|l| l.gross).collect();
    assert_eq!(gross, vec![462, 1250, 649]);
}

#[test]
fn a_price_label_records_the_weight_it_stands_for() {
    let (_dir, mut c) = checkout();
    // Apples at ￥12.98/kg; the scale printed ￥35.70.
    c.scan("2100042035706", ScanContext::Sale).unwrap();
    let line = &c.ticket().lines()[0];
    assert_eq!(line.quantity, Quantity::grams(2750));
    assert_eq!(line.unit_price, 1298);
    assert_eq!(c.ticket().totals().lines[0].gross, 3570);
    // The scale's weight is fixed: changing it is refused, the line unchanged.
    let id = line.id;
    assert!(matches!(
        c.set_quantity(id, Quantity::grams(1000)),
        Err(CheckoutError::Ticket(TicketError::LabelledLine(_)))
    ));
    // The label wins even when the catalog price has moved since the label was printed:
    // ￥12.50 at ￥12.98/kg is 0.963 kg, and the line is still exactly ￥12.50.
    c.scan("2100042012509", ScanContext::Sale).unwrap();
    assert_eq!(c.ticket().lines()[1].quantity, Quantity::grams(963));
    assert_eq!(c.ticket().totals().lines[1].gross, 1250);
    c.add_tender(Tender {
        kind: TenderKind::Cash,
        amount: 5000,
        reference: None,
    })
    .unwrap();
    let sale = c.commit().unwrap();
    let line = &sale.record.lines[0];
    assert_eq!(
        (line.qty_milli, line.unit_price, line.gross),
        (2750, 1298, 3570)
    );
    assert!(line.weighed);
    // A pre-packed item sold by the unit, with a price label: one of it, at that price,
    // never a fraction.
    c.scan("2100077018804", ScanContext::Sale).unwrap();
    let line = &c.ticket().lines()[0];
    assert_eq!((line.quantity, line.unit_price), (Quantity::ONE, 1880));
    assert_eq!(c.ticket().totals().lines[0].gross, 1880);
    // A quantity keyed before a label is refused, not ignored; a label for nothing too.
    let before = c.ticket().clone();
    assert!(matches!(
        c.scan_with_quantity("2100042035706", ScanContext::Sale, Quantity::parse("2")),
        Err(CheckoutError::QuantityOnLabel)
    ));
    for empty in ["2100042000001", "2200042000008"] {
        assert!(
            matches!(
                c.scan(empty, ScanContext::Sale),
                Err(CheckoutError::EmptyLabel(_))
            ),
            "{empty}"
        );
    }
    assert_eq!(c.ticket(), &before);
}

#[test]
fn only_weighed_products_take_a_fraction() {
    fn check(quantity: &str, code: &str, expected: Result<i64, &str>) {
        let (_dir, mut c) = checkout();
        let result = c.scan_with_quantity(code, ScanContext::Sale, Quantity::parse(quantity));
        match expected {
            Ok(milli) => {
                result.unwrap_or_else(|e| panic!("{quantity}*{code}: {e}"));
                assert_eq!(c.ticket().lines()[0].quantity.milli(), milli);
            }
            Err(message) => {
                let error = result.expect_err(code).to_string();
                assert!(error.contains(message), "{quantity}*{code}: {error}");
                assert!(
                    c.ticket().is_empty(),
                    "{quantity}*{code} changed the ticket"
                );
            }
        }
    }
    check("2", "6901028075831", Ok(2000));
    check("0.5", "6901028075831", Err("whole quantities only"));
    check("1.001", "6901028075831", Err("whole quantities only"));
    check("0", "6901028075831", Err("more than 0"));
    check("0.000", "6901028075831", Err("more than 0"));
    check("10000", "6901028075831", Err("at most 9999"));
    check("0.5", "6920202888883", Ok(500));
    check("0.356", "00042", Ok(356));
    check("0", "6920202888883", Err("more than 0"));
    // A unit line's quantity can only be set whole too.
    let (_dir, mut c) = checkout();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let line = c.ticket().lines()[0].id;
    assert!(
        c.set_quantity(line, Quantity::parse("1.5").unwrap())
            .is_err()
    );
    assert!(c.set_quantity(line, Quantity::from_milli(-1000)).is_err());
    c.set_quantity(line, Quantity::units(3)).unwrap();
    assert_eq!(c.ticket().lines()[0].quantity, Quantity::units(3));
}

#[test]
fn a_keyed_plu_finds_its_product() {
    let (_dir, mut c) = checkout();
    // Apples are sold by weight: the PLU alone asks for the weight.
    assert!(matches!(
        refused(&mut c, "00042", ScanContext::Sale),
        CheckoutError::NeedsWeight(_)
    ));
    c.scan_with_quantity("00042", ScanContext::Sale, Quantity::parse("1.2"))
        .unwrap();
    assert_eq!(c.ticket().lines()[0].item.sku, "2042");
    assert_eq!(c.ticket().totals().lines[0].gross, 1558);
    // A PLU the catalog does not have is an unknown code, and changes nothing.
    assert!(matches!(
        refused(&mut c, "00099", ScanContext::Sale),
        CheckoutError::Unrecognised(_)
    ));
}

#[test]
fn bad_input_is_refused_before_a_manager_is_asked() {
    let (_dir, mut c) = checkout();
    c.scan("4006381333931", ScanContext::Sale).unwrap();
    let line = c.ticket().lines()[0].id;
    let before = c.ticket().clone();
    for (discount, error) in [
        (Discount::Percent(15_000), TicketError::PercentOutOfRange),
        (Discount::Amount(-100), TicketError::NegativeDiscount),
    ] {
        let refused = c.discount_line(line, discount, None).unwrap_err();
        assert!(
            matches!(&refused, CheckoutError::Ticket(e) if *e == error),
            "{discount:?}: {refused:?}"
        );
        let refused = c.discount_ticket(discount, None).unwrap_err();
        assert!(
            matches!(&refused, CheckoutError::Ticket(e) if *e == error),
            "{discount:?} on the ticket: {refused:?}"
        );
    }
    assert!(matches!(
        c.override_price(line, -1, None),
        Err(CheckoutError::Ticket(TicketError::NegativePrice))
    ));
    assert_eq!(c.ticket(), &before);
}

#[test]
fn discounts_over_the_limit_need_a_manager() {
    let (_dir, mut c) = checkout();
    c.scan("4006381333931", ScanContext::Sale).unwrap();
    let line = c.ticket().lines()[0].id;
    c.discount_line(line, Discount::Percent(1000), None)
        .unwrap();
    let before = c.ticket().clone();
    let refused = c
        .discount_line(line, Discount::Percent(2000), None)
        .unwrap_err();
    assert!(matches!(
        refused,
        CheckoutError::NeedsApproval(Approvable::Discount { basis_points: 2000 })
    ));
    assert_eq!(c.ticket(), &before);
    // ￥2.00 off ￥5.50 is 36 %, over the 10 % limit.
    assert!(matches!(
        c.discount_ticket(Discount::Amount(200), None),
        Err(CheckoutError::NeedsApproval(_))
    ));
    c.discount_line(line, Discount::Percent(2000), Some(&manager()))
        .unwrap();
    assert_eq!(c.ticket().totals().total, 440);
}

#[test]
fn price_overrides_and_voids_after_payment_need_a_manager() {
    let (_dir, mut c) = checkout();
    c.scan("4006381333931", ScanContext::Sale).unwrap();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let [cola, water] = [c.ticket().lines()[0].id, c.ticket().lines()[1].id];
    assert!(matches!(
        c.override_price(cola, 100, None),
        Err(CheckoutError::NeedsApproval(Approvable::PriceOverride))
    ));
    c.override_price(cola, 500, Some(&manager())).unwrap();
    c.void_line(water, None).unwrap();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let water = c.ticket().lines()[1].id;
    c.add_tender(Tender {
        kind: TenderKind::Card,
        amount: 100,
        reference: None,
    })
    .unwrap();
    assert!(matches!(
        c.void_line(water, None),
        Err(CheckoutError::NeedsApproval(
            Approvable::VoidAfterPaymentStarted
        ))
    ));
    c.void_line(water, Some(&manager())).unwrap();
    assert_eq!(c.ticket().lines().len(), 1);
    // Both voids are on record, the second with the manager who approved it; the refused
    // one is not.
    let audit = c.take_audit();
    let approvers: Vec<(&str, Option<&str>)> = audit
        .iter()
        .map(|r| (r.op.kind(), r.approver.as_deref()))
        .collect();
    assert_eq!(
        approvers,
        [
            ("price_override", Some("9001")),
            ("line_void", None),
            ("line_void", Some("9001"))
        ]
    );
    assert!(audit.iter().all(|r| r.staff == "1001"));
    assert!(matches!(&audit[0].op, Op::PriceOverride(p) if p.from == 550 && p.to == 500));
    assert!(matches!(&audit[2].op, Op::LineVoid(v) if v.sku == "1001" && v.amount == 200));
}

/// 20 taps on Void used to empty a 20-line ticket without a trace: each void, and a
/// cancelled ticket, is in the operations journal and counts in the shift's Z.
#[test]
fn voids_and_a_cancelled_ticket_reach_the_operations_journal_and_the_z() {
    use till_domain::shift::Denominations;
    let (_dir, mut c) = checkout();
    let none = Denominations::for_currency(Currency::CNY).empty_count();
    for _ in 0..3 {
        c.scan("6901028075831", ScanContext::Sale).unwrap();
        c.scan("4006381333931", ScanContext::Sale).unwrap();
    }
    let first = c.ticket().lines()[0].id;
    c.void_line(first, None).unwrap();
    c.clear();
    assert!(c.ticket().is_empty());
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let only = c.ticket().lines()[0].id;
    c.void_line(only, None).unwrap();
    c.record_audit().unwrap();
    assert!(c.take_audit().is_empty(), "written once");
    let kinds: Vec<&str> = c
        .store
        .recent_ops(None, 10)
        .unwrap()
        .iter()
        .rev()
        .map(|r| r.op.kind())
        .collect();
    assert_eq!(
        kinds,
        ["shift_open", "line_void", "ticket_cancel", "line_void"]
    );
    let closed = c.store.close_shift("9001", &none).unwrap();
    assert_eq!((closed.shift.number, closed.z.voids), (1, 3));
}

#[test]
fn park_and_resume_survive_a_new_engine() {
    let (dir, mut c) = checkout();
    c.scan("4006381333931", ScanContext::Sale).unwrap();
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    let parked_ticket = c.ticket().clone();
    let id = c.park().unwrap();
    assert!(c.ticket().is_empty());
    assert!(matches!(
        c.park(),
        Err(CheckoutError::Ticket(TicketError::EmptyTicket))
    ));
    c.scan("6901028075831", ScanContext::Sale).unwrap();
    assert!(matches!(c.resume(id), Err(CheckoutError::TicketOpen)));
    c.clear();
    // A restart in between: the parked ticket is in the database, not in memory.
    drop(c);
    let store = Store::open(&dir.path().join("till.db")).unwrap();
    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let mut c = Checkout::new(
        store,
        CheckoutSettings::from_config(&config).unwrap(),
        "1002",
    );
    assert_eq!(c.parked().unwrap().len(), 1);
    c.resume(id).unwrap();
    assert_eq!(c.ticket(), &parked_ticket);
    assert!(c.parked().unwrap().is_empty());
    assert!(matches!(c.resume(id), Err(CheckoutError::TicketOpen)));
}

#[test]
fn commit_refuses_empty_and_underpaid_tickets() {
    let (_dir, mut c) = checkout();
    assert!(matches!(
        c.commit(),
        Err(CheckoutError::Ticket(TicketError::EmptyTicket))
    ));
    c.scan("4006381333931", ScanContext::Sale).unwrap();
    c.add_tender(Tender {
        kind: TenderKind::Cash,
        amount: 500,
        reference: None,
    })
    .unwrap();
    assert!(matches!(
        c.commit(),
        Err(CheckoutError::Ticket(TicketError::Underpaid { remaining }))
            if remaining.minor() == 50
    ));
    assert_eq!(
        c.ticket().lines().len(),
        1,
        "a refused commit keeps the ticket"
    );
    c.add_tender(Tender {
        kind: TenderKind::Cash,
        amount: 1000,
        reference: None,
    })
    .unwrap();
    let sale = c.commit().unwrap();
    assert_eq!(
        (sale.record.seq, sale.record.total, sale.record.change),
        (1, 550, 950)
    );
    assert!(c.ticket().is_empty());
    assert_eq!(c.store().sale(1).unwrap(), sale.record);
}
