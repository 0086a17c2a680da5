//! The manager-approval prompt's adapter.

use std::rc::Rc;

use slint::ComponentHandle;

use super::session::Session;
use super::{App, AppWindow, ApprovalAdapter};

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<ApprovalAdapter>();
    adapter.on_key(super::on1(app, |s, key: slint::SharedString| {
        s.approval_key(&key)
    }));
    adapter.on_cancel(super::on0(app, |s| s.cancel_approval()));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<ApprovalAdapter>();
    match session.approval() {
        Some(approval) => {
            adapter.set_visible(true);
            adapter.set_reason(approval.reason().into());
            adapter.set_title(
                if approval.by_role() {
                    session.lang.pick("需要批准", "Approval needed")
                } else {
                    session.lang.pick("店长批准", "Manager approval")
                }
                .into(),
            );
            adapter.set_pin_dots(approval.pin_dots().into());
            adapter.set_message(approval.message().unwrap_or_default().into());
            adapter.set_busy(approval.checking());
        }
        None => {
            adapter.set_visible(false);
            adapter.set_pin_dots("".into());
            adapter.set_message("".into());
        }
    }
}
