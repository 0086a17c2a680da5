//! The sale-complete screen's adapter.

use std::rc::Rc;

use slint::ComponentHandle;

use super::session::{DrawerState, Session};
use super::{App, AppWindow, CompleteAdapter};
use till_domain::TenderKind;

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<CompleteAdapter>();
    adapter.on_new_sale(super::on0(app, |s| s.new_sale()));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<CompleteAdapter>();
    if session.screen != super::session::Screen::Complete {
        return;
    }
    let Some(sale) = &session.last_sale else {
        return;
    };
    let lang = session.lang;
    adapter.set_change(session.money(sale.change).into());
    adapter.set_total(session.money(sale.total + sale.rounding).into());
    adapter.set_sale_number(format!("#{}", sale.seq).into());
    let tenders: Vec<String> = sale
        .payments
        .iter()
        .map(|p| {
            let kind = TenderKind::parse(&p.kind).map_or(p.kind.clone(), |k| lang.tender(k));
            format!("{kind} {}", session.money(p.amount))
        })
        .collect();
    adapter.set_tenders(tenders.join(" + ").into());
    let (status, problem) = match &session.printer {
        None => (
            lang.pick("未配置小票打印机", "no receipt printer configured"),
            false,
        ),
        Some(state) => match &state.last_error {
            Some(error) => {
                let error = lang.printer_problem(error);
                (
                    lang.pick(
                        &format!("{error}。小票已排队，修好后自动打印"),
                        &format!("{error}. The receipt is queued and prints once it is fixed"),
                    ),
                    true,
                )
            }
            None if state.pending > 0 => {
                (lang.pick("正在打印小票…", "printing the receipt…"), false)
            }
            None => (lang.pick("小票已打印", "receipt printed"), false),
        },
    };
    adapter.set_receipt_status(status.into());
    adapter.set_receipt_problem(problem);
    let (drawer, drawer_problem) = match &session.drawer {
        None => (String::new(), false),
        Some(DrawerState::Opening) => (lang.pick("正在打开钱箱…", "opening the drawer…"), false),
        Some(DrawerState::Opened) => (lang.pick("钱箱已打开", "drawer opened"), false),
        Some(DrawerState::Failed(error)) => (
            lang.pick(
                &format!(
                    "钱箱未打开：{}。请店长在后台打开钱箱",
                    lang.print_error(error)
                ),
                &format!(
                    "the drawer did not open: {}. A manager can open it from the back office",
                    lang.print_error(error)
                ),
            ),
            true,
        ),
    };
    adapter.set_drawer_status(drawer.into());
    adapter.set_drawer_problem(drawer_problem);
}
