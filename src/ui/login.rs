//! The login screen's adapter.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::session::Session;
use super::{App, AppWindow, LoginAdapter, StaffTile};
use crate::store::Role;

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<LoginAdapter>();
    adapter.on_select(super::on1(app, |s, i| s.select_staff(super::row(i))));
    adapter.on_key(super::on1(app, |s, key: slint::SharedString| {
        s.login_key(&key)
    }));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<LoginAdapter>();
    if session.screen != super::session::Screen::Login {
        return;
    }
    let tiles: Vec<StaffTile> = session
        .staff
        .iter()
        .map(|member| StaffTile {
            name: member.name.clone().into(),
            role: match member.role {
                Role::Manager => session.lang.pick("店长", "Manager"),
                Role::Supervisor => session.lang.pick("值班主管", "Supervisor"),
                Role::Cashier => session.lang.pick("收银员", "Cashier"),
            }
            .into(),
        })
        .collect();
    let current = adapter.get_staff();
    if current.row_count() != tiles.len()
        || tiles
            .iter()
            .enumerate()
            .any(|(i, t)| current.row_data(i).as_ref() != Some(t))
    {
        adapter.set_staff(ModelRc::new(VecModel::from(tiles)));
    }
    adapter.set_selected(session.login().selected().map_or(-1, |i| i as i32));
    adapter.set_pin_dots(session.login().pin_dots().into());
    let (message, error) = super::sale::message(session.login().message());
    adapter.set_message(message);
    adapter.set_error(error);
    adapter.set_busy(session.login().checking());
}

use slint::Model;
