//! Returns by receipt code through the real binary: what is left, the return, its receipt
//! and drawer, and every bad input refused with nothing recorded.

use till::demo::sample_ean13;

use super::shifts::refused;
use super::{PrinterProcess, Till, free_port, with_printer};

/// PRODUCT.md, "Returns": scan the receipt, pick lines and quantities, refund to the tender,
/// print "退货 RETURN", open the drawer for cash; the Z takes it off the takings.
#[test]
fn a_return_by_receipt_code_refunds_prints_and_reaches_the_z() {
    let address = free_port();
    let till = with_printer(&address);
    let printer = PrinterProcess::start(&address, &till.data_dir().join("paper"), false);
    till.ok(&["shift", "open", "--count", "100=5"]);
    let three = format!("3*{}", sample_ean13(2));
    till.ok(&["sell", &three, "--pay", "cash:50"]);
    let listed = till.ok(&["return", "TR1.S001.T01.1"]);
    assert!(listed.contains("line 1"), "{listed}");
    assert!(listed.contains("sold       3  left       3"), "{listed}");
    let out = till.ok(&[
        "return",
        "TR1.S001.T01.1",
        "--line",
        "1=2",
        "--reason",
        "破损",
    ]);
    assert!(out.contains("退货 RETURN"), "{out}");
    assert!(out.contains("原单 TR1.S001.T01.1"), "{out}");
    assert!(
        out.contains("printed") && out.contains("drawer opened"),
        "{out}"
    );
    let paper = printer.receipt(2).expect("the return's receipt printed");
    assert!(paper.contains("退货 RETURN"), "{paper}");
    assert_eq!(
        printer.drawer_log(2).lines().count(),
        2,
        "the sale and the refund"
    );
    let left = till.ok(&["return", "1"]);
    assert!(left.contains("left       1"), "{left}");
    let refused = till.fails(&["return", "1", "--line", "1=2"]);
    assert!(
        refused.contains("line 1: only 1 left to return; nothing was returned"),
        "{refused}"
    );
    till.ok(&["return", "1", "--all"]);
    let shown = till.ok(&["sales", "show", "1"]);
    assert!(
        shown.contains("returned: line 1 农夫山泉 550ml, 3 of 3, refunded ￥6.00"),
        "{shown}"
    );
    assert!(
        till.ok(&["return", "1"])
            .contains("everything on sale #1 has been returned")
    );
    let refused = till.fails(&["return", "1", "--all"]);
    assert!(
        refused.contains("nothing is left to return of sale #1"),
        "{refused}"
    );
    let z = till.ok(&["shift", "close", "--count", "100=5"]);
    assert!(z.contains("退货 (2)"), "{z}");
    let audit = till.ok(&["audit"]);
    assert!(
        audit.contains("return") && audit.contains("sale #1: 1 line(s)"),
        "{audit}"
    );
    assert!(till.ok(&["journal", "verify"]).contains("operations ok"));
}

#[test]
fn bad_returns_are_refused_with_the_reason_and_record_nothing() {
    let till = Till::with_catalog();
    till.ok(&[
        "staff",
        "add",
        "9001",
        "--name",
        "店长",
        "--pin",
        "2468",
        "--manager",
    ]);
    till.ok(&["staff", "add", "1001", "--name", "收银员", "--pin", "1357"]);
    till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    let check = |args: &[&str], message: &str| refused(&till, args, message);
    check(&["return", "1", "--line", "1=1"], "no shift is open");
    till.ok(&["shift", "open", "--count", "100=1"]);
    check(
        &["return", "TR1.S002.T01.1", "--all"],
        "is from store S002: this till (S001/T01) takes returns of its own store's sales",
    );
    check(
        &["return", "TR1.S001.T09.1", "--all"],
        "is from terminal T09, and HQ could not send it: this terminal is not registered",
    );
    check(
        &["return", "TR1.S001.T01.99", "--all"],
        "sale #99 not found",
    );
    check(&["return", "TR1;S001", "--all"], "is not a receipt code");
    check(&["return", "1", "--line", "1=2"], "only 1 left to return");
    check(
        &["return", "1", "--line", "1=0.5"],
        "sold by the unit: return whole units",
    );
    check(
        &["return", "1", "--line", "1=0"],
        "line 1: return a quantity above zero",
    );
    check(
        &["return", "6921234000021", "--all"],
        "looks like a product barcode",
    );
    check(&["return", "1", "--line", "1=-1"], "is not a quantity");
    check(&["return", "1", "--line", "7=1"], "the sale has no line 7");
    check(&["return", "1", "--line", "x"], "is not N=QTY");
    check(
        &["return", "1", "--line", "1=1", "--line", "1=1"],
        "line 1 is picked twice",
    );
    // Past the window: a manager approves, and a cashier's ID is not a manager's.
    let db = rusqlite::Connection::open(till.db()).unwrap();
    db.execute(
        "UPDATE sales SET created_at_ms = created_at_ms - 31 * 86400000",
        [],
    )
    .unwrap();
    drop(db);
    check(
        &["return", "1", "--all"],
        "sale #1 is older than the 30-day return window: a manager must approve it",
    );
    check(
        &["return", "1", "--all", "--approved-by", "1001"],
        "1001 (cashier) may not approve a return",
    );
    let out = till.ok(&["return", "1", "--all", "--approved-by", "9001"]);
    assert!(out.contains("批准 9001"), "{out}");
}
