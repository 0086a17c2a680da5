//! Headless tests of the real `.slint` touchscreen: taps go to the controls a cashier would
//! touch (found by their accessible labels), keys go through the window as a keyboard or a
//! keyboard-wedge scanner sends them, and results are read back from the screen.

use std::rc::Rc;
use std::time::Duration;

use i_slint_backend_testing::{ElementHandle, ElementRoot};
use slint::ComponentHandle;
use slint::platform::{Key, PointerEventButton, WindowEvent};

use super::session::Screen;
use super::text::Lang;
use super::{App, AppOptions};
use crate::demo::{DEMO_CASHIER, DEMO_MANAGER, sample_code};

/// Slint allows one platform with an event loop per process, so every test runs its scenario
/// on one shared UI thread, one at a time; a failure is reported by the test that sent it.
fn on_ui_thread(scenario: fn()) {
    use std::sync::mpsc::{Sender, channel};
    use std::sync::{Mutex, OnceLock};
    type Job = (fn(), Sender<Result<(), String>>);
    static UI_THREAD: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let sender = UI_THREAD.get_or_init(|| {
        let (jobs, received) = channel::<Job>();
        std::thread::spawn(move || {
            i_slint_backend_testing::init_integration_test_with_mock_time();
            for (scenario, done) in received {
                let result = std::panic::catch_unwind(scenario).map_err(|panic| {
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "the scenario panicked".into())
                });
                let _ = done.send(result);
            }
        });
        Mutex::new(jobs)
    });
    let (done, result) = channel();
    sender.lock().unwrap().send((scenario, done)).unwrap();
    if let Err(message) = result.recv().unwrap() {
        panic!("{message}");
    }
}

struct Till {
    dir: tempfile::TempDir,
    app: Rc<App>,
}

/// A demo terminal with the touchscreen open at 1024×768, in English.
fn till() -> Till {
    let dir = tempfile::tempdir().unwrap();
    crate::demo::create_terminal(dir.path(), None).unwrap();
    open_till(dir, AppOptions::default())
}

/// The touchscreen over the terminal in `dir`, open at 1024×768, in English.
fn open_till(dir: tempfile::TempDir, options: AppOptions) -> Till {
    let app = App::new(dir.path(), options).unwrap();
    super::select_language(Lang::En);
    app.update(|s| s.set_language(Lang::En));
    app.set_size(1024, 768);
    app.window.show().unwrap();
    Till { dir, app }
}

impl Till {
    fn elements(&self, label: &str) -> Vec<ElementHandle> {
        settle();
        ElementHandle::find_by_accessible_label(&self.app.window, label).collect()
    }

    /// Taps the control with this label, as a finger would: at its centre.
    fn tap(&self, label: &str) {
        let found = self.elements(label);
        let element = found
            .iter()
            .rev()
            .find(|e| e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button))
            .unwrap_or_else(|| {
                let all: Vec<_> = ElementHandle::query_descendants(&self.app.window.root_element())
                    .match_accessible_role(i_slint_backend_testing::AccessibleRole::Button)
                    .find_all()
                    .iter()
                    .filter_map(|b| b.accessible_label())
                    .collect();
                panic!("no button labelled {label:?} among {all:?}")
            });
        element.mock_single_click(PointerEventButton::Left);
    }

    fn tap_starting(&self, prefix: &str) {
        settle();
        let buttons = ElementHandle::query_descendants(&self.app.window.root_element())
            .match_accessible_role(i_slint_backend_testing::AccessibleRole::Button)
            .find_all();
        let button = buttons
            .iter()
            .find(|b| b.accessible_label().is_some_and(|l| l.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no button labelled {prefix}…"));
        button.mock_single_click(PointerEventButton::Left);
    }

    /// Every button on screen is at least 48 px each way (9 mm) at both till sizes.
    fn check_touch_targets(&self) {
        for (width, height) in super::screenshot::SIZES {
            self.app.set_size(width, height);
            settle();
            let buttons = ElementHandle::query_descendants(&self.app.window.root_element())
                .match_accessible_role(i_slint_backend_testing::AccessibleRole::Button)
                .find_all();
            assert!(!buttons.is_empty(), "{:?}", self.screen());
            for button in buttons {
                let size = button.size();
                assert!(
                    size.width >= 48.0 && size.height >= 48.0,
                    "{:?} on {:?} is {}x{} at {width}x{height}",
                    button.accessible_label(),
                    self.screen(),
                    size.width,
                    size.height
                );
            }
        }
        self.app.set_size(1024, 768);
    }

    /// What the screen shows for the element with this label.
    fn shown(&self, label: &str) -> String {
        self.elements(label)
            .iter()
            .filter_map(|e| e.accessible_value())
            .map(|v| v.to_string())
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    fn message(&self) -> String {
        self.shown("Message")
    }

    /// Keys as the window receives them from an X keyboard or a USB scanner; a whole string
    /// arrives as fast as a scanner types. A capital or a shifted symbol comes between a
    /// Shift press and a Shift release, each its own key event, as X sends them.
    fn keys(&self, text: &str) {
        let window = self.app.window.window();
        let shift = slint::SharedString::from(Key::Shift);
        for c in text.chars() {
            let shifted = c.is_ascii_uppercase() || ":_+?!@#$%^&*()<>\"{}|~".contains(c);
            if shifted {
                window.dispatch_event(WindowEvent::KeyPressed {
                    text: shift.clone(),
                });
            }
            self.key(c.to_string().into());
            if shifted {
                window.dispatch_event(WindowEvent::KeyReleased {
                    text: shift.clone(),
                });
            }
        }
    }

    /// Keys at a person's pace, slower than any scanner.
    fn type_slowly(&self, text: &str) {
        for c in text.chars() {
            std::thread::sleep(super::wedge::MAX_GAP * 2);
            self.key(c.to_string().into());
        }
    }

    fn key(&self, text: slint::SharedString) {
        let window = self.app.window.window();
        window.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
        window.dispatch_event(WindowEvent::KeyReleased { text });
    }

    fn special(&self, key: Key) {
        self.key(key.into());
    }

    fn wait(&self, what: &str, done: impl Fn(&super::session::Session) -> bool + 'static) {
        if !self.app.run_until(Duration::from_secs(30), done) {
            let s = self.app.session.borrow();
            panic!(
                "timed out waiting for {what} on {:?} (committing {}): sale {:?}, payment {:?}",
                s.screen,
                s.payment().committing(),
                s.sale().message(),
                s.payment().message()
            );
        }
    }

    fn screen(&self) -> Screen {
        self.app.session.borrow().screen
    }

    /// Waits for a phone number sent with ↵ to be looked up (its hash is a worker's).
    fn phone_looked_up(&self) {
        self.wait("the phone lookup", |s| {
            s.sale()
                .message()
                .is_none_or(|m| m.text != "looking the member up…")
        });
    }

    fn lines(&self) -> usize {
        self.app.session.borrow().checkout().ticket().lines().len()
    }

    fn login_as(&self, name: &str, pin: &str) {
        self.tap(name);
        for digit in pin.chars() {
            self.tap(&digit.to_string());
        }
        self.tap("Enter");
        self.wait("login", |s| !s.login().checking());
    }

    fn login(&self) {
        self.login_as(DEMO_CASHIER.1, DEMO_CASHIER.2);
        assert_eq!(self.screen(), Screen::Sale, "{}", self.message());
    }

    /// A scan arrives, after the pause any real scan comes after.
    fn scan(&self, name: &str) {
        std::thread::sleep(super::wedge::MAX_GAP * 2);
        self.keys(&format!("{}\n", code(name)));
    }
}

/// Lets Slint bring the element tree up to date (conditional elements appear on the next
/// frame), as a frame would on a real screen.
fn settle() {
    i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(16));
}

fn code(name: &str) -> String {
    sample_code(name).unwrap_or_else(|| panic!("{name} is not in the sample catalog"))
}

#[test]
fn login_with_pin_and_lockout_after_five_wrong() {
    on_ui_thread(|| {
        let till = till();
        assert_eq!(till.screen(), Screen::Login);
        till.login_as(DEMO_CASHIER.1, "0000");
        assert_eq!(till.screen(), Screen::Login);
        assert_eq!(till.message(), "wrong PIN: 4 tries left");
        for _ in 0..4 {
            till.type_slowly("1111\n");
            till.wait("login", |s| !s.login().checking());
        }
        assert_eq!(till.message(), "5 wrong PINs: locked for 30 s");
        // Locked: even the right PIN is refused until the 30 s are up.
        till.type_slowly(&format!("{}\n", DEMO_CASHIER.2));
        assert_eq!(till.screen(), Screen::Login);
        assert!(
            till.message()
                .starts_with("too many wrong PINs: try again in"),
            "{}",
            till.message()
        );
        assert!(
            !till.app.session.borrow().login().checking(),
            "no PIN check runs while locked"
        );
        // Switching the till off and on does not lift the lockout.
        till.wait("the lockout saved", |s| {
            s.checkout()
                .store()
                .pin_guard(crate::staff::PinPrompt::Login)
                .is_ok_and(|g| g.locked_until_ms > 0)
        });
        let Till { dir, app } = till;
        drop(app);
        let till = open_till(dir, AppOptions::default());
        till.login_as(DEMO_CASHIER.1, DEMO_CASHIER.2);
        assert_eq!(till.screen(), Screen::Login);
        assert!(
            till.message()
                .starts_with("too many wrong PINs: try again in"),
            "{}",
            till.message()
        );
    });
}

#[test]
fn right_pin_opens_the_sale_screen_for_that_cashier() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        assert_eq!(till.shown("Total"), "¥0.00");
        assert_eq!(
            till.app.session.borrow().checkout().cashier(),
            DEMO_CASHIER.0
        );
    });
}

#[test]
fn a_scanner_burst_is_a_scan_with_or_without_a_focused_field() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        // The entry field has focus: the burst still becomes a line, not text in the field.
        assert!(till.app.session.borrow().sale().entry_focused());
        till.scan("农夫山泉 550ml");
        assert_eq!(till.lines(), 1);
        assert_eq!(till.shown("Code / qty"), "");
        assert_eq!(till.shown("Total"), "¥2.00");
        // Focus on the ticket (a line tapped): a scan still lands on the ticket.
        till.app.update(|s| s.select_line(0));
        assert!(!till.app.session.borrow().sale().entry_focused());
        till.scan("可口可乐 500ml");
        assert_eq!(till.lines(), 2);
        assert_eq!(till.shown("Total"), "¥5.50");
        // A quantity keyed by hand before the scan stays a quantity, and the scan is not typed
        // into it.
        till.tap("3");
        till.scan("可口可乐 500ml");
        assert_eq!(till.shown("Total"), "¥16.00");
        assert_eq!(till.shown("Code / qty"), "");
    });
}

#[test]
fn a_scan_reaches_the_payment_screen_with_the_amount_field_focused() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("可口可乐 1.25L");
        till.special(Key::F12);
        assert_eq!(till.screen(), Screen::Payment);
        till.tap("WeChat Pay");
        till.tap("2");
        assert_eq!(till.shown("Amount"), "2");
        // The customer's WeChat Pay code, scanned while "2" sits in the amount field.
        till.keys("134567890123456789\n");
        assert_eq!(
            till.shown("Amount"),
            "2",
            "the scan did not land in the field"
        );
        let session = till.app.session.borrow();
        assert_eq!(session.payment().reference(), "134567890123456789");
        drop(session);
        till.tap("Enter");
        let session = till.app.session.borrow();
        let tenders = session.checkout().ticket().tenders();
        assert_eq!(tenders.len(), 1);
        assert_eq!(tenders[0].amount, 200);
        assert_eq!(tenders[0].reference.as_deref(), Some("134567890123456789"));
    });
}

#[test]
fn change_quantity_and_void_a_line() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.scan("可口可乐 500ml");
        // The newest line is selected; key 4 and press Qty.
        till.tap("4");
        till.tap("Qty");
        assert_eq!(till.shown("Total"), "¥16.00");
        till.tap("Void");
        assert_eq!(till.lines(), 1);
        assert_eq!(till.shown("Total"), "¥2.00");
        // Letters from the keyboard never reach a keypad field.
        till.keys("a");
        till.special(Key::Backspace);
        till.keys("b2x");
        assert_eq!(till.shown("Code / qty"), "2");
    });
}

#[test]
fn a_big_discount_needs_a_manager_given_and_refused() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("心相印抽纸 标准装");
        let total = till.shown("Total");
        // 30 % is over the cashier's 10 % limit.
        till.keys("30");
        till.tap("Discount percent");
        assert!(till.app.session.borrow().approval().is_some());
        assert_eq!(
            till.shown("Total"),
            total,
            "nothing changes before approval"
        );
        // A wrong manager PIN is refused; cancelling leaves the ticket as it was.
        till.type_slowly("1234\n");
        till.wait("approval check", |s| {
            s.approval().is_some_and(|a| !a.checking())
        });
        assert_eq!(
            till.app
                .session
                .borrow()
                .approval()
                .as_ref()
                .unwrap()
                .message(),
            Some("wrong manager PIN: 4 tries left")
        );
        till.tap("Cancel approval");
        assert!(till.app.session.borrow().approval().is_none());
        assert_eq!(till.shown("Total"), total);
        assert_eq!(till.message(), "not approved: nothing changed");
        // Again, with the manager's PIN.
        till.keys("30");
        till.tap("Discount percent");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("approval", |s| s.approval().is_none());
        let session = till.app.session.borrow();
        let totals = session.checkout().ticket().totals();
        assert_eq!(totals.discount, 597, "30 % of ￥19.90");
        drop(session);
        assert_eq!(till.shown("Total"), "¥13.93");
    });
}

#[test]
fn park_and_resume_a_ticket() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.scan("乐事薯片 原味 70g");
        till.tap("Park");
        assert_eq!(till.lines(), 0);
        assert_eq!(till.message(), "ticket parked as #1");
        till.scan("可口可乐 500ml");
        till.tap("Parked tickets");
        assert_eq!(till.screen(), Screen::Parked);
        // Resuming with a ticket open is refused: finish or park it first.
        till.tap_starting("Resume #1");
        assert_eq!(till.message(), "finish or park the current ticket first");
        till.tap("Back to sale");
        till.tap("Void");
        till.tap("Parked tickets");
        till.tap_starting("Resume #1");
        assert_eq!(till.screen(), Screen::Sale);
        assert_eq!(till.lines(), 2);
        assert_eq!(till.shown("Total"), "¥9.50");
        assert_eq!(till.message(), "resumed ticket #1");
    });
}

#[test]
fn split_tender_commits_the_sale_with_change() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        for name in ["农夫山泉 550ml", "可口可乐 1.25L", "康师傅红烧牛肉面 桶装"]
        {
            till.scan(name);
        }
        assert_eq!(till.shown("Total"), "¥12.50");
        till.tap("Pay");
        assert_eq!(till.screen(), Screen::Payment);
        assert_eq!(till.shown("Amount due"), "¥12.50");
        till.tap("Card");
        till.type_slowly("5\n");
        assert_eq!(till.shown("Remaining"), "¥7.50");
        till.tap("Cash");
        till.tap("¥50.00");
        till.wait("commit", |s| s.screen == Screen::Complete);
        assert_eq!(till.shown("Change due"), "¥42.50");
        // The sale is in the store with the right figures.
        let store =
            crate::store::Store::open(&till.dir.path().join(crate::config::DATABASE_FILE)).unwrap();
        let sale = store.sale(1).unwrap();
        assert_eq!((sale.total, sale.change, sale.lines.len()), (1250, 4250, 3));
        let payments: Vec<(&str, i64)> = sale
            .payments
            .iter()
            .map(|p| (p.kind.as_str(), p.amount))
            .collect();
        assert_eq!(payments, [("card", 500), ("cash", 5000)]);
        assert_eq!(sale.cashier, DEMO_CASHIER.0);
        // Any scan starts the next sale.
        till.scan("农夫山泉 550ml");
        assert_eq!(till.screen(), Screen::Sale);
        assert_eq!(till.shown("Total"), "¥2.00");
    });
}

#[test]
fn an_unknown_barcode_is_reported_and_changes_nothing() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.keys("6901234567892\n");
        assert_eq!(till.message(), "unknown product 6901234567892");
        till.keys("6901234567893\n");
        assert_eq!(till.message(), "6901234567893: bad check digit, scan again");
        assert_eq!(till.lines(), 1);
        assert_eq!(till.shown("Total"), "¥2.00");
    });
}

#[test]
fn a_payment_code_on_the_sale_screen_is_refused() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.keys("284567890123456789\n");
        assert_eq!(
            till.message(),
            "Alipay payment code: press Pay first, then scan it"
        );
        assert_eq!(till.lines(), 1);
    });
}

#[test]
fn pay_on_an_empty_ticket_only_hints() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.tap("Pay");
        assert_eq!(till.screen(), Screen::Sale);
        assert_eq!(
            till.message(),
            "the ticket is empty: scan an item before Pay"
        );
    });
}

#[test]
fn cash_over_100000_asks_for_confirmation() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.tap("Pay");
        till.type_slowly("200000\n");
        assert!(till.app.session.borrow().payment().confirm().is_some());
        assert!(
            till.app
                .session
                .borrow()
                .checkout()
                .ticket()
                .tenders()
                .is_empty()
        );
        till.tap("Cancel");
        assert!(
            till.app
                .session
                .borrow()
                .checkout()
                .ticket()
                .tenders()
                .is_empty()
        );
        assert_eq!(till.message(), "cancelled: nothing tendered");
        till.type_slowly("200000\n");
        till.tap("Confirm");
        till.wait("commit", |s| s.screen == Screen::Complete);
        assert_eq!(till.shown("Change due"), "¥199,998.00");
    });
}

#[test]
fn a_scan_while_a_modal_is_open_is_refused_with_a_message() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("心相印抽纸 标准装");
        till.keys("50");
        till.tap("Discount percent");
        assert!(till.app.session.borrow().approval().is_some());
        till.scan("农夫山泉 550ml");
        let message = till
            .app
            .session
            .borrow()
            .approval()
            .as_ref()
            .unwrap()
            .message()
            .map(str::to_string);
        assert_eq!(
            message.as_deref(),
            Some(
                format!(
                    "finish the manager approval first; scan {} was not used",
                    code("农夫山泉 550ml")
                )
                .as_str()
            )
        );
        assert_eq!(
            till.lines(),
            1,
            "the scan was not applied behind the prompt"
        );
        till.special(Key::Escape);
        assert!(till.app.session.borrow().approval().is_none());
    });
}

#[test]
fn every_control_is_a_touch_target_of_at_least_48_px_on_every_screen() {
    on_ui_thread(|| {
        let till = till();
        till.check_touch_targets();
        till.login();
        till.scan("农夫山泉 550ml");
        till.check_touch_targets();
        till.tap("Show quick keys");
        till.check_touch_targets();
        till.tap("Show keypad");
        till.keys("50");
        till.tap("Discount percent");
        till.check_touch_targets();
        till.special(Key::Escape);
        till.tap("Pay");
        till.check_touch_targets();
        till.type_slowly("100001\n");
        assert!(till.app.session.borrow().payment().confirm().is_some());
        till.check_touch_targets();
        till.tap("Confirm");
        till.wait("commit", |s| s.screen == Screen::Complete);
        till.check_touch_targets();
        till.tap("New sale");
        till.tap("Parked tickets");
        till.check_touch_targets();
        till.tap("Back to sale");
        till.tap("Back office");
        till.wait("back office", |s| s.back_office().today().is_some());
        till.check_touch_targets();
        // The store operations' screens, the approval on the way included.
        till.tap("Close shift");
        till.check_touch_targets();
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the count", |s| s.screen == Screen::Count);
        till.check_touch_targets();
        till.tap("Cancel");
        till.tap("Paid in");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("the cash screen", |s| s.screen == Screen::Cash);
        till.check_touch_targets();
        till.tap("Cancel");
        till.tap("Returns");
        till.check_touch_targets();
        till.tap("Close");
        till.tap("Today's sales");
        till.wait("the list", |s| !s.sales().loading());
        till.check_touch_targets();
    });
}

/// Every label the `.slint` screens translate has a Chinese translation.
#[test]
fn every_screen_label_has_a_chinese_translation() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let po = std::fs::read_to_string(ui.join("translations/zh_CN/LC_MESSAGES/till.po")).unwrap();
    let translated: std::collections::HashSet<&str> = po
        .lines()
        .filter_map(|l| l.strip_prefix("msgid \"")?.strip_suffix('"'))
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&ui).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            let source = std::fs::read_to_string(&path).unwrap();
            for (_, rest) in source
                .match_indices("@tr(\"")
                .map(|(i, _)| ((), &source[i + 5..]))
            {
                let label = &rest[..rest.find('"').unwrap()];
                if !translated.contains(label) {
                    missing.push(format!("{}: {label}", path.display()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "untranslated: {missing:#?}");
}

#[test]
fn a_pin_typed_quickly_on_a_keyboard_logs_in() {
    on_ui_thread(|| {
        let till = till();
        till.tap(DEMO_MANAGER.1);
        till.keys(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("login", |s| !s.login().checking());
        assert_eq!(till.screen(), Screen::Sale, "{}", till.message());
        // A barcode scanned at the login screen is not a PIN: it is refused, not tried.
        till.tap("Back office");
        till.tap("Log out");
        till.keys(&format!("{}\n", code("农夫山泉 550ml")));
        assert_eq!(till.message(), "log in before scanning");
        assert!(!till.app.session.borrow().login().checking());
    });
}

/// A `TM2` member code for the demo terminal, built straight from PRODUCT.md's definition,
/// not with the production encoder: `TM2.<id>.<step>.<kid>.` then the base32 of the Ed25519
/// signature over the rest, by the demo's key (RFC 8032's test key 1, key ID 1).
fn spec_member_code(member_id: &str, steps_from_now: i64) -> String {
    use ed25519_dalek::Signer;
    let secret =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&secret.try_into().unwrap());
    let step = (jiff::Timestamp::now().as_second() / 30 + steps_from_now) as u64;
    let message = format!("TM2.{member_id}.{step}.1");
    let signature = key.sign(message.as_bytes()).to_bytes();
    let encoded = data_encoding::BASE32.encode(&signature);
    format!("{message}.{}", encoded.trim_end_matches('='))
}

impl Till {
    fn member_id(&self) -> Option<String> {
        self.app
            .session
            .borrow()
            .ticket_member()
            .map(|m| m.member_id.clone())
    }

    fn scan_code(&self, code: &str) {
        std::thread::sleep(super::wedge::MAX_GAP * 2);
        self.keys(&format!("{code}\n"));
    }

    fn pay_exact(&self) {
        self.tap("Pay");
        // The quick-cash buttons are laid out on the payment screen's first frame.
        settle();
        self.tap_starting("Exact");
        self.wait("commit", |s| s.screen == Screen::Complete);
    }

    fn store(&self) -> crate::store::Store {
        crate::store::Store::open(&self.dir.path().join(crate::config::DATABASE_FILE)).unwrap()
    }
}

#[test]
fn a_member_qr_code_attaches_the_member_and_the_sale_earns_points() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("心相印抽纸 标准装");
        till.scan_code(&spec_member_code("10086", 0));
        assert_eq!(
            till.member_id().as_deref(),
            Some("10086"),
            "{}",
            till.message()
        );
        assert_eq!(till.shown("Member"), "王小明 · 金卡");
        assert_eq!(till.message(), "member 王小明 attached");
        // Items scanned after the member keep the panel on the member.
        till.scan("农夫山泉 550ml");
        assert_eq!(till.shown("Member"), "王小明 · 金卡");
        till.pay_exact();
        let store = till.store();
        let sale = store.sale(1).unwrap();
        assert_eq!(
            sale.attribution,
            till_sync::Attribution::Member {
                member_id: "10086".into()
            }
        );
        // ￥21.90 paid at 1 point per whole yuan.
        assert_eq!(store.points_for_sale(1).unwrap(), Some(21));
        // The next ticket starts without a member.
        till.tap("New sale");
        assert_eq!(till.member_id(), None);
        assert_eq!(till.shown("Member"), "Scan member QR / enter phone");
    });
}

#[test]
fn member_codes_are_refused_with_the_reason() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        let cases = [
            (
                spec_member_code("10086", -4),
                "member code expired: ask for a fresh one",
            ),
            (
                spec_member_code("10086", 1),
                "member code is not yet valid: check this till's clock",
            ),
            (
                spec_member_code("10086", 5),
                "member code is not yet valid: check this till's clock",
            ),
            (
                // Made with a key HQ never published.
                till_sync::member::CodeSigningKey::from_secret(1, [7; 32])
                    .code("10086", crate::checkout::members::now_step()),
                "member code invalid (bad signature)",
            ),
            (
                // Version 1, which this chain no longer accepts.
                till_sync::member::dynamic_code(
                    &till.store().member_keys().unwrap()[0],
                    "10086",
                    crate::checkout::members::now_step(),
                ),
                "old member code (TM1) no longer accepted: ask the member to update their app or open their member pass",
            ),
            (spec_member_code("99999", 0), "unknown member 99999"),
            ("8800099999".to_string(), "unknown member card 8800099999"),
            (
                spec_member_code("10088", 0),
                "member 10088 is deactivated and cannot be used",
            ),
        ];
        for (code, message) in cases {
            till.scan_code(&code);
            assert_eq!(till.message(), message, "{code}");
            assert_eq!(till.member_id(), None);
        }
        // One character of the MAC changed.
        let good = spec_member_code("10086", 0);
        let last = good.chars().last().unwrap();
        let flipped = format!(
            "{}{}",
            &good[..good.len() - 1],
            if last == 'A' { 'B' } else { 'A' }
        );
        till.scan_code(&flipped);
        assert_eq!(till.message(), "member code invalid (bad signature)");
        assert_eq!(till.member_id(), None);
        // A member card attaches its member.
        till.scan_code("8800010086");
        assert_eq!(till.member_id().as_deref(), Some("10086"));
        till.app.update(|s| s.detach_member());
        assert_eq!(till.member_id(), None);
        // Three steps back is still inside the window.
        till.scan_code(&spec_member_code("10086", -3));
        assert_eq!(till.member_id().as_deref(), Some("10086"));
        assert_eq!(
            till.lines(),
            1,
            "member codes never touch the ticket's lines"
        );
    });
}

#[test]
fn a_used_member_code_is_refused_on_another_sale_even_after_a_restart() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        let code = spec_member_code("10087", 0);
        till.scan("农夫山泉 550ml");
        till.scan_code(&code);
        assert_eq!(till.member_id().as_deref(), Some("10087"));
        // Scanning it again on the same ticket is harmless.
        till.scan_code(&code);
        assert_eq!(till.member_id().as_deref(), Some("10087"));
        till.pay_exact();
        till.tap("New sale");
        till.scan("农夫山泉 550ml");
        till.scan_code(&code);
        assert_eq!(
            till.message(),
            "member code already used: ask for a fresh one"
        );
        assert_eq!(till.member_id(), None);
        // A restart does not reopen the window.
        let dir = till.dir;
        drop(till.app);
        let app = App::new(dir.path(), AppOptions::default()).unwrap();
        super::select_language(Lang::En);
        app.update(|s| s.set_language(Lang::En));
        app.set_size(1024, 768);
        let till = Till { dir, app };
        till.login();
        till.scan("农夫山泉 550ml");
        till.scan_code(&code);
        assert_eq!(
            till.message(),
            "member code already used: ask for a fresh one"
        );
        assert_eq!(till.member_id(), None);
    });
}

#[test]
fn a_member_found_by_phone_and_a_bad_phone_number() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.tap("Member");
        assert_eq!(till.shown("Phone"), "");
        till.type_slowly("1381234567\n");
        assert_eq!(
            till.message(),
            "phone number 1381234567 is not valid: 11 digits starting with 1"
        );
        assert_eq!(till.member_id(), None);
        assert!(
            till.app.session.borrow().sale().member_prompt().is_none(),
            "nothing to enroll"
        );
        till.tap("8");
        till.tap("Enter");
        till.phone_looked_up();
        assert_eq!(
            till.member_id().as_deref(),
            Some("10086"),
            "{}",
            till.message()
        );
        assert_eq!(till.shown("Member"), "王小明 · 金卡");
        // Detach: the sale is anonymous again.
        till.tap("Detach member");
        assert_eq!(till.member_id(), None);
        assert_eq!(till.message(), "member 王小明 detached");
    });
}

#[test]
fn enrollment_with_consent_accepted_and_refused() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        // Refused: the sale stays anonymous and nobody is stored.
        till.tap("Member");
        till.type_slowly("13500002222\n");
        till.phone_looked_up();
        assert!(
            till.shown("Member question")
                .contains("I agree to become a member")
        );
        till.tap("Does not agree");
        assert_eq!(till.member_id(), None);
        assert!(
            till.message()
                .starts_with("consent refused: the sale stays anonymous")
        );
        // Accepted: a provisional member, attached at once, works offline.
        till.tap("Member");
        till.type_slowly("135-0000-2222\n");
        till.phone_looked_up();
        // A scan while the customer reads the consent is refused, not added behind it.
        till.scan("可口可乐 500ml");
        assert_eq!(
            till.message(),
            format!(
                "answer the member question first; scan {} was not used",
                code("可口可乐 500ml")
            )
        );
        assert_eq!(till.lines(), 1);
        till.tap("Customer agrees: join");
        let member = till
            .app
            .session
            .borrow()
            .ticket_member()
            .cloned()
            .expect("enrolled");
        assert!(member.provisional && member.member_id.starts_with("P-S001-T01-"));
        assert_eq!(member.phone_masked.as_deref(), Some("135****2222"));
        till.pay_exact();
        let store = till.store();
        assert!(store.points_for_sale(1).unwrap().is_some());
        drop(store);
        // No raw phone number anywhere in the database.
        drop(till.app);
        let mut bytes = Vec::new();
        for name in ["till.db", "till.db-wal"] {
            bytes.extend(std::fs::read(till.dir.path().join(name)).unwrap_or_default());
        }
        for digits in ["13500002222", "500002222", "13812345678"] {
            assert!(
                !bytes.windows(digits.len()).any(|w| w == digits.as_bytes()),
                "{digits} is stored in the clear"
            );
        }
    });
}

#[test]
fn two_different_member_codes_ask_which_to_keep() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.scan_code(&spec_member_code("10086", 0));
        till.scan_code("8800010087");
        // 8800010087 is not a card anyone holds.
        assert_eq!(till.message(), "unknown member card 8800010087");
        till.scan_code(&spec_member_code("10087", 0));
        assert!(till.app.session.borrow().sale().member_prompt().is_some());
        till.tap("Keep 王小明");
        assert_eq!(till.member_id().as_deref(), Some("10086"));
        // The card of the same member needs no question.
        till.scan_code("8800010086");
        assert!(till.app.session.borrow().sale().member_prompt().is_none());
        till.scan_code(&spec_member_code("10087", -1));
        till.tap("Use 陈静");
        assert_eq!(till.member_id().as_deref(), Some("10087"));
    });
}

#[test]
fn a_member_code_on_the_payment_screen_attaches_before_the_commit() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("可口可乐 1.25L");
        till.tap("Pay");
        till.scan_code(&spec_member_code("10087", 0));
        assert_eq!(till.member_id().as_deref(), Some("10087"));
        assert_eq!(till.message(), "member 陈静 attached");
        till.tap_starting("Exact");
        till.wait("commit", |s| s.screen == Screen::Complete);
        let sale = till.store().sale(1).unwrap();
        assert_eq!(
            sale.attribution,
            till_sync::Attribution::Member {
                member_id: "10087".into()
            }
        );
    });
}

#[test]
fn an_anonymous_sale_carries_a_claim_token_that_verifies() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.pay_exact();
        let store = till.store();
        let sale = store.sale(1).unwrap();
        let till_sync::Attribution::Anonymous {
            claim_token: Some(token),
        } = &sale.attribution
        else {
            panic!("{:?}", sale.attribution)
        };
        let key = store.claim_key().unwrap().expect("the demo's claim key");
        assert_eq!(
            till_sync::member::verify_claim(&[key], token),
            Some(("S001".into(), "T01".into(), 1))
        );
        // And the journal still verifies with the token in the hashed record.
        assert_eq!(store.verify_journal().unwrap().problem, None);
    });
}

#[test]
fn the_customer_display_mirrors_the_ticket() {
    on_ui_thread(|| {
        let till = till();
        let customer = |label: &str| {
            settle();
            ElementHandle::find_by_accessible_label(&till.app.customer, label)
                .filter_map(|e| e.accessible_value())
                .map(|v| v.to_string())
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        till.login();
        till.scan("农夫山泉 550ml");
        till.scan("可口可乐 1.25L");
        assert_eq!(customer("Total"), till.shown("Total"));
        assert_eq!(customer("Total"), "¥7.50");
        // Anonymous: the join QR code.
        assert_eq!(customer("Greeting"), "Welcome");
        assert_eq!(customer("Join QR code"), "https://hq.example.com/join/S001");
        // A member: a greeting instead.
        till.scan_code(&spec_member_code("10087", 0));
        assert_eq!(customer("Greeting"), "Hello, 陈静!");
        till.tap("Detach member");
        // After an anonymous sale: the QR code claims that very sale.
        till.pay_exact();
        let claim = customer("Join QR code");
        let token = claim
            .strip_prefix("https://hq.example.com/c/")
            .expect(&claim);
        let key = till.store().claim_key().unwrap().unwrap();
        assert_eq!(
            till_sync::member::verify_claim(&[key], token),
            Some(("S001".into(), "T01".into(), 1))
        );
    });
}

#[test]
fn a_parked_ticket_comes_back_with_its_member() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("农夫山泉 550ml");
        till.scan_code(&spec_member_code("10086", 0));
        assert_eq!(till.member_id().as_deref(), Some("10086"));
        till.tap("Park");
        assert_eq!(
            till.member_id(),
            None,
            "the next customer starts without a member"
        );
        till.tap("Parked tickets");
        till.tap_starting("Resume #1");
        assert_eq!(till.lines(), 1);
        assert_eq!(till.member_id().as_deref(), Some("10086"));
        assert_eq!(till.shown("Member"), "王小明 · 金卡");
    });
}

#[test]
fn a_catalog_published_at_hq_reaches_the_open_till_without_repricing_the_ticket() {
    on_ui_thread(|| {
        use till_hq::db::HqStore;
        // A real HQ on 127.0.0.1, and the demo till registered with it.
        let hq_dir = tempfile::tempdir().unwrap();
        let admin = till_hq::db::SqliteStore::open(&hq_dir.path().join("hq.db")).unwrap();
        admin.add_store("S001", "").unwrap();
        let code = admin.add_terminal("S001", "T01").unwrap();
        let server = till_hq::server::spawn(
            "127.0.0.1:0",
            Box::new(till_hq::db::SqliteStore::open(&hq_dir.path().join("hq.db")).unwrap()),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        crate::demo::create_terminal(dir.path(), None).unwrap();
        let registered =
            till_sync::client::register(&server.url(), &code, Duration::from_secs(5), None)
                .unwrap();
        let store = crate::store::Store::open(&super::database(dir.path())).unwrap();
        crate::sync::save_registration(dir.path(), &store, &server.url(), None, &registered)
            .unwrap();
        let till = open_till(
            dir,
            AppOptions {
                printing: false,
                background_sync: true,
                sound: false,
            },
        );
        let quick_price = || {
            use slint::Model;
            till.app
                .window
                .global::<crate::ui::SaleAdapter>()
                .get_quick_keys()
                .row_data(0)
                .map(|k| k.price.to_string())
                .unwrap_or_default()
        };
        till.login();
        till.tap("Show quick keys");
        assert_eq!(quick_price(), "¥12.00");
        till.tap("Fresh Americano");
        // HQ raises the Americano to 13.50 while it is on the ticket.
        let rows = till_hq::catalog::read_catalog(
            "sku,barcodes,name_zh,name_en,price,tax_class\n301,K01,现磨咖啡 美式,Fresh Americano,13.50,food\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(admin.publish_catalog(&rows).unwrap().version, 1);
        till.tap("Back office");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("back office", |s| s.back_office().today().is_some());
        till.tap("Sync now");
        till.wait("the quick keys' new price", |s| {
            s.sale()
                .quick_keys()
                .first()
                .is_some_and(|k| k.price == 1350)
        });
        till.special(Key::Escape);
        assert_eq!(till.screen(), Screen::Sale);
        assert_eq!(quick_price(), "¥13.50", "the quick key shows today's price");
        let prices = || -> Vec<i64> {
            let session = till.app.session.borrow();
            session
                .checkout()
                .ticket()
                .lines()
                .iter()
                .map(|l| l.unit_price)
                .collect()
        };
        assert_eq!(prices(), [1200], "the line already rung up keeps its price");
        till.tap("Fresh Americano");
        assert_eq!(prices(), [1200, 1350]);
    });
}

#[test]
fn a_scanner_typing_capitals_with_shift_scans_whole_codes() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("可口可乐 1.25L");
        // The cashier has keyed a quantity; the scanner types a receipt code, each capital
        // between a Shift press and release (`keys` sends them as X does). A receipt starts
        // its return, once this ticket is done.
        till.tap("2");
        std::thread::sleep(super::wedge::MAX_GAP * 2);
        till.keys("TR1.S001.T01.1\n");
        let message = till.message();
        assert_eq!(
            message,
            "receipt TR1.S001.T01.1: finish or park this ticket before taking its return"
        );
        assert_eq!(
            till.shown("Code / qty"),
            "2",
            "the cashier's quantity is kept"
        );
        // A member code typed the same way attaches the member.
        std::thread::sleep(super::wedge::MAX_GAP * 2);
        till.keys(&format!("{}\n", spec_member_code("10086", 0)));
        assert!(
            till.app.session.borrow().ticket_member().is_some(),
            "{}",
            till.message()
        );
        assert_eq!(till.shown("Code / qty"), "2");
        // The quantity still belongs to the next item: two bottles, not 2.1 or 1.100.
        till.scan("农夫山泉 550ml");
        assert_eq!(
            till.app.session.borrow().checkout().ticket().lines()[1].quantity,
            till_domain::Quantity::units(2)
        );
        // Lower case, `-`, `/` and `:` arrive whole too: an unknown code is named in full.
        std::thread::sleep(super::wedge::MAX_GAP * 2);
        till.keys("https://Shop.Example/x-Y:1\n");
        assert_eq!(till.message(), "unknown barcode https://Shop.Example/x-Y:1");
        assert_eq!(till.lines(), 2);
    });
}

#[test]
fn a_keyed_plu_asks_for_the_weight_and_unit_goods_refuse_fractions() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.type_slowly("00042\n");
        assert!(
            till.message()
                .contains("is sold by weight: key the weight in kg and press ↵"),
            "{}",
            till.message()
        );
        assert_eq!(till.shown("Code / qty"), "");
        till.type_slowly("1.5\n");
        assert_eq!(till.lines(), 1, "{}", till.message());
        assert_eq!(till.shown("Total"), "¥19.47", "1.5 kg of apples at ¥12.98");
        // Half a cup of noodles is refused, and the ticket keeps its one line.
        till.tap("0");
        till.tap("Decimal point");
        till.tap("5");
        till.scan("康师傅红烧牛肉面 桶装");
        assert!(
            till.message()
                .ends_with("is sold by the unit: whole quantities only"),
            "{}",
            till.message()
        );
        assert_eq!(till.lines(), 1);
        // Zero is refused as well.
        till.special(Key::Escape);
        till.tap("0");
        till.scan("康师傅红烧牛肉面 桶装");
        assert!(till.message().contains("more than 0"), "{}", till.message());
        assert_eq!(till.lines(), 1);
    });
}

#[test]
fn a_discount_out_of_range_is_refused_before_the_manager_is_asked() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("心相印抽纸 标准装");
        till.keys("150");
        till.tap("Discount percent");
        assert!(till.app.session.borrow().approval().is_none());
        assert_eq!(till.message(), "a discount is between 0 % and 100 %");
        assert_eq!(till.shown("Total"), "¥19.90");
    });
}

#[test]
fn every_pin_prompt_locks_after_five_wrong_pins_even_across_a_restart() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.scan("心相印抽纸 标准装");
        for left in [4, 3, 2, 1] {
            till.keys("30");
            till.tap("Discount percent");
            till.type_slowly("1111\n");
            till.wait("approval check", |s| {
                s.approval().is_some_and(|a| !a.checking())
            });
            let message = till
                .app
                .session
                .borrow()
                .approval()
                .as_ref()
                .unwrap()
                .message()
                .map(str::to_string);
            assert_eq!(
                message.as_deref(),
                Some(format!("wrong manager PIN: {left} tries left").as_str())
            );
            till.tap("Cancel approval");
        }
        till.keys("30");
        till.tap("Discount percent");
        till.type_slowly("1111\n");
        till.wait("approval check", |s| {
            s.approval().is_some_and(|a| !a.checking())
        });
        // Locked: the right PIN is refused without being checked.
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        let session = till.app.session.borrow();
        let approval = session.approval().unwrap();
        assert!(!approval.checking(), "no PIN check runs while locked");
        assert!(
            approval
                .message()
                .is_some_and(|m| m.starts_with("too many wrong PINs: try again in")),
            "{:?}",
            approval.message()
        );
        drop(session);
        assert_eq!(till.shown("Total"), "¥19.90");
        till.tap("Cancel approval");
        // The till restarts: the lockout is still there.
        till.wait("the lockout saved", |s| {
            s.checkout()
                .store()
                .pin_guard(crate::staff::PinPrompt::Approval)
                .is_ok_and(|g| g.locked_until_ms > 0)
        });
        let Till { dir, app } = till;
        drop(app);
        let till = open_till(dir, AppOptions::default());
        till.login();
        till.scan("心相印抽纸 标准装");
        till.keys("30");
        till.tap("Discount percent");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        let message = till
            .app
            .session
            .borrow()
            .approval()
            .as_ref()
            .unwrap()
            .message()
            .map(str::to_string);
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.starts_with("too many wrong PINs")),
            "{message:?}"
        );
    });
}

#[test]
fn an_open_ticket_stays_with_its_cashier_and_survives_a_restart() {
    on_ui_thread(|| {
        let till = till();
        till.login_as(DEMO_MANAGER.1, DEMO_MANAGER.2);
        till.scan("农夫山泉 550ml");
        till.scan("可口可乐 500ml");
        till.tap("Back office");
        till.wait("back office", |s| s.back_office().today().is_some());
        till.tap("Log out");
        assert_eq!(till.screen(), Screen::Login);
        // The cashier logs in to an empty ticket.
        till.login();
        assert_eq!(
            till.lines(),
            0,
            "the manager's ticket did not pass to the cashier"
        );
        till.scan("心相印抽纸 标准装");
        // The till stops (a crash, a pulled plug) with the cashier's ticket open.
        till.wait("the open ticket saved", |s| {
            s.checkout()
                .store()
                .open_ticket()
                .is_ok_and(|t| t.is_some_and(|t| t.ticket.lines().len() == 1))
        });
        let Till { dir, app } = till;
        drop(app);
        let till = open_till(dir, AppOptions::default());
        till.login();
        assert_eq!(till.lines(), 1, "{}", till.message());
        assert_eq!(till.message(), "your open ticket is back");
        assert_eq!(till.shown("Total"), "¥19.90");
        till.tap("Back office");
        till.type_slowly(&format!("{}\n", DEMO_MANAGER.2));
        till.wait("approval", |s| s.approval().is_none());
        till.tap("Log out");
        // The manager gets their own two lines back.
        till.login_as(DEMO_MANAGER.1, DEMO_MANAGER.2);
        assert_eq!(till.lines(), 2);
        assert_eq!(till.shown("Total"), "¥5.50");
    });
}

#[test]
fn phone_entry_has_a_way_out_and_ends_with_a_scan_or_payment() {
    on_ui_thread(|| {
        let till = till();
        till.login();
        till.tap("Member");
        assert!(till.app.session.borrow().sale().phone().is_some());
        // On screen, ✕ leaves phone entry.
        till.tap("Cancel phone entry");
        assert!(till.app.session.borrow().sale().phone().is_none());
        till.tap("3");
        assert_eq!(till.shown("Code / qty"), "3");
        till.special(Key::Escape);
        // A product scan leaves phone entry: the next digits are a quantity again.
        till.tap("Member");
        till.scan("农夫山泉 550ml");
        assert!(till.app.session.borrow().sale().phone().is_none());
        till.tap("2");
        assert_eq!(till.shown("Code / qty"), "2");
        till.special(Key::Escape);
        // So does going to payment and back.
        till.tap("Member");
        till.tap("Pay");
        till.special(Key::Escape);
        assert_eq!(till.screen(), Screen::Sale);
        assert!(till.app.session.borrow().sale().phone().is_none());
    });
}

#[test]
fn sync_now_tells_the_truth_in_the_cashiers_language() {
    on_ui_thread(|| {
        let till = till();
        till.login_as(DEMO_MANAGER.1, DEMO_MANAGER.2);
        till.scan("农夫山泉 550ml");
        till.pay_exact();
        till.tap("New sale");
        till.tap("Back office");
        till.wait("back office", |s| s.back_office().today().is_some());
        till.tap("中文 (Chinese)");
        till.tap("立即同步");
        till.wait("sync", |s| !s.back_office().syncing());
        let session = till.app.session.borrow();
        let message = session.back_office().message().cloned().unwrap();
        assert!(message.error);
        assert!(
            message.text.starts_with("本机尚未在总部注册"),
            "{}",
            message.text
        );
        assert_eq!(session.sync.pending, 1, "the sale still waits to sync");
        drop(session);
        till.tap("English");
    });
}

#[test]
fn a_refused_scan_beeps_and_flashes_the_screen() {
    on_ui_thread(|| {
        let dir = tempfile::tempdir().unwrap();
        crate::demo::create_terminal(dir.path(), None).unwrap();
        let till = open_till(
            dir,
            AppOptions {
                sound: true,
                ..AppOptions::default()
            },
        );
        till.login();
        let flash = || till.shown("Alert") == "on";
        till.scan("农夫山泉 550ml");
        assert_eq!(
            (till.app.beeps(), flash()),
            (0, false),
            "a good scan is quiet"
        );
        till.scan_code("6900000000007");
        assert_eq!(till.message(), "unknown product 6900000000007");
        assert_eq!(till.app.beeps(), 1);
        assert!(flash(), "the screen's edge flashes");
        // The flash goes by itself.
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(500));
        assert!(!flash());
        // A payment code on the sale screen, and a scan behind the manager prompt, too.
        till.scan_code("134567890123456789");
        till.keys("50");
        till.tap("Discount percent");
        till.scan("可口可乐 500ml");
        assert_eq!(till.app.beeps(), 3);
        assert_eq!(till.lines(), 1);
    });
}

/// What is wrong with the layout of `window` at its size: controls or texts that reach
/// outside it, and texts cut short inside their element.
fn layout_faults<C: ComponentHandle + ElementRoot>(component: &C, screen: &str) -> Vec<String> {
    use i_slint_backend_testing::AccessibleRole;
    let window = component.window();
    let size = window.size().to_logical(window.scale_factor());
    let mut faults = Vec::new();
    for element in ElementHandle::query_descendants(&component.root_element()).find_all() {
        let Some(role) = element.accessible_role() else {
            continue;
        };
        // Ticket and report rows scroll inside their list: below the fold is fine, and so
        // are the parts of a row that nothing names (layouts, a report line's texts).
        if role == AccessibleRole::ListItem || role == AccessibleRole::None {
            continue;
        }
        let label = element
            .accessible_label()
            .or_else(|| element.accessible_value())
            .unwrap_or_default();
        let (position, extent) = (element.absolute_position(), element.size());
        if extent.width <= 0.0 || extent.height <= 0.0 {
            continue;
        }
        let inside = position.x >= -0.5
            && position.y >= -0.5
            && position.x + extent.width <= size.width + 0.5
            && position.y + extent.height <= size.height + 0.5;
        if !inside {
            faults.push(format!(
                "{screen} {}x{}: {role:?} {label:?} at {},{} size {}x{} reaches outside the window",
                size.width, size.height, position.x, position.y, extent.width, extent.height
            ));
        }
        if element.accessible_description().as_deref() == Some("content overflows") {
            faults.push(format!(
                "{screen} {}x{}: {label:?} has more to show than room for it",
                size.width, size.height
            ));
        }
        if element.accessible_description().as_deref() == Some("text overflows") {
            faults.push(format!(
                "{screen} {}x{}: {role:?} {label:?} ({:?}) is cut short",
                size.width,
                size.height,
                element.accessible_value().unwrap_or_default()
            ));
        }
    }
    faults
}

#[test]
fn every_screen_fits_at_800x480_and_1024x768_in_both_languages() {
    on_ui_thread(|| {
        let mut faults = Vec::new();
        for lang in [Lang::Zh, Lang::En] {
            let dir = tempfile::tempdir().unwrap();
            crate::demo::create_terminal(dir.path(), None).unwrap();
            let app = App::new(dir.path(), AppOptions::default()).unwrap();
            super::select_language(lang);
            app.update(|s| s.set_language(lang));
            app.window.show().unwrap();
            let check = app.clone();
            super::screenshot::stage(&app, &mut |name| {
                let customer = name.contains("customer");
                for (width, height) in super::screenshot::SIZES {
                    if customer {
                        check.set_customer_size(width, height);
                    } else {
                        check.set_size(width, height);
                    }
                    check.refresh();
                    settle();
                    let screen = format!("{name} {lang:?}");
                    faults.extend(if customer {
                        layout_faults(&check.customer, &screen)
                    } else {
                        layout_faults(&check.window, &screen)
                    });
                }
                Ok(())
            })
            .unwrap();
        }
        assert!(faults.is_empty(), "{}", faults.join("\n"));
    });
}

#[test]
fn the_cashier_hears_when_the_drawer_did_not_open_and_a_manager_opens_it() {
    on_ui_thread(|| {
        let dir = tempfile::tempdir().unwrap();
        // The printer the drawer is wired to is switched off: nothing listens on its port.
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = gone.local_addr().unwrap();
        drop(gone);
        crate::demo::create_terminal(dir.path(), Some(format!("tcp:{address}"))).unwrap();
        let till = open_till(
            dir,
            AppOptions {
                printing: true,
                ..AppOptions::default()
            },
        );
        till.login_as(DEMO_MANAGER.1, DEMO_MANAGER.2);
        till.scan("农夫山泉 550ml");
        till.pay_exact();
        till.wait("the drawer's answer", |s| {
            matches!(s.drawer, Some(super::session::DrawerState::Failed(_)))
        });
        assert_eq!(
            till.shown("Cash drawer"),
            "the drawer did not open: cannot reach the printer: check its power and cable. \
             A manager can open it from the back office"
        );
        // The sale stands, whatever the drawer and the receipt do.
        assert_eq!(till.store().sales_count().unwrap(), 1);
        till.tap("New sale");
        till.tap("Back office");
        till.wait("back office", |s| s.back_office().today().is_some());
        till.tap("Open drawer");
        till.tap("兑换零钱 give change");
        till.tap("Open the drawer");
        till.wait("the drawer's answer", |s| {
            s.back_office().message().as_ref().is_some_and(|m| m.error)
        });
        assert_eq!(
            till.app
                .session
                .borrow()
                .back_office()
                .message()
                .cloned()
                .unwrap()
                .text,
            "the drawer did not open: cannot reach the printer: check its power and cable"
        );
    });
}

mod ops;
