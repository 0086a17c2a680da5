//! Store operations on the real touchscreen: a manager's day (open a shift with the float
//! counted, sell, take a return, pay out, X, close with a blind count and a Z that matches to
//! the fen), the sales list and reprint, the cancel of a whole ticket, and every bad input
//! the pads and screens refuse.

use super::*;
use crate::config::{CONFIG_FILE, Config};
use till_drivers::virtual_printer::VirtualPrinter;

/// A demo terminal printing on a virtual printer (ESC/POS decoded to text files), mid-shift
/// (`shift`) or before its first, with `configure` applied to its config first.
fn till_with_printer(shift: bool, configure: impl FnOnce(&mut Config)) -> (Till, VirtualPrinter) {
    let dir = tempfile::tempdir().unwrap();
    let printer = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
    let address = Some(format!("tcp:{}", printer.address));
    if shift {
        crate::demo::create_terminal(dir.path(), address).unwrap();
    } else {
        crate::demo::create_terminal_between_shifts(dir.path(), address).unwrap();
    }
    let path = dir.path().join(CONFIG_FILE);
    let mut config = Config::load(&path).unwrap();
    configure(&mut config);
    std::fs::write(&path, config.to_toml()).unwrap();
    let till = open_till(
        dir,
        AppOptions {
            printing: true,
            ..AppOptions::default()
        },
    );
    (till, printer)
}

impl Till {
    /// Taps each key on the screen's keypad.
    fn pad(&self, keys: &str) {
        for key in keys.chars() {
            match key {
                '.' => self.tap("Decimal point"),
                digit => self.tap(&digit.to_string()),
            }
        }
    }

    /// Counts the drawer on the count pad: `(note or coin as shown, how many)`.
    fn count(&self, counts: &[(&str, &str)]) {
        for (note, n) in counts {
            self.tap(note);
            self.pad(n);
        }
    }

    fn back_office(&self) {
        self.tap("Back office");
        self.wait("back office", |s| s.back_office().today().is_some());
    }

    fn printed(&self, printer: &VirtualPrinter, n: usize) -> String {
        self.wait_printed(printer, n);
        printer.receipt(n).unwrap()
    }

    fn wait_printed(&self, printer: &VirtualPrinter, n: usize) {
        let state = printer.state.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while state.receipts_printed() < n && std::time::Instant::now() < deadline {
            self.app.run_until(Duration::from_millis(50), |_| false);
        }
        assert!(state.receipts_printed() >= n, "receipt {n} was not printed");
    }

    /// The report or slip on screen, row by row (its rows scroll: read the model, not the
    /// frame).
    fn paper_rows(&self) -> Vec<crate::ui::PaperRow> {
        use slint::Model;
        let rows = self
            .app
            .window
            .global::<crate::ui::PaperAdapter>()
            .get_rows();
        rows.iter().collect()
    }

    /// A figure of the report on screen.
    fn paper_figure(&self, label: &str) -> String {
        self.paper_rows()
            .into_iter()
            .find(|r| r.left == label)
            .map(|r| r.right.to_string())
            .unwrap_or_else(|| panic!("no {label:?} on the report"))
    }

    fn ops(&self) -> Vec<till_sync::ops::OpRecord> {
        self.store().recent_ops(None, 100).unwrap()
    }
}

#[test]
fn a_managers_day_on_the_touchscreen_closes_with_a_z_that_matches_to_the_fen() {
    on_ui_thread(|| {
        let (till, printer) = till_with_printer(false, |_| {});
        // No shift is open: a manager's login goes straight to counting the float, here two
        // ¥100 notes and five ¥10 notes.
        till.login_as(DEMO_MANAGER.1, DEMO_MANAGER.2);
        assert_eq!(till.screen(), Screen::Count);
        assert_eq!(
            till.message(),
            "no shift is open: count the float to open one"
        );
        till.count(&[("¥100", "2"), ("¥10", "5")]);
        assert_eq!(till.shown("Counted"), "¥250.00");
        till.tap("Open shift");
        till.wait("the shift to open", |s| s.screen == Screen::Sale);
        assert_eq!(till.message(), "shift 1 open, float ¥250.00");

        // Two sales in cash, one by card.
        till.scan("农夫山泉 550ml");
        till.scan("农夫山泉 550ml");
        till.pay_exact();
        till.tap("New sale");
        till.scan("可口可乐 1.25L");
        till.pay_exact();
        till.tap("New sale");
        till.scan("伊利纯牛奶 250ml");
        till.tap("Pay");
        till.tap("Card");
        till.tap("Enter");
        let said = till.app.session.borrow().payment().message().cloned();
        assert!(said.is_none(), "{said:?}");
        till.wait("commit", |s| s.screen == Screen::Complete);
        till.tap("New sale");

        // The customer brings one water back: the receipt's barcode is scanned on the sale
        // screen, and the return screen opens on that sale.
        std::thread::sleep(crate::ui::wedge::MAX_GAP * 2);
        till.keys("TR1.S001.T01.1\n");
        till.wait("the sale to return", |s| {
            s.screen == Screen::Returns && s.returns().sale().is_some()
        });
        let water = till.store().sale(1).unwrap().lines[0].clone();
        let one_water = water.total / 2;
        till.tap_starting("1. ");
        till.pad("1");
        till.tap("Enter");
        assert_eq!(
            till.app.session.borrow().returns().refund(),
            one_water,
            "one of two refunds half the line"
        );
        // Why, from `[returns] reasons`: on the record and the slip.
        till.tap("质量问题 faulty");
        till.tap("Refund");
        till.wait("the return", |s| s.screen == Screen::Paper);
        assert!(
            till.paper_rows()
                .iter()
                .any(|r| r.left == "Reason 质量问题 faulty"),
            "the slip names the reason"
        );
        let note = till.app.session.borrow().paper().note().to_string();
        let money = |m: i64| till.app.session.borrow().money(m);
        assert_eq!(
            note,
            format!(
                "sale #1: refunded {} to Cash {}. The drawer opens",
                money(one_water),
                money(one_water)
            )
        );
        till.tap("Done");

        // ¥50 to the safe.
        till.tap("Paid out");
        till.pad("50");
        till.tap("存入保险柜 safe drop");
        till.tap("Pay out and open the drawer");
        till.wait("the paid out", |s| s.screen == Screen::BackOffice);
        assert_eq!(till.message(), "paid out ¥50.00 (存入保险柜 safe drop)");

        // The X report says what the drawer should hold; it resets nothing.
        till.tap("X report");
        till.wait("the X report", |s| s.paper().receipt().is_some());
        let store = till.store();
        let (_, x) = store.x_report().unwrap();
        let cash_sales = store.sale(1).unwrap().total + store.sale(2).unwrap().total;
        assert_eq!(x.expected_cash, 25_000 + cash_sales - one_water - 5_000);
        // The report on screen is the paper's, in the cashier's language.
        let paper = |m: i64| till_domain::Money::new(m, till_domain::Currency::CNY).to_string();
        assert_eq!(till.paper_figure("Expected cash"), paper(x.expected_cash));
        till.tap("Done");

        // The blind count: the drawer holds exactly what it should, in ¥1 coins and fen.
        till.tap("Close shift");
        assert_eq!(till.screen(), Screen::Count);
        let yuan = x.expected_cash / 100;
        let jiao = (x.expected_cash % 100) / 10;
        let fen = x.expected_cash % 10;
        assert_eq!(fen, 0, "the demo's prices are in jiao");
        till.count(&[("¥1", &yuan.to_string()), ("¥0.10", &jiao.to_string())]);
        till.tap("Close shift");
        assert!(till.message().starts_with("counted "), "{}", till.message());
        assert_eq!(
            till.store().current_shift().unwrap().map(|s| s.number),
            Some(1)
        );
        till.tap("Confirm close");
        till.wait("the Z", |s| {
            s.screen == Screen::Paper && s.paper().receipt().is_some()
        });
        assert_eq!(till.paper_figure("Over/short"), paper(0));
        assert_eq!(till.paper_figure("Expected cash"), paper(x.expected_cash));
        let z = till.store().z_report(1).unwrap().z;
        assert_eq!(
            (z.expected_cash, z.counted_cash, z.difference),
            (x.expected_cash, x.expected_cash, 0)
        );
        assert_eq!(z.sales_count, 3);
        // Receipts 1-3, the return slip, the paid out's slip, then the Z, each as the printer
        // printed it.
        assert!(till.printed(&printer, 4).contains("RETURN"));
        assert!(till.printed(&printer, 5).contains("PAID OUT"));
        let z_paper = till.printed(&printer, 6);
        assert!(z_paper.contains("No. 1"), "{z_paper}");
        // The drawer opened for the two cash sales, the refund and the paid out.
        assert_eq!(printer.state.drawer_openings(), 4);
        till.tap("Done");
        till.wait("back office", |s| s.back_office().today().is_some());
        assert_eq!(till.shown("Shift"), "none open");
    });
}

#[test]
fn the_pads_and_screens_refuse_bad_input_and_change_nothing() {
    on_ui_thread(|| {
        let (till, _printer) = till_with_printer(false, |_| {});
        // A cashier may not open a shift, and may not sell without one.
        till.login();
        assert_eq!(
            till.message(),
            "no shift is open: a supervisor or manager opens one in Menu → Open shift"
        );
        // No money is taken for a sale that cannot be saved; the ticket waits.
        till.scan("农夫山泉 550ml");
        till.tap("Pay");
        assert_eq!(till.screen(), Screen::Sale);
        assert_eq!(
            till.message(),
            "no shift is open, so no payment: a supervisor or manager opens one in Menu → Open \
             shift; the ticket waits"
        );
        assert_eq!(till.store().sales_count().unwrap(), 0);
        assert_eq!(till.lines(), 1);

        // The cashier asks; her own PIN does not approve it, the manager's opens the count.
        // The pad refuses a minus, letters typed on a keyboard and a count no drawer holds.
        till.back_office();
        till.tap("Open shift");
        assert!(till.app.session.borrow().approval().is_some());
        till.type_slowly(&format!("{}\n", DEMO_CASHIER.2));
        till.wait("the PIN check", |s| {
            s.approval().is_some_and(|a| !a.checking())
        });
        assert_eq!(
            till.app.session.borrow().approval().unwrap().message(),
            Some("wrong PIN, or not someone allowed to approve this: 4 tries left")
        );
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the approval", |s| s.screen == Screen::Count);
        till.type_slowly("-");
        assert_eq!(till.message(), "a count cannot be negative");
        till.type_slowly("x");
        assert_eq!(
            till.message(),
            "\"x\" is not a count: key whole notes or coins"
        );
        till.pad("1000000");
        till.pad("0");
        assert_eq!(
            till.message(),
            "that count is too large: at most 1,000,000 of one note or coin"
        );
        assert_eq!(till.shown("Counted"), "¥100,000,000.00");
        till.tap("Clear entry");
        assert_eq!(till.shown("Counted"), "¥0.00");
        till.tap("Cancel");
        assert_eq!(till.screen(), Screen::BackOffice);
        assert!(till.store().current_shift().unwrap().is_none());

        // Opened, with the manager named as the approver.
        till.tap("Open shift");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the approval", |s| s.screen == Screen::Count);
        // A float of nothing is asked about once.
        till.tap("Open shift");
        assert_eq!(
            till.message(),
            "the float is nothing: press Open shift again to open with an empty drawer"
        );
        till.count(&[("¥10", "3")]);
        till.tap("Open shift");
        till.wait("the shift to open", |s| s.screen == Screen::Sale);
        let opened = till
            .ops()
            .into_iter()
            .find(|o| o.op.kind() == "shift_open")
            .unwrap();
        assert_eq!(
            (opened.staff.as_str(), opened.approver.as_deref()),
            (DEMO_CASHIER.0, Some(DEMO_MANAGER.0))
        );
        // The water's ticket waited: it is paid now, in the open shift.
        till.pay_exact();
        till.tap("New sale");

        // Paid out more than the drawer holds (a supervisor's PIN first).
        till.back_office();
        till.tap("Paid out");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the approval", |s| s.screen == Screen::Cash);
        till.tap("Pay out and open the drawer");
        assert_eq!(till.message(), "key an amount above zero");
        till.pad("20.555");
        till.tap("Enter");
        assert_eq!(
            till.message(),
            "20.555 is not an amount: at most two decimals"
        );
        till.tap("Clear entry");
        till.pad("1000");
        till.tap("存入保险柜 safe drop");
        till.tap("Pay out and open the drawer");
        till.wait("the refusal", |s| {
            s.cash().message().is_some_and(|m| m.error)
        });
        // What the drawer should hold is not said: the blind count keeps it from the counter.
        assert_eq!(
            till.message(),
            "cannot pay out ¥1,000.00: that is more than the drawer should hold"
        );
        till.tap("Cancel");

        // Returns: another store's receipt, a product barcode, more than was sold, and what
        // is left after a return.
        till.tap("Returns");
        for (code, said) in [
            (
                "TR1.S009.T01.1",
                "receipt TR1.S009.T01.1 is from store S009: this till (S001/T01) takes returns of its own store's sales",
            ),
            (
                "6921234000021",
                "6921234000021 is not a receipt code: scan the barcode at the foot of the receipt, or key the sale number",
            ),
        ] {
            std::thread::sleep(crate::ui::wedge::MAX_GAP * 2);
            till.keys(&format!("{code}\n"));
            assert_eq!(till.message(), said);
        }
        till.pad("7");
        till.tap("Enter");
        till.wait("the lookup", |s| !s.returns().loading());
        assert_eq!(till.message(), "no sale #7 on this till");
        till.pad("1");
        till.tap("Enter");
        till.wait("the sale", |s| s.returns().sale().is_some());
        till.tap_starting("1. ");
        till.pad("2");
        till.tap("Enter");
        assert_eq!(till.message(), "line 1: only 1 left to return");
        till.pad("0.5");
        till.tap("Enter");
        assert_eq!(
            till.message(),
            "line 1 is sold by the unit: return whole units"
        );
        till.tap("Refund");
        till.wait("the return", |s| s.screen == Screen::Paper);
        till.tap("Done");
        till.tap("Returns");
        till.pad("1");
        till.tap("Enter");
        till.wait("the sale", |s| s.returns().sale().is_some());
        assert_eq!(till.message(), "everything on sale #1 has been returned");
        till.tap_starting("1. ");
        assert_eq!(till.message(), "line 1 has been returned in full");
        till.tap("Refund");
        assert_eq!(
            till.message(),
            "nothing picked: tap the lines to return, or All"
        );
        assert_eq!(
            till.ops()
                .iter()
                .filter(|o| o.op.kind() == "return")
                .count(),
            1,
            "one return, whatever was refused"
        );
    });
}

#[test]
fn a_return_over_the_limit_asks_for_a_manager_and_names_them() {
    on_ui_thread(|| {
        let (till, _printer) = till_with_printer(false, |c| c.returns.approval_over = "1".into());
        till.login_as(DEMO_MANAGER.1, DEMO_MANAGER.2);
        // An empty drawer, confirmed.
        till.tap("Open shift");
        till.tap("Open shift");
        till.wait("the shift to open", |s| s.screen == Screen::Sale);
        till.scan("可口可乐 1.25L");
        till.pay_exact();
        till.tap("New sale");
        till.tap("Back office");
        till.tap("Log out");
        till.login();
        std::thread::sleep(crate::ui::wedge::MAX_GAP * 2);
        till.keys("TR1.S001.T01.1\n");
        till.wait("the sale", |s| s.returns().sale().is_some());
        till.tap("Return everything");
        till.tap("Refund");
        till.wait("the refusal", |s| s.approval().is_some());
        assert_eq!(
            till.app.session.borrow().approval().unwrap().reason(),
            "the refund is over the ¥1.00 approval limit: the return needs a manager"
        );
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the return", |s| s.screen == Screen::Paper);
        let ret = till
            .ops()
            .into_iter()
            .find(|o| o.op.kind() == "return")
            .unwrap();
        assert_eq!(
            (ret.staff.as_str(), ret.approver.as_deref()),
            (DEMO_CASHIER.0, Some(DEMO_MANAGER.0))
        );
    });
}

#[test]
fn the_sales_list_finds_a_sale_reprints_it_and_a_cancelled_ticket_names_its_approver() {
    on_ui_thread(|| {
        let (till, printer) = till_with_printer(true, |c| c.approval.cancel_ticket = true);
        till.login();
        for name in ["农夫山泉 550ml", "可口可乐 1.25L"] {
            till.scan(name);
            till.pay_exact();
            till.tap("New sale");
        }
        // A whole ticket cancelled: asked twice, then a manager approves.
        till.scan("伊利纯牛奶 250ml");
        till.scan("旺仔牛奶 小包");
        till.tap("Cancel the whole ticket");
        assert_eq!(
            till.message(),
            "tap Cancel ticket again to remove all 2 lines"
        );
        assert_eq!(till.lines(), 2);
        till.tap("Cancel the whole ticket");
        assert!(till.app.session.borrow().approval().is_some());
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the approval", |s| s.approval().is_none());
        assert_eq!(
            (till.lines(), till.message().as_str()),
            (0, "ticket cancelled")
        );

        till.back_office();
        till.tap("Today's sales");
        till.wait("the list", |s| !s.sales().loading());
        assert_eq!(till.app.session.borrow().sales().rows().len(), 2);
        till.pad("99");
        till.tap("Enter");
        till.wait("the search", |s| !s.sales().loading());
        assert_eq!(till.message(), "no sale #99 on this till");
        till.pad("1");
        till.tap("Enter");
        till.wait("the search", |s| !s.sales().loading());
        let found: Vec<u64> = till
            .app
            .session
            .borrow()
            .sales()
            .rows()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(found, vec![1]);
        till.tap("Reprint");
        till.wait("the reprint", |s| s.sales().message().is_some());
        assert_eq!(
            till.message(),
            "sale #1's receipt is reprinting (marked as a copy)"
        );
        let copy = till.printed(&printer, 3);
        let original = printer.receipt(1).unwrap();
        assert!(
            copy.len() > original.len(),
            "a reprint is marked as a copy:\n{copy}"
        );

        let cancel = till
            .ops()
            .into_iter()
            .find(|o| o.op.kind() == "ticket_cancel")
            .unwrap();
        assert_eq!(cancel.approver.as_deref(), Some(DEMO_MANAGER.0));
    });
}

/// PRODUCT.md, "Returns": a sale of another terminal of the store is looked up at HQ, on a
/// thread of its own, and returned here; one HQ does not hold yet is refused with the way out.
#[test]
fn another_terminal_s_receipt_is_looked_up_at_hq_and_returned_here() {
    on_ui_thread(|| {
        use till_hq::db::HqStore;
        let hq_dir = tempfile::tempdir().unwrap();
        let path = hq_dir.path().join("hq.db");
        let admin = till_hq::db::SqliteStore::open(&path).unwrap();
        admin.add_store("S001", "").unwrap();
        let (t01, t02) = (
            admin.add_terminal("S001", "T01").unwrap(),
            admin.add_terminal("S001", "T02").unwrap(),
        );
        let server = till_hq::server::spawn(
            "127.0.0.1:0",
            Box::new(till_hq::db::SqliteStore::open(&path).unwrap()),
        )
        .unwrap();
        let wait = Duration::from_secs(5);
        // T02 sold, and synced.
        let other = till_sync::client::register(&server.url(), &t02, wait, None).unwrap();
        let client =
            till_sync::client::SyncClient::new(&server.url(), &other.token, wait, None).unwrap();
        let sold = till_hq::testing::journal("S001", "T02", 1);
        client.upload(&sold).unwrap();
        // This till is T01, registered.
        let dir = tempfile::tempdir().unwrap();
        crate::demo::create_terminal(dir.path(), None).unwrap();
        let registered = till_sync::client::register(&server.url(), &t01, wait, None).unwrap();
        let store = crate::store::Store::open(&crate::ui::database(dir.path())).unwrap();
        crate::sync::save_registration(dir.path(), &store, &server.url(), None, &registered)
            .unwrap();
        let till = open_till(dir, AppOptions::default());
        till.login();

        std::thread::sleep(crate::ui::wedge::MAX_GAP * 2);
        till.keys("TR1.S001.T02.9\n");
        till.wait("HQ's answer", |s| !s.returns().loading());
        assert_eq!(
            till.message(),
            "HQ does not hold sale #9 of terminal T02 yet (it may not have synced): take the \
             return at T02, or try again later"
        );
        std::thread::sleep(crate::ui::wedge::MAX_GAP * 2);
        till.keys("TR1.S001.T02.1\n");
        till.wait("HQ's answer", |s| s.returns().sale().is_some());
        assert!(till.app.session.borrow().returns().from_hq());
        let refund = sold[0].record.lines[0].total;
        till.tap_starting("1. ");
        assert_eq!(till.app.session.borrow().returns().refund(), refund);
        till.tap("Refund");
        till.wait("the return", |s| s.screen == Screen::Paper);
        let ret = till
            .ops()
            .into_iter()
            .find_map(|o| match o.op {
                till_sync::ops::Op::Return(r) => Some(r),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            (
                ret.sale_terminal.as_str(),
                ret.sale_seq,
                ret.lines[0].amount
            ),
            ("T02", 1, refund)
        );
        // What is left counts this till's own return before it reaches HQ.
        till.tap("Done");
        till.tap("Returns");
        std::thread::sleep(crate::ui::wedge::MAX_GAP * 2);
        till.keys("TR1.S001.T02.1\n");
        till.wait("HQ's answer", |s| s.returns().sale().is_some());
        let left: Vec<i64> = till
            .app
            .session
            .borrow()
            .returns()
            .lines()
            .map(|(l, _)| l.left_milli)
            .collect();
        assert_eq!(
            left[0],
            sold[0].record.lines[0].qty_milli - ret.lines[0].qty_milli
        );
    });
}
