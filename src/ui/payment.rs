//! The payment screen's adapter.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::session::{PAYMENT_KINDS, Session};
use super::{App, AppWindow, PaymentAdapter, TenderRow};

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<PaymentAdapter>();
    adapter.on_select_kind(super::on1(app, |s, i| s.select_kind(super::row(i))));
    adapter.on_keypad(super::on1(app, |s, key: SharedString| s.payment_key(&key)));
    adapter.on_quick_cash_pressed(super::on1(app, |s, i| s.quick_cash_pressed(super::row(i))));
    adapter.on_remove_tender(super::on1(app, |s, i| s.remove_tender(super::row(i))));
    adapter.on_back(super::on0(app, |s| s.back_to_sale()));
    adapter.on_confirm(super::on1(app, |s, yes| s.confirm_tender(yes)));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<PaymentAdapter>();
    if session.screen != super::session::Screen::Payment {
        adapter.set_confirm_text(SharedString::new());
        return;
    }
    let lang = session.lang;
    let ticket = session.checkout().ticket();
    let state = ticket.payment();
    adapter.set_due(session.money(state.payable).into());
    adapter.set_paid(session.money(state.paid).into());
    adapter.set_remaining(session.money(state.remaining).into());
    // The change the cashier will hand back: already owed, or what the keyed cash would give.
    let keyed = till_domain::Money::parse(session.payment().entry(), session.currency())
        .map(|m| m.minor())
        .unwrap_or(0);
    let change = if state.change > 0 {
        state.change
    } else if session.payment().kind() == till_domain::TenderKind::Cash && keyed > 0 {
        (keyed - ticket.cash_due()).max(0)
    } else {
        0
    };
    adapter.set_change(if change > 0 {
        session.money(change).into()
    } else {
        SharedString::new()
    });
    let rows: Vec<TenderRow> = ticket
        .tenders()
        .iter()
        .map(|t| TenderRow {
            kind: lang.tender(t.kind).into(),
            amount: session.money(t.amount).into(),
            reference: t.reference.clone().unwrap_or_default().into(),
        })
        .collect();
    adapter.set_tenders(ModelRc::new(VecModel::from(rows)));
    let kind = PAYMENT_KINDS
        .iter()
        .position(|k| *k == session.payment().kind())
        .map_or(-1, |i| i as i32);
    adapter.set_kind(kind);
    adapter.set_entry(session.payment().entry().into());
    adapter.set_reference(session.payment().reference().into());
    adapter.set_needs_reference(
        session.payment().kind().needs_reference() && session.payment().entry().is_empty(),
    );
    let quick: Vec<SharedString> = session
        .quick_cash()
        .into_iter()
        .enumerate()
        .map(|(i, amount)| {
            if i == 0 {
                lang.pick(
                    &format!("刚好 {}", session.money(amount)),
                    &format!("Exact {}", session.money(amount)),
                )
                .into()
            } else {
                session.money(amount).into()
            }
        })
        .collect();
    adapter.set_quick_cash(ModelRc::new(VecModel::from(quick)));
    let (text, error) = super::sale::message(session.payment().message());
    adapter.set_message(text);
    adapter.set_error(error);
    adapter.set_busy(session.payment().committing());
    adapter.set_confirm_text(session.confirm_text().unwrap_or_default().into());
}
