//! The store-operation screens' adapters: the drawer count, the report and slip view, paid
//! in/out and no sale, returns, and the sales list. Each `show_*` copies its controller's
//! state into its adapter; the controllers are in `session::ops` and `session::returns`.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::session::{CountPurpose, Screen, Session};
use super::{
    App, AppWindow, CashAdapter, CountAdapter, CountRow, PaperAdapter, PaperKind, PaperRow,
    ReturnRow, ReturnsAdapter, SaleRow, SalesAdapter, on0, on1, row,
};
use crate::receipt::{Receipt, ReceiptLine};
use till_domain::Quantity;
use till_domain::shift::MovementKind;

pub(super) fn connect(app: &Rc<App>) {
    let count = app.window.global::<CountAdapter>();
    count.on_select(on1(app, |s, i| s.select_count_row(row(i))));
    count.on_keypad(on1(app, |s, key: SharedString| s.count_key(&key)));
    count.on_confirm(on0(app, |s| s.confirm_count()));
    count.on_cancel(on0(app, |s| s.cancel_operation()));

    let paper = app.window.global::<PaperAdapter>();
    paper.on_print(on0(app, |s| s.print_paper()));
    paper.on_close(on0(app, |s| s.close_paper()));

    let cash = app.window.global::<CashAdapter>();
    cash.on_keypad(on1(app, |s, key: SharedString| s.cash_key(&key)));
    cash.on_reason_tapped(on1(app, |s, i| s.select_reason(row(i))));
    cash.on_confirm(on0(app, |s| s.confirm_cash()));
    cash.on_cancel(on0(app, |s| s.cancel_operation()));

    let returns = app.window.global::<ReturnsAdapter>();
    returns.on_select(on1(app, |s, i| s.select_return_line(row(i))));
    returns.on_keypad(on1(app, |s, key: SharedString| s.return_key(&key)));
    returns.on_all(on0(app, |s| s.return_all()));
    returns.on_reason_tapped(on1(app, |s, i| s.select_return_reason(row(i))));
    returns.on_refund(on0(app, |s| s.refund()));
    returns.on_close(on0(app, |s| s.close_returns()));

    let sales = app.window.global::<SalesAdapter>();
    sales.on_select(on1(app, |s, i| s.select_sale(row(i))));
    sales.on_keypad(on1(app, |s, key: SharedString| s.sales_key(&key)));
    sales.on_reprint(on0(app, |s| s.reprint_selected()));
    sales.on_return_sale(on0(app, |s| s.return_selected()));
    sales.on_close(on0(app, |s| s.close_sales()));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    match session.screen {
        Screen::Count => show_count(window, session),
        Screen::Paper => show_paper(window, session),
        Screen::Cash => show_cash(window, session),
        Screen::Returns => show_returns(window, session),
        Screen::Sales => show_sales(window, session),
        _ => {}
    }
}

fn show_count(window: &AppWindow, session: &Session) {
    let adapter = window.global::<CountAdapter>();
    let lang = session.lang;
    let count = session.count();
    let (title, hint, confirm) = match count.purpose() {
        CountPurpose::OpenShift => (
            lang.pick("开班：清点备用金", "Open shift: count the float"),
            lang.pick(
                "点一种面额，输入张数或枚数；按 ↵ 到下一项",
                "tap a note or coin, key how many; ↵ moves to the next",
            ),
            lang.pick("开班", "Open shift"),
        ),
        CountPurpose::CloseShift => (
            lang.pick("交班：盲点钱箱", "Close shift: blind count"),
            lang.pick(
                "清点钱箱里的全部现金；应有金额在 Z 报表上显示",
                "count all the cash in the drawer; what it should hold shows on the Z",
            ),
            if count.confirming() {
                lang.pick("确认交班", "Confirm close")
            } else {
                lang.pick("交班", "Close shift")
            },
        ),
    };
    adapter.set_title(title.into());
    adapter.set_hint(hint.into());
    adapter.set_confirm_text(confirm.into());
    adapter.set_confirming(count.confirming());
    adapter.set_busy(count.busy());
    let rows: Vec<CountRow> = count
        .rows()
        .enumerate()
        .map(|(i, (value, typed))| CountRow {
            index: i as i32,
            label: note_label(&session.money(value)).into(),
            count: typed.into(),
            amount: session
                .money(value * typed.parse::<i64>().unwrap_or(0))
                .into(),
            selected: i == count.selected(),
        })
        .collect();
    let half = rows.len().div_ceil(2);
    let (left, right) = rows.split_at(half);
    keep_or_set(adapter.get_left(), left.to_vec(), |m| adapter.set_left(m));
    keep_or_set(adapter.get_right(), right.to_vec(), |m| {
        adapter.set_right(m)
    });
    adapter.set_total(session.money(count.total()).into());
    let (text, error) = super::sale::message(count.message());
    adapter.set_message(text);
    adapter.set_error(error);
}

/// Sets a list's model only when its rows changed. The adapters are refreshed after every
/// action and every second: a new model would rebuild the list's controls each time, so a
/// finger pressed on one across a refresh would lose its tap, and a scrolled list would jump.
pub(super) fn keep_or_set<T: Clone + PartialEq + 'static>(
    current: ModelRc<T>,
    rows: Vec<T>,
    set: impl FnOnce(ModelRc<T>),
) {
    use slint::Model;
    let same = current.row_count() == rows.len()
        && current.iter().zip(&rows).all(|(shown, row)| shown == *row);
    if !same {
        set(ModelRc::new(VecModel::from(rows)));
    }
}

/// A note or coin as it is written on it: "¥100", "¥0.50".
fn note_label(money: &str) -> String {
    money.strip_suffix(".00").unwrap_or(money).to_string()
}

/// A report or slip's lines as the screen lays them out: the same lines the printer prints.
pub fn paper_rows(receipt: &Receipt) -> Vec<PaperRow> {
    let row = |kind, left: &str, right: &str| PaperRow {
        kind,
        left: left.into(),
        right: right.into(),
    };
    let mut rows = Vec::new();
    for line in &receipt.lines {
        match line {
            ReceiptLine::Title(t) => rows.push(row(PaperKind::Title, t, "")),
            ReceiptLine::Centered(t) => rows.push(row(PaperKind::Centered, t, "")),
            ReceiptLine::CopyMark(t) => rows.push(row(PaperKind::Mark, t, "")),
            ReceiptLine::Rule => rows.push(row(PaperKind::Rule, "", "")),
            ReceiptLine::Item {
                name,
                detail,
                amount,
            } => {
                rows.push(row(PaperKind::Text, name, ""));
                rows.push(row(PaperKind::Pair, &format!("  {detail}"), amount));
            }
            ReceiptLine::Pair { label, amount } => rows.push(row(PaperKind::Pair, label, amount)),
            ReceiptLine::Total { label, amount } => rows.push(row(PaperKind::Total, label, amount)),
            ReceiptLine::Barcode(code) => rows.push(row(PaperKind::Centered, code, "")),
            ReceiptLine::Qr { caption, .. } => rows.push(row(PaperKind::Centered, caption, "")),
            ReceiptLine::Text(t) => rows.push(row(PaperKind::Text, t, "")),
        }
    }
    rows
}

fn show_paper(window: &AppWindow, session: &Session) {
    let adapter = window.global::<PaperAdapter>();
    let paper = session.paper();
    adapter.set_title(paper.title().into());
    adapter.set_note(paper.note().into());
    adapter.set_loading(paper.receipt().is_none() && paper.message().is_none());
    adapter.set_printing(paper.printing());
    let rows = paper.receipt().map(paper_rows).unwrap_or_default();
    keep_or_set(adapter.get_rows(), rows, |m| adapter.set_rows(m));
    let (text, error) = super::sale::message(paper.message());
    adapter.set_message(text);
    adapter.set_error(error);
}

fn show_cash(window: &AppWindow, session: &Session) {
    let adapter = window.global::<CashAdapter>();
    let lang = session.lang;
    let cash = session.cash();
    let (title, confirm) = match cash.kind() {
        MovementKind::PaidIn => (
            lang.pick("存入现金", "Paid in"),
            lang.pick("存入并打开钱箱", "Pay in and open the drawer"),
        ),
        MovementKind::PaidOut => (
            lang.pick("取出现金", "Paid out"),
            lang.pick("取出并打开钱箱", "Pay out and open the drawer"),
        ),
        MovementKind::NoSale => (
            lang.pick("无销售开箱", "No sale"),
            lang.pick("打开钱箱", "Open the drawer"),
        ),
    };
    adapter.set_title(title.into());
    adapter.set_confirm_text(confirm.into());
    adapter.set_has_amount(cash.kind() != MovementKind::NoSale);
    adapter.set_amount(cash.amount().into());
    let reasons: Vec<SharedString> = session
        .cash_reasons()
        .iter()
        .map(|r| r.as_str().into())
        .collect();
    keep_or_set(adapter.get_reasons(), reasons, |m| adapter.set_reasons(m));
    adapter.set_reason(cash.reason().map_or(-1, |i| i as i32));
    adapter.set_busy(cash.busy());
    let (text, error) = super::sale::message(cash.message());
    adapter.set_message(text);
    adapter.set_error(error);
}

fn show_returns(window: &AppWindow, session: &Session) {
    let adapter = window.global::<ReturnsAdapter>();
    let lang = session.lang;
    let returns = session.returns();
    let sale = returns.sale();
    adapter.set_found(sale.is_some());
    adapter.set_sale(
        sale.map(|sale| {
            let when = crate::reports::local_time(sale.created_at_ms);
            let who = match &sale.attribution {
                till_sync::Attribution::Member { member_id } => {
                    lang.pick(&format!("会员 {member_id}"), &format!("member {member_id}"))
                }
                till_sync::Attribution::Anonymous { .. } => lang.pick("非会员", "no member"),
            };
            let total = session.money(sale.total + sale.rounding);
            lang.pick(
                &format!("单号 {} · {when} · {total} · {who}", sale.seq),
                &format!("sale #{} · {when} · {total} · {who}", sale.seq),
            )
        })
        .unwrap_or_default()
        .into(),
    );
    let rows: Vec<ReturnRow> = returns
        .lines()
        .enumerate()
        .map(|(i, (line, pick))| {
            let qty = |milli| lang.quantity(Quantity::from_milli(milli), line.weighed);
            let name = match lang {
                super::text::Lang::Zh => &line.name_zh,
                super::text::Lang::En if !line.name_en.is_empty() => &line.name_en,
                super::text::Lang::En => &line.name_zh,
            };
            ReturnRow {
                name: format!("{}. {name}", line.line_no).into(),
                detail: lang
                    .pick(
                        &format!(
                            "售出 {} · 可退 {} · {}",
                            qty(line.sold_milli),
                            qty(line.left_milli),
                            session.money(line.total)
                        ),
                        &format!(
                            "sold {} · left {} · {}",
                            qty(line.sold_milli),
                            qty(line.left_milli),
                            session.money(line.total)
                        ),
                    )
                    .into(),
                pick: if pick > 0 {
                    format!("-{}", qty(pick)).into()
                } else {
                    SharedString::default()
                },
                amount: if pick > 0 {
                    session.money(returns.line_refund(i)).into()
                } else {
                    SharedString::default()
                },
                selected: returns.selected() == Some(i),
                done: line.left_milli == 0,
            }
        })
        .collect();
    keep_or_set(adapter.get_lines(), rows, |m| adapter.set_lines(m));
    let reasons: Vec<SharedString> = session
        .ops
        .return_reasons
        .iter()
        .map(|r| r.as_str().into())
        .collect();
    keep_or_set(adapter.get_reasons(), reasons, |m| adapter.set_reasons(m));
    adapter.set_reason(returns.reason().map_or(-1, |i| i as i32));
    adapter.set_entry(returns.entry().into());
    adapter.set_entry_caption(
        if sale.is_some() {
            lang.pick("退货数量", "Quantity")
        } else {
            lang.pick("单号", "Sale number")
        }
        .into(),
    );
    adapter.set_refund_total(session.money(returns.refund()).into());
    adapter.set_busy(returns.busy() || returns.loading());
    adapter.set_hint(
        if returns.loading() {
            lang.pick("读取中…", "loading…")
        } else if sale.is_some() {
            lang.pick(
                "点商品行退全部剩余；输入数量后按 ↵ 改数量",
                "tap a line to take back all that is left; key a quantity and ↵ to change it",
            )
        } else {
            String::new()
        }
        .into(),
    );
    let (text, error) = super::sale::message(returns.message());
    adapter.set_message(text);
    adapter.set_error(error);
}

fn show_sales(window: &AppWindow, session: &Session) {
    let adapter = window.global::<SalesAdapter>();
    let lang = session.lang;
    let sales = session.sales();
    adapter.set_title(
        match sales.searched() {
            Some(seq) => lang.pick(&format!("单号 {seq}"), &format!("Sale #{seq}")),
            None => lang.pick("今日销售", "Today's sales"),
        }
        .into(),
    );
    let rows: Vec<SaleRow> = sales
        .rows()
        .iter()
        .enumerate()
        .map(|(i, sale)| {
            let time = crate::receipt::local_time_at(sale.created_at_ms, sale.utc_offset_s);
            let cashier = session
                .staff
                .iter()
                .find(|m| m.id == sale.cashier)
                .map_or(sale.cashier.as_str(), |m| m.name.as_str());
            let member = match &sale.member_id {
                Some(id) => lang.pick(&format!(" · 会员 {id}"), &format!(" · member {id}")),
                None => String::new(),
            };
            let returned = if sale.refunded > 0 {
                let refunded = session.money(sale.refunded);
                lang.pick(
                    &format!(" · 已退 {refunded}"),
                    &format!(" · returned {refunded}"),
                )
            } else {
                String::new()
            };
            SaleRow {
                title: format!("#{}  {time}", sale.seq).into(),
                detail: lang
                    .pick(
                        &format!(
                            "{} 行 · 收银员 {cashier}{member}{returned}",
                            sale.line_count
                        ),
                        &format!(
                            "{} · cashier {cashier}{member}{returned}",
                            match sale.line_count {
                                1 => "1 line".to_string(),
                                n => format!("{n} lines"),
                            }
                        ),
                    )
                    .into(),
                total: session.money(sale.payable).into(),
                selected: sales.selected() == Some(i),
            }
        })
        .collect();
    let empty = rows.is_empty();
    keep_or_set(adapter.get_rows(), rows, |m| adapter.set_rows(m));
    adapter.set_search(sales.search().into());
    adapter.set_loading(sales.loading());
    adapter.set_hint(
        if empty && sales.searched().is_none() {
            lang.pick("今天还没有销售", "no sales yet today")
        } else {
            lang.pick(
                "点一笔销售，再按“重打”或“退货”；扫小票条码或输入单号查找",
                "tap a sale, then Reprint or Return; scan a receipt or key its number to find it",
            )
        }
        .into(),
    );
    let (text, error) = super::sale::message(sales.message());
    adapter.set_message(text);
    adapter.set_error(error);
}
