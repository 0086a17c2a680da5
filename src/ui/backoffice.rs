//! The back office's adapter: today's takings and the sync state.

use std::rc::Rc;

use slint::ComponentHandle;

use super::session::Session;
use super::text::Lang;
use super::{App, AppWindow, BackOfficeAdapter, Figure};
use till_domain::TenderKind;
use till_domain::shift::MovementKind;

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<BackOfficeAdapter>();
    adapter.on_sync_now(super::on0(app, |s| s.sync_now()));
    adapter.on_open_drawer(super::on0(app, |s| s.open_drawer()));
    adapter.on_shift(super::on0(app, |s| {
        if s.open_shift_number().is_some() {
            s.close_shift()
        } else {
            s.open_shift()
        }
    }));
    adapter.on_x_report(super::on0(app, |s| s.x_report()));
    adapter.on_paid_in(super::on0(app, |s| s.cash_movement(MovementKind::PaidIn)));
    adapter.on_paid_out(super::on0(app, |s| s.cash_movement(MovementKind::PaidOut)));
    adapter.on_returns(super::on0(app, |s| s.open_returns()));
    adapter.on_sales(super::on0(app, |s| s.open_sales()));
    adapter.on_reprint_last(super::on0(app, |s| s.reprint_last()));
    adapter.on_language(super::on1(app, |s, code: slint::SharedString| {
        if let Ok(lang) = code.parse::<Lang>() {
            super::select_language(lang);
            s.set_language(lang);
        }
    }));
    adapter.on_logout(super::on0(app, |s| s.logout()));
    adapter.on_close(super::on0(app, |s| s.close_side_screen()));
}

fn figure(label: String, value: String) -> Figure {
    Figure {
        label: label.into(),
        value: value.into(),
    }
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<BackOfficeAdapter>();
    let lang = session.lang;
    adapter.set_chinese(lang == Lang::Zh);
    if session.screen != super::session::Screen::BackOffice {
        return;
    }
    adapter.set_shift_open(session.open_shift_number().is_some());
    adapter.set_title(lang.pick("后台", "Back office").into());
    let loading = || vec![figure(lang.pick("读取中…", "loading…"), String::new())];
    let (today, tenders) = match session.back_office().today() {
        None => (loading(), loading()),
        Some(day) => {
            let average = if day.sales == 0 {
                0
            } else {
                day.total / day.sales as i64
            };
            let capture = if day.sales == 0 {
                "—".to_string()
            } else {
                format!(
                    "{} / {} ({}%)",
                    day.member_sales,
                    day.sales,
                    day.member_sales * 100 / day.sales
                )
            };
            let shift = match session.open_shift_number() {
                Some(n) => lang.pick(&format!("班次 {n} 进行中"), &format!("shift {n} open")),
                None => lang.pick("未开班", "none open"),
            };
            let today = vec![
                figure(lang.pick("班次", "Shift"), shift),
                figure(lang.pick("销售笔数", "Sales"), day.sales.to_string()),
                figure(lang.pick("销售额", "Takings"), session.money(day.total)),
                figure(lang.pick("客单价", "Average sale"), session.money(average)),
                figure(lang.pick("会员占比", "Member capture"), capture),
            ];
            let mut tenders: Vec<Figure> = day
                .by_tender
                .iter()
                .map(|(kind, amount)| {
                    let name = TenderKind::parse(kind).map_or(kind.clone(), |k| lang.tender(k));
                    figure(name, session.money(*amount))
                })
                .collect();
            if tenders.is_empty() {
                tenders.push(figure(
                    lang.pick("今天还没有销售", "no sales yet today"),
                    String::new(),
                ));
            }
            (today, tenders)
        }
    };
    super::ops::keep_or_set(adapter.get_today(), today, |m| adapter.set_today(m));
    super::ops::keep_or_set(adapter.get_tenders(), tenders, |m| adapter.set_tenders(m));
    let sync = &session.sync;
    let last = sync
        .last_success_ms
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| lang.pick("从未", "never"));
    let figures = vec![
        figure(
            lang.pick("总部", "HQ"),
            if sync.registered {
                lang.pick("已注册", "registered")
            } else {
                lang.pick("未注册", "not registered")
            },
        ),
        figure(lang.pick("待同步", "Pending"), sync.pending.to_string()),
        figure(lang.pick("上次成功", "Last success"), last),
        figure(
            lang.pick("上次错误", "Last error"),
            sync.last_error
                .clone()
                .unwrap_or_else(|| lang.pick("无", "none")),
        ),
    ];
    super::ops::keep_or_set(adapter.get_sync(), figures, |m| adapter.set_sync(m));
    let (text, error) = super::sale::message(session.back_office().message());
    adapter.set_message(text);
    adapter.set_error(error);
    adapter.set_syncing(session.back_office().syncing());
}
