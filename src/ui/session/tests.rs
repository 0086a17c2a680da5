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
        Task::HashPhone(hasher, phone) => {
            session.phone_hashed(hasher.hash(phone));
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
    // The lockout is handed out to be kept on disk, and to the audit trail, naming whose
    // PIN was tried.
    let deferred = s.take_deferred();
    assert!(
        deferred
            .iter()
            .any(|t| matches!(t, Task::SavePinGuard(PinPrompt::Login, _))),
    );
    let lockouts: Vec<&crate::checkout::AuditRecord> = deferred
        .iter()
        .filter_map(|t| match t {
            Task::RecordAudit(r) if matches!(r.op, till_sync::ops::Op::Lockout(_)) => Some(&**r),
            _ => None,
        })
        .collect();
    assert_eq!(lockouts.len(), 1, "{deferred:?}");
    assert_eq!(lockouts[0].staff, DEMO_CASHIER.0);
}

/// Logins and logouts go to the audit trail, through the worker like every write.
#[test]
fn a_login_and_a_logout_are_audited() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    s.logout();
    let kinds: Vec<(String, &str)> = s
        .take_deferred()
        .iter()
        .filter_map(|t| match t {
            Task::RecordAudit(r) => Some((r.staff.clone(), r.op.kind())),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (DEMO_CASHIER.0.to_string(), "login"),
            (DEMO_CASHIER.0.to_string(), "logout")
        ]
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

/// Keys `typed` into the sale screen's entry (or the phone being keyed), presses ↵, and
/// runs what a worker would (a phone's hashing).
fn enter_on_sale(session: &mut Session, typed: &str) -> Option<Task> {
    keys(session, typed, Session::sale_key);
    let task = session.sale_key("enter");
    finish(session, task)
}

fn sale_message(session: &Session) -> String {
    session
        .sale
        .message()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

#[test]
fn a_new_phone_asks_for_consent_and_enrolls_and_a_second_member_asks_which_to_keep() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    assert!(s.scan(&sample_ean13(2)).is_none());
    s.member();
    assert_eq!(s.sale.phone(), Some(""));
    // A number that cannot be a mobile stays on the keypad to be corrected.
    assert!(enter_on_sale(&mut s, "1381234567").is_none());
    assert_eq!(s.sale.phone(), Some("1381234567"));
    assert!(s.sale.message().is_some_and(|m| m.error));
    assert!(s.ticket_member().is_none());
    // A number no member has asks the customer to consent; refusing leaves the sale anonymous.
    assert!(s.sale_key("clear").is_none());
    assert!(enter_on_sale(&mut s, "13600002222").is_none());
    assert!(matches!(
        s.sale.member_prompt(),
        Some(MemberPrompt::Consent { .. })
    ));
    // While the question is open, keys and scans wait for the answer.
    assert!(s.sale_key("5").is_none());
    assert_eq!(s.sale.entry(), "");
    let alerts = s.alerts;
    assert!(s.scan(&sample_ean13(3)).is_none());
    assert_eq!(
        (s.alerts, s.checkout().ticket().lines().len()),
        (alerts + 1, 1)
    );
    s.answer_member_prompt(true);
    let enrolled = s
        .ticket_member()
        .cloned()
        .expect("the new member is on the ticket");
    assert!(
        sale_message(&s).contains("enrolled"),
        "{}",
        sale_message(&s)
    );
    assert!(s.points_this_sale() > 0);
    // A known member's phone on a ticket that has one asks which to keep; "no" keeps the first.
    s.member();
    assert!(enter_on_sale(&mut s, "13812345678").is_none());
    assert!(matches!(
        s.sale.member_prompt(),
        Some(MemberPrompt::Replace { .. })
    ));
    s.answer_member_prompt(false);
    assert_eq!(
        s.ticket_member().map(|m| &m.member_id),
        Some(&enrolled.member_id)
    );
    // The hashing is a worker's: ↵ hands it out, and an answer for a number the cashier
    // changed meanwhile is dropped.
    s.member();
    keys(&mut s, "13812345678", Session::sale_key);
    let Some(Task::HashPhone(hasher, phone)) = s.sale_key("enter") else {
        panic!("the phone is hashed off the UI thread")
    };
    assert!(s.sale.member_prompt().is_none());
    assert!(s.sale_key("back").is_none());
    s.phone_hashed(hasher.hash(phone));
    assert!(
        s.sale.member_prompt().is_none(),
        "a stale answer is dropped"
    );
    assert_eq!(s.sale.phone(), Some("1381234567"));
    assert_eq!(
        s.ticket_member().map(|m| &m.member_id),
        Some(&enrolled.member_id)
    );
    s.detach_member();
    // ✕ detaches: the sale is anonymous again.
    s.detach_member();
    assert!(s.ticket_member().is_none());
}

#[test]
fn a_weighed_plu_waits_for_its_weight_and_a_selected_line_takes_a_quantity_or_a_void() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    assert!(enter_on_sale(&mut s, "00042").is_none());
    assert!(s.sale.weighing().is_some(), "{}", sale_message(&s));
    assert!(s.checkout().ticket().is_empty());
    assert!(enter_on_sale(&mut s, "1.5").is_none());
    assert_eq!(
        s.checkout().ticket().lines().len(),
        1,
        "{}",
        sale_message(&s)
    );
    assert!(s.sale.weighing().is_none());
    assert_eq!(s.checkout().ticket().payment().payable, 1947);
    // A unit product, then 3 of it.
    assert!(s.scan(&sample_ean13(2)).is_none());
    let line = s.sale.selected().expect("the scanned line is selected");
    keys(&mut s, "3", Session::sale_key);
    s.quantity();
    let ticket = s.checkout().ticket();
    assert_eq!(ticket.line(line).unwrap().quantity, Quantity::units(3));
    // A fraction of a unit product is refused and changes nothing.
    keys(&mut s, "0.5", Session::sale_key);
    s.quantity();
    assert!(s.sale.message().is_some_and(|m| m.error));
    assert_eq!(
        s.checkout().ticket().line(line).unwrap().quantity,
        Quantity::units(3)
    );
    // Touching the selected line again deselects it; a void then has nothing to void.
    s.escape();
    s.select_line(1);
    assert_eq!(s.sale.selected(), None);
    assert!(!s.sale.entry_focused());
    s.void_line();
    assert_eq!(s.checkout().ticket().lines().len(), 2);
    assert!(s.sale.message().is_some_and(|m| m.error));
    // Before any payment a void needs no manager; the selection moves to the last line.
    s.select_line(1);
    s.void_line();
    assert!(s.approval.is_none());
    let lines = s.checkout().ticket().lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(s.sale.selected(), Some(lines[0].id));
}

#[test]
fn a_parked_ticket_is_listed_and_resumed_and_the_list_refuses_scans() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    assert!(s.scan(&sample_ean13(2)).is_none());
    assert!(s.scan(&sample_ean13(3)).is_none());
    let payable = s.checkout().ticket().payment().payable;
    s.park();
    assert!(s.checkout().ticket().is_empty());
    assert_eq!(s.sale.parked_count(), 1);
    assert!(sale_message(&s).starts_with("ticket parked as #"));
    // An empty ticket is not parked.
    s.park();
    assert_eq!(s.sale.parked_count(), 1);
    assert!(s.sale.message().is_some_and(|m| m.error));
    s.show_parked();
    assert_eq!(s.screen, Screen::Parked);
    assert_eq!(s.parked.list().len(), 1);
    let alerts = s.alerts;
    assert!(s.scan(&sample_ean13(4)).is_none());
    assert_eq!(s.alerts, alerts + 1);
    assert!(s.parked.message().is_some_and(|m| m.error));
    s.resume(5);
    assert_eq!(s.screen, Screen::Parked, "a row past the list does nothing");
    s.resume(0);
    assert_eq!(s.screen, Screen::Sale);
    assert_eq!(s.checkout().ticket().payment().payable, payable);
    assert_eq!((s.sale.parked_count(), s.parked.list().len()), (0, 0));
}

#[test]
fn the_back_office_asks_roles_syncs_once_at_a_time_and_logout_keeps_the_ticket() {
    let (_dir, mut s) = session();
    log_in(&mut s, DEMO_CASHIER);
    assert!(s.scan(&sample_ean13(2)).is_none());
    // Every role reaches the back office; what each may do there is `[roles]`.
    let task = s.open_back_office();
    assert!(matches!(task, Some(Task::LoadBackOffice)), "{task:?}");
    assert_eq!(s.screen, Screen::BackOffice);
    // A cashier may not pay out: a supervisor's or manager's PIN is asked for, and a
    // cashier's own PIN does not approve it.
    assert!(
        s.cash_movement(till_domain::shift::MovementKind::PaidOut)
            .is_none()
    );
    assert_eq!(s.screen, Screen::BackOffice);
    let reason = s.approval().map(|a| a.reason().to_string());
    assert_eq!(
        reason.as_deref(),
        Some("paying out needs the PIN of a supervisor or manager allowed to")
    );
    keys(&mut s, DEMO_CASHIER.2, Session::approval_key);
    let task = s.approval_key("enter");
    assert!(
        matches!(&task, Some(Task::CheckPin { candidates, .. })
            if candidates.iter().all(|(m, _)| m.role != Role::Cashier)),
        "{task:?}"
    );
    assert!(finish(&mut s, task).is_none());
    assert_eq!(
        s.approval().and_then(|a| a.message()),
        Some("wrong PIN, or not someone allowed to approve this: 4 tries left")
    );
    keys(&mut s, DEMO_MANAGER.2, Session::approval_key);
    let task = s.approval_key("enter");
    assert!(finish(&mut s, task).is_none());
    assert_eq!(s.screen, Screen::Cash);
    s.cancel_operation();
    assert_eq!(s.screen, Screen::BackOffice);
    // Sync now, pressed twice, syncs once; its failure is said in the cashier's words.
    assert!(matches!(s.sync_now(), Some(Task::Sync)));
    assert!(s.sync_now().is_none());
    s.synced(
        Err(crate::sync::SyncNowError::NotRegistered),
        SyncState::default(),
    );
    assert!(!s.back_office.syncing());
    assert!(s.back_office.message().is_some_and(|m| m.error));
    assert!(matches!(s.sync_now(), Some(Task::Sync)));
    // No sale: a cashier may (the default `[roles]`); a reason is asked for first.
    assert!(s.open_drawer().is_none());
    assert_eq!(s.screen, Screen::Cash);
    assert!(s.confirm_cash().is_none());
    assert_eq!(
        s.cash().message().map(|m| m.text.as_str()),
        Some("tap a reason")
    );
    s.select_reason(0);
    let task = s.confirm_cash();
    assert!(
        matches!(
            &task,
            Some(Task::MoveCash {
                kind: till_domain::shift::MovementKind::NoSale,
                approver: None,
                ..
            })
        ),
        "{task:?}"
    );
    s.cash_moved(Ok(()));
    assert_eq!(s.screen, Screen::BackOffice);
    s.drawer_done(Err(till_drivers::printer::PrintError::PaperOut));
    let said = s.back_office.message().unwrap();
    assert!(
        said.error && said.text.starts_with("the drawer did not open"),
        "{said:?}"
    );
    // Logging out parks the open ticket under its cashier; it comes back at their login.
    s.logout();
    assert_eq!(s.screen, Screen::Login);
    assert!(s.cashier.is_none() && s.checkout().ticket().is_empty());
    log_in(&mut s, DEMO_CASHIER);
    assert_eq!(s.checkout().ticket().lines().len(), 1);
    assert_eq!(sale_message(&s), "your open ticket is back");
}
