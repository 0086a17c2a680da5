//! Shifts, X and Z reports, paid in and out, no-sale openings and the operations journal,
//! through the real binary, with a virtual printer and its drawer.

use till::demo::sample_ean13;
use till::store::Store;

use super::{PrinterProcess, Till, free_port, with_printer};

/// The notes and coins of CNY, largest first, in fen.
const CNY: [i64; 8] = [10000, 5000, 2000, 1000, 500, 100, 50, 10];

/// `--count` arguments that make `amount` fen as nearly as the drawer's coins can (the rest,
/// under ¥0.10, is short), and what they come to.
fn counts_for(amount: i64) -> (Vec<String>, i64) {
    let mut left = amount;
    let mut args = Vec::new();
    for value in CNY {
        let n = left / value;
        if n > 0 {
            args.push("--count".to_string());
            args.push(format!("{}={n}", value as f64 / 100.0));
            left -= n * value;
        }
    }
    (args, amount - left)
}

fn ops_count(till: &Till) -> usize {
    let store = Store::open(&till.db()).unwrap();
    store.recent_ops(None, u32::MAX).unwrap().len()
}

/// Runs `till args`, which must fail saying `message` and record no operation.
pub(super) fn refused(till: &Till, args: &[&str], message: &str) {
    let before = ops_count(till);
    let out = till.fails(args);
    assert!(
        out.contains(message),
        "till {args:?}: {message:?} missing from\n{out}"
    );
    assert_eq!(ops_count(till), before, "till {args:?} recorded something");
}

/// PRODUCT.md, "Store operations": a manager opens a shift, sells, pays in and out, opens
/// the drawer without a sale and closes with a Z whose expected cash is the float plus the
/// cash the sales kept (net of change) plus paid in less paid out, to the fen.
#[test]
fn a_shift_from_float_to_z_matches_the_sales_to_the_fen() {
    let address = free_port();
    let till = with_printer(&address);
    let printer = PrinterProcess::start(&address, &till.data_dir().join("paper"), false);
    till.ok(&[
        "staff",
        "add",
        "m1",
        "--name",
        "店长",
        "--pin",
        "2468",
        "--manager",
    ]);
    let out = till.ok(&["shift", "open", "--count", "100=5", "--staff", "m1"]);
    assert!(
        out.contains("shift 1 open: float ￥500.00, first receipt #1"),
        "{out}"
    );
    till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    let three = format!("3*{}", sample_ean13(5));
    till.ok(&["sell", &sample_ean13(3), &three, "--pay", "cash:100"]);
    let out = till.ok(&["cash", "in", "100", "--reason", "change"]);
    assert!(
        out.contains("paid in ￥100.00 (补充零钱 change top-up) in shift 1"),
        "{out}"
    );
    assert!(out.contains("drawer opened"), "{out}");
    till.ok(&[
        "cash", "out", "20.50", "--reason", "supplier", "--staff", "m1",
    ]);
    till.ok(&["cash", "no-sale", "--reason", "1"]);
    assert_eq!(
        printer.drawer_log(5).lines().count(),
        5,
        "2 sales, in, out, no sale"
    );

    // What the drawer should hold, from the sales themselves.
    let store = Store::open(&till.db()).unwrap();
    let cash_kept: i64 = (1..=2)
        .map(|seq| {
            let sale = store.sale(seq).unwrap();
            let paid: i64 = sale.payments.iter().map(|p| p.amount).sum();
            paid - sale.change
        })
        .sum();
    let expected = 50_000 + cash_kept + 10_000 - 2_050;
    drop(store);

    let x = till.ok(&["report", "x"]);
    assert!(x.contains("X 报表（不清零） 班次 1"), "{x}");
    let (count, counted) = counts_for(expected - 50);
    let mut close = vec!["shift", "close", "--staff", "m1"];
    close.extend(count.iter().map(String::as_str));
    let z = till.ok(&close);
    let money = |fen: i64| format!("￥{}.{:02}", fen / 100, fen % 100);
    for line in [
        "Z 报表 No. 1".to_string(),
        "销售笔数".to_string(),
        money(expected),
        money(counted),
        format!("-{}", money(expected - counted)),
        "无销售开箱".to_string(),
    ] {
        assert!(z.contains(&line), "{line:?} missing from the Z:\n{z}");
    }
    assert!(z.contains("printed"), "{z}");
    // Two receipts, the slips of the paid in, the paid out and the no sale, then the Z.
    for (n, mark) in [(3, "PAID IN"), (4, "PAID OUT"), (5, "NO SALE")] {
        let slip = printer.receipt(n).unwrap();
        assert!(slip.contains(mark), "{slip}");
    }
    let paper = printer
        .receipt(6)
        .expect("the Z printed after the receipts and the slips");
    assert!(paper.contains("Z 报表 No. 1"), "{paper}");
    assert!(paper.contains(&money(expected)), "{paper}");

    // The Z is recorded: shown again alike, a second close is refused, the chain verifies.
    let figures = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("打印于") && !l.starts_with("printed"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(figures(&till.ok(&["report", "z"])), figures(&z));
    assert_eq!(figures(&till.ok(&["report", "z", "1"])), figures(&z));
    let refused = till.fails(&["shift", "close", "--count", "100=5"]);
    assert!(
        refused.contains("no shift is open: shift 1 closed at"),
        "{refused}"
    );
    let verify = till.ok(&["journal", "verify"]);
    assert!(verify.contains("journal ok: 2 sales"), "{verify}");
    assert!(verify.contains("operations ok: 5 records"), "{verify}");
    let audit = till.ok(&["audit"]);
    for kind in [
        "shift_open",
        "paid_in",
        "paid_out",
        "no_sale",
        "shift_close",
    ] {
        assert!(audit.contains(kind), "{kind} missing from\n{audit}");
    }
    assert!(audit.contains("供应商付款 supplier"), "{audit}");
    let shifts = till.ok(&["shift", "list"]);
    assert!(
        shifts.contains(&format!("difference -{}", money(expected - counted))),
        "{shifts}"
    );
}

/// Each bad input is refused with its reason, and nothing is recorded.
#[test]
fn bad_counts_amounts_and_reasons_are_refused_and_change_nothing() {
    let till = Till::with_catalog();
    let check = |args: &[&str], message: &str| refused(&till, args, message);
    check(&["report", "x"], "no shift is open");
    check(
        &["cash", "in", "5", "--reason", "change"],
        "no shift is open",
    );
    check(&["shift", "open"], "count the drawer by denomination");
    check(&["shift", "open", "--count", "100=-1"], "not \"-1\"");
    check(&["shift", "open", "--count", "100=abc"], "not \"abc\"");
    check(&["shift", "open", "--count", "100=2.5"], "not \"2.5\"");
    check(&["shift", "open", "--count", "abc=1"], "is not an amount");
    check(
        &["shift", "open", "--count", "3=1"],
        "is not one of this till's notes or coins",
    );
    check(&["shift", "open", "--count", "100"], "is not VALUE=N");
    check(
        &["shift", "open", "--count", "100=1", "--count", "100=2"],
        "counted twice",
    );
    till.ok(&["shift", "open", "--count", "100=1"]);
    check(&["shift", "open", "--count", "100=1"], "shift 1 is open");
    check(
        &["cash", "in", "-5", "--reason", "change"],
        "more than zero",
    );
    check(&["cash", "in", "0", "--reason", "change"], "more than zero");
    check(
        &["cash", "in", "abc", "--reason", "change"],
        "not an amount",
    );
    check(
        &["cash", "in", "5", "--reason", "lunch"],
        "not one of the configured reasons",
    );
    check(
        &["cash", "in", "5", "--reason", "9"],
        "there is no reason 9",
    );
    check(
        &["cash", "out", "5", "--reason", " "],
        "not one of the configured reasons",
    );
    check(
        &["cash", "out", "100.01", "--reason", "safe"],
        "cannot pay out ￥100.01: the drawer should hold only ￥100.00",
    );
    till.ok(&["cash", "out", "100", "--reason", "safe"]);
    check(
        &["cash", "out", "0.01", "--reason", "safe"],
        "should hold only ￥0.00",
    );
}

/// With `[shift] required`, a sale with no open shift is refused and nothing is committed.
#[test]
fn a_till_that_requires_a_shift_refuses_a_sale_without_one() {
    let till = Till::with_catalog();
    let config = till.data_dir().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[shift]\nrequired = false"), "{text}");
    std::fs::write(
        &config,
        text.replace("[shift]\nrequired = false", "[shift]\nrequired = true"),
    )
    .unwrap();
    let refused = till.fails(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    assert!(refused.contains("no shift is open"), "{refused}");
    assert!(till.ok(&["sales", "list"]).contains("no sales yet"));
    till.ok(&["shift", "open", "--empty"]);
    till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    till.ok(&["shift", "close", "--count", "5=1"]);
    let refused = till.fails(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    assert!(refused.contains("no shift is open"), "{refused}");
}

/// `[roles]`: a cashier may open the drawer without a sale but not pay out or close a shift;
/// a supervisor may; an unknown ID may do nothing.
#[test]
fn roles_decide_who_may_move_cash_and_close_a_shift() {
    let till = Till::with_catalog();
    till.ok(&["staff", "add", "1001", "--name", "收银员", "--pin", "1357"]);
    let out = till.ok(&[
        "staff",
        "add",
        "2001",
        "--name",
        "主管",
        "--pin",
        "2468",
        "--role",
        "supervisor",
    ]);
    assert!(out.contains("(supervisor)"), "{out}");
    let bad_role = till.fails(&[
        "staff", "add", "3001", "--name", "x", "--pin", "1234", "--role", "boss",
    ]);
    assert!(bad_role.contains("role \"boss\" is not one of cashier, supervisor, manager"));
    let check = |args: &[&str], message: &str| refused(&till, args, message);
    check(
        &["shift", "open", "--count", "100=1", "--staff", "1001"],
        "1001 (cashier) may not open a shift: [roles] cashier does not list open_shift",
    );
    till.ok(&["shift", "open", "--count", "100=1", "--staff", "2001"]);
    till.ok(&["cash", "no-sale", "--reason", "1", "--staff", "1001"]);
    check(
        &["cash", "out", "5", "--reason", "safe", "--staff", "1001"],
        "1001 (cashier) may not pay out",
    );
    check(
        &["cash", "out", "5", "--reason", "safe", "--staff", "9999"],
        "no active staff member 9999",
    );
    till.ok(&["cash", "out", "5", "--reason", "safe", "--staff", "2001"]);
    check(
        &["shift", "close", "--count", "100=1", "--staff", "1001"],
        "may not close a shift",
    );
    till.ok(&[
        "shift", "close", "--count", "10=9", "--count", "5=1", "--staff", "2001",
    ]);
    assert!(
        till.ok(&["staff", "list"])
            .contains("2001\t主管\tsupervisor")
    );
}
