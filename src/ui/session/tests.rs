//! The touchscreen's controller without a window: each screen's part driven as its callbacks
//! would drive it, with the slow work (PIN checks, commits) run here in place of the workers.
//! The window tests (`ui/tests.rs`) check that the `.slint` callbacks reach these functions.

use super::*;
use crate::checkout::CheckoutSettings;
use crate::config::{CONFIG_FILE, Config, DATABASE_FILE};
use crate::demo::{DEMO_CASHIER, DEMO_MANAGER, sample_ean13};
use crate::store::Store;

/// A session over a fresh demo terminal, in English, on the login screen.
fn session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    crate::demo::create_terminal(dir.path(), None).unwrap();
    let config = Config::load(&dir.path().join(CONFIG_FILE)).unwrap();
    let store = Store::open(&dir.path().join(DATABASE_FILE)).unwrap();
    let staff = store.staff().unwrap();
    let settings = CheckoutSettings::from_config(&config).unwrap();
    let checkout = Checkout::new(store, settings, "");
    let session = Session::new(checkout, Lang::En, "Test".into(), staff, Vec::new());
    (dir, session)
}

/// Runs what a worker would for `task` and hands the answer back, as the event loop does.
fn finish(session: &mut Session, task: Option<Task>) -> Option<Task> {
    match task? {
        Task::CheckPin {
            purpose,
            pin,
            candidates,
        } => {
            let who = check_pin(&pin, &candidates);
            match purpose {
                PinPurpose::Login => {
                    session.logged_in(who);
                    None
                }
                PinPurpose::Approval(id) => session.approved(id, who),
            }
        }
        Task::Commit(draft, _) => {
            session.committed(Ok(*draft));
            None
        }
        other => Some(other),
    }
}

fn keys(session: &mut Session, typed: &str, key: fn(&mut Session, &str) -> Option<Task>) {
    for digit in typed.chars() {
        assert!(key(session, &digit.to_string()).is_none());
    }
}

fn log_in(session: &mut Session, who: (&str, &str, &str)) {
    let index = session.staff.iter().position(|m| m.id == who.0).unwrap();
    session.select_staff(index);
    keys(session, who.2, Session::login_key);
    let task = session.login_key("enter");
    assert!(finish(session, task).is_none());
}

#[test]
fn login_locks_after_five_wrong_pins_and_the_right_one_then_waits() {
    let (_dir, mut s) = session();
    assert_eq!(s.screen, Screen::Login);
    for _ in 0..5 {
        log_in(&mut s, (DEMO_CASHIER.0, DEMO_CASHIER.1, "0000"));
        assert_eq!(s.screen, Screen::Login);
    }
    let message = s.login.message().cloned().unwrap().text;
    assert!(
        message.contains("locked") || message.contains("try again"),
        "{message}"
    );
    // The right PIN is not even checked while the prompt is locked.
    let index = s.staff.iter().position(|m| m.id == DEMO_CASHIER.0).unwrap();
    s.select_staff(index);
    keys(&mut s, DEMO_CASHIER.2, Session::login_key);
    assert!(s.login_key("enter").is_none());
    assert_eq!(s.screen, Screen::Login);
    assert!(s.cashier.is_none());
    // The lockout is handed out to be kept on disk.
    assert!(
        s.take_deferred()
            .iter()
            .any(|t| matches!(t, Task::SavePinGuard(PinPrompt::Login, _))),
    );
}

#[test]
fn a_sale_is_scanned_paid_in_cash_and_committed_without_a_window() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    assert_eq!(s.screen, Screen::Sale);
    // Paying an empty ticket is refused and stays on the sale screen.
    assert!(s.pay().is_none());
    assert_eq!(s.screen, Screen::Sale);
    assert!(s.sale.message().is_some());
    assert!(s.scan(&sample_ean13(2)).is_none());
    assert!(s.scan(&sample_ean13(2)).is_none());
    let due = s.checkout().ticket().payment().payable;
    assert!(due > 0);
    assert!(s.pay().is_none());
    assert_eq!(s.screen, Screen::Payment);
    // Too little cash leaves the ticket open; the rest commits it.
    let half = Money::new(due / 2, s.currency()).to_decimal_string();
    keys(&mut s, &half, Session::payment_key);
    assert!(s.payment_key("enter").is_none());
    assert_eq!(s.screen, Screen::Payment);
    let rest = Money::new(due - due / 2, s.currency()).to_decimal_string();
    keys(&mut s, &rest, Session::payment_key);
    let task = s.payment_key("enter");
    assert!(matches!(task, Some(Task::Commit(..))), "{task:?}");
    assert!(s.payment.committing());
    assert!(finish(&mut s, task).is_none());
    assert_eq!(s.screen, Screen::Complete);
    let sale = s.last_sale.clone().unwrap();
    assert_eq!(sale.lines.len(), 1);
    assert_eq!(sale.payable(), due);
    s.new_sale();
    assert_eq!(s.screen, Screen::Sale);
    assert!(s.checkout().ticket().is_empty());
}

#[test]
fn a_discount_over_the_limit_waits_for_a_managers_pin() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    assert!(s.scan(&sample_ean13(2)).is_none());
    let before = s.checkout().ticket().payment().payable;
    keys(&mut s, "50", Session::sale_key);
    s.discount();
    let id = s.approval.as_ref().expect("a manager is asked").id();
    assert_eq!(s.checkout().ticket().payment().payable, before);
    // The cashier's own PIN does not approve.
    keys(&mut s, DEMO_CASHIER.2, Session::approval_key);
    let task = s.approval_key("enter");
    assert!(finish(&mut s, task).is_none());
    assert_eq!(s.approval.as_ref().map(|a| a.id()), Some(id));
    assert!(s.approval.as_ref().unwrap().message().is_some());
    assert_eq!(s.checkout().ticket().payment().payable, before);
    keys(&mut s, DEMO_MANAGER.2, Session::approval_key);
    let task = s.approval_key("enter");
    assert!(finish(&mut s, task).is_none());
    assert!(s.approval.is_none());
    assert_eq!(s.checkout().ticket().payment().payable, before / 2);
}
