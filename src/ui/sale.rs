//! The sale screen's adapter: the ticket, totals, entry, member panel and actions.

use std::rc::Rc;

use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};

use super::session::{Message, Session};
use super::text::Lang;
use super::{App, AppWindow, LineRow, QuickKey, SaleAdapter};
use till_domain::Discount;

pub(super) fn connect(app: &Rc<App>) {
    use super::{on0, on1, row};
    let adapter = app.window.global::<SaleAdapter>();
    adapter.set_lines(ModelRc::new(VecModel::<LineRow>::default()));
    adapter.on_focus_entry(on0(app, |s| s.focus_entry()));
    adapter.on_quantity(on0(app, |s| s.quantity()));
    adapter.on_void_line(on0(app, |s| s.void_line()));
    adapter.on_discount_selected(on0(app, |s| s.discount()));
    adapter.on_park(on0(app, |s| s.park()));
    adapter.on_show_parked(on0(app, |s| s.show_parked()));
    adapter.on_pay(on0(app, |s| s.pay()));
    adapter.on_toggle_quick_keys(on0(app, |s| s.toggle_quick_keys()));
    adapter.on_member(on0(app, |s| s.member()));
    adapter.on_detach_member(on0(app, |s| s.detach_member()));
    adapter.on_back_office(on0(app, |s| s.open_back_office()));
    adapter.on_cancel_ticket(on0(app, |s| s.cancel_whole_ticket()));
    adapter.on_keypad(on1(app, |s, key: SharedString| s.sale_key(&key)));
    adapter.on_select_line(on1(app, |s, i| s.select_line(row(i))));
    adapter.on_quick_key(on1(app, |s, i| s.quick_key(row(i))));
}

/// A message for a band: its text and whether it is a refusal.
pub(super) fn message(message: Option<&Message>) -> (SharedString, bool) {
    match message {
        Some(m) => (m.text.clone().into(), m.error),
        None => (SharedString::new(), false),
    }
}

pub(super) fn name(lang: Lang, zh: &str, en: &str) -> String {
    if lang == Lang::En && !en.is_empty() {
        en.to_string()
    } else {
        zh.to_string()
    }
}

thread_local! {
    /// The ticket (and language) the adapter last showed: most key presses change neither,
    /// and skipping the rebuild keeps a wedge scan's fourteen keys cheap.
    static SHOWN: std::cell::RefCell<Option<(till_domain::Ticket, Lang, Option<till_domain::LineId>)>> =
        const { std::cell::RefCell::new(None) };
}

/// A new window shows nothing yet: forget what the last one showed.
pub(super) fn forget_shown() {
    SHOWN.with(|shown| shown.borrow_mut().take());
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<SaleAdapter>();
    let lang = session.lang;
    show_entry(&adapter, session);
    show_quick_keys(&adapter, session);
    let ticket = session.checkout().ticket();
    let unchanged = SHOWN.with(|shown| {
        let mut shown = shown.borrow_mut();
        let same = shown.as_ref().is_some_and(|(t, l, sel)| {
            t == ticket && *l == lang && *sel == session.sale().selected()
        });
        if !same {
            *shown = Some((ticket.clone(), lang, session.sale().selected()));
        }
        same
    });
    if unchanged {
        return;
    }
    let totals = ticket.totals();
    let rows: Vec<LineRow> = ticket
        .lines()
        .iter()
        .zip(&totals.lines)
        .map(|(line, t)| {
            let unit = session.money(line.unit_price);
            let detail = if line.item.weighed {
                format!("{} × {unit}/kg", lang.quantity(line.quantity, true))
            } else {
                format!("{} × {unit}", lang.quantity(line.quantity, false))
            };
            let discount = match (line.discount, t.discount) {
                (_, 0) => String::new(),
                (Some(Discount::Percent(bp)), off) => {
                    format!("-{} ({}%)", session.money(off), percent(bp))
                }
                (_, off) => format!("-{}", session.money(off)),
            };
            LineRow {
                name: name(lang, &line.item.name_zh, &line.item.name_en).into(),
                detail: detail.into(),
                discount: discount.into(),
                total: session.money(t.total).into(),
            }
        })
        .collect();
    // Update the rows in place: a scan changes one row, so the list does not rebuild.
    let model = adapter.get_lines();
    if let Some(lines) = model.as_any().downcast_ref::<VecModel<LineRow>>() {
        for (i, row) in rows.iter().enumerate() {
            if i < lines.row_count() {
                if lines.row_data(i).as_ref() != Some(row) {
                    lines.set_row_data(i, row.clone());
                }
            } else {
                lines.push(row.clone());
            }
        }
        while lines.row_count() > rows.len() {
            lines.remove(lines.row_count() - 1);
        }
    }
    let selected = session
        .sale()
        .selected()
        .and_then(|id| ticket.lines().iter().position(|l| l.id == id));
    adapter.set_selected(selected.map_or(-1, |i| i as i32));
    let items = item_count(ticket);
    adapter.set_item_count(
        lang.pick(&format!("{items} 件商品"), &format!("{items} items"))
            .into(),
    );
    adapter.set_subtotal(session.money(totals.subtotal).into());
    adapter.set_discount(if totals.discount == 0 {
        SharedString::new()
    } else {
        format!("-{}", session.money(totals.discount)).into()
    });
    adapter.set_tax(session.money(totals.tax).into());
    adapter.set_total(session.money(totals.total).into());
}

/// The quick keys' labels, which change with the language and when a sync brings a new
/// catalog, whatever the ticket does.
fn show_quick_keys(adapter: &SaleAdapter<'_>, session: &Session) {
    let lang = session.lang;
    let keys: Vec<QuickKey> = session
        .sale()
        .quick_keys()
        .iter()
        .map(|k| QuickKey {
            name: name(lang, &k.name_zh, &k.name_en).into(),
            price: session.money(k.price).into(),
        })
        .collect();
    if adapter.get_quick_keys().row_count() != keys.len()
        || keys
            .iter()
            .enumerate()
            .any(|(i, k)| adapter.get_quick_keys().row_data(i).as_ref() != Some(k))
    {
        adapter.set_quick_keys(ModelRc::new(VecModel::from(keys)));
    }
}

/// The parts of the sale screen that change with every key: the entry and the message.
fn show_entry(adapter: &SaleAdapter<'_>, session: &Session) {
    let lang = session.lang;
    match session.sale().phone() {
        Some(phone) => {
            adapter.set_entry(phone.into());
            adapter.set_entry_caption(lang.pick("手机号", "Phone").into());
            adapter.set_entry_focused(true);
        }
        None => {
            adapter.set_entry(session.sale().entry().into());
            match session.sale().weighing() {
                Some(name) => adapter.set_entry_caption(
                    lang.pick(&format!("{name} 重量 kg"), &format!("{name} weight, kg"))
                        .into(),
                ),
                None => adapter.set_entry_caption(SharedString::new()),
            }
            adapter.set_entry_focused(session.sale().entry_focused());
        }
    }
    adapter.set_phone_entry(session.sale().phone().is_some());
    match session.ticket_member() {
        Some(member) => {
            adapter.set_member_attached(true);
            let title = super::session::member_title(member);
            let title = if member.tier.is_empty() {
                title
            } else {
                format!("{title} · {}", member.tier)
            };
            adapter.set_member_title(title.into());
            let phone = member.phone_masked.clone().unwrap_or_default();
            let points = session.points_this_sale();
            adapter.set_member_detail(
                lang.pick(
                    &format!("{phone}  积分 {}  本单 +{points}", member.points),
                    &format!("{phone}  {} points  this sale +{points}", member.points),
                )
                .trim()
                .to_string()
                .into(),
            );
        }
        None => {
            // While a phone number is keyed, ✕ leaves phone entry.
            adapter.set_member_attached(session.sale().phone().is_some());
            adapter.set_member_title(
                lang.pick("扫会员码 / 输入手机号", "Scan member QR / enter phone")
                    .into(),
            );
            adapter.set_member_detail(lang.pick("本单：匿名", "This sale: anonymous").into());
        }
    }
    let (text, error) = message(session.sale().message());
    adapter.set_message(text);
    adapter.set_error(error);
    adapter.set_parked_count(session.sale().parked_count() as i32);
    adapter.set_show_quick_keys(session.sale().show_quick_keys());
}

/// Items on a ticket as a customer counts them: each weighed line is one item.
pub(super) fn item_count(ticket: &till_domain::Ticket) -> i64 {
    ticket
        .lines()
        .iter()
        .map(|l| {
            if l.item.weighed {
                1000
            } else {
                l.quantity.milli()
            }
        })
        .sum::<i64>()
        / 1000
}

/// Basis points as a percentage: 1000 → "10", 1250 → "12.5".
pub(super) fn percent(bp: u32) -> String {
    let text = format!("{}.{:02}", bp / 100, bp % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
