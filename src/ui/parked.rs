//! The parked-tickets screen's adapter.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::session::Session;
use super::{App, AppWindow, ParkedAdapter, ParkedRow};

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<ParkedAdapter>();
    adapter.on_resume(super::on1(app, |s, i| s.resume(super::row(i))));
    adapter.on_close(super::on0(app, |s| s.close_side_screen()));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<ParkedAdapter>();
    if session.screen != super::session::Screen::Parked {
        return;
    }
    let rows: Vec<ParkedRow> = session
        .parked()
        .list()
        .iter()
        .map(|p| {
            let time = jiff::Timestamp::from_millisecond(p.parked_at_ms)
                .map(|t| {
                    t.to_zoned(jiff::tz::TimeZone::system())
                        .strftime("%H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            let cashier = session
                .staff
                .iter()
                .find(|m| m.id == p.cashier)
                .map_or(p.cashier.as_str(), |m| m.name.as_str());
            ParkedRow {
                title: format!("#{}  {time}", p.id).into(),
                detail: session
                    .lang
                    .pick(
                        &format!("{} 行 · 收银员 {cashier}", p.line_count),
                        &format!("{} lines · cashier {cashier}", p.line_count),
                    )
                    .into(),
                total: session.money(p.total).into(),
            }
        })
        .collect();
    adapter.set_tickets(ModelRc::new(VecModel::from(rows)));
    let (message, _) = super::sale::message(session.parked().message());
    adapter.set_message(message);
}
