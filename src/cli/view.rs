//! Plain-text views for the terminal: a committed sale laid out like a receipt, aligned by
//! display width so that Chinese names (two columns a character) line up with the amounts.

use till::config::Config;
use till_domain::{Currency, Money, Quantity};
use till_sync::{Attribution, SaleRecord};
use unicode_width::UnicodeWidthStr;

const WIDTH: usize = 48;

/// `left` and `right` on one line of `WIDTH` columns, with `right` flush right.
fn spread(left: &str, right: &str) -> String {
    let gap = WIDTH.saturating_sub(left.width() + right.width()).max(1);
    format!("{left}{}{right}\n", " ".repeat(gap))
}

pub fn render_sale(r: &SaleRecord, config: &Config) -> String {
    let currency: Currency = r.currency.parse().unwrap_or(Currency::CNY);
    let money = |m: i64| Money::new(m, currency).to_string();
    let time = till::receipt::local_time_at(r.created_at_ms, r.utc_offset_s);
    let name = if config.store_name.is_empty() {
        format!("store {}", r.store)
    } else {
        config.store_name.clone()
    };
    let rule = format!("{}\n", "-".repeat(WIDTH));
    let mut out = format!("{name}\n");
    out += &spread(&format!("sale #{} · terminal {}", r.seq, r.terminal), &time);
    out += &format!("cashier {}\n", r.cashier);
    out += &rule;
    for l in &r.lines {
        let qty = Quantity::from_milli(l.qty_milli);
        let unit = if l.weighed { " kg" } else { "" };
        out += &format!("{} {}\n", l.name_zh, l.name_en);
        out += &spread(
            &format!("  {qty}{unit} × {}", money(l.unit_price)),
            &money(l.gross),
        );
        if l.discount > 0 {
            out += &spread("  discount", &money(-l.discount));
        }
    }
    out += &rule;
    out += &spread("subtotal", &money(r.subtotal));
    if r.discount != 0 {
        out += &spread("discount", &money(-r.discount));
    }
    let tax_included = r.total == r.subtotal - r.discount;
    out += &spread(
        if tax_included {
            "tax (included)"
        } else {
            "tax"
        },
        &money(r.tax),
    );
    out += &spread("total", &money(r.total));
    if r.rounding != 0 {
        out += &spread("rounding 抹零", &money(r.rounding));
        out += &spread("to pay", &money(r.payable()));
    }
    for p in &r.payments {
        let label = match &p.reference {
            Some(reference) => format!(
                "{} …{}",
                p.kind,
                &reference[reference.len().saturating_sub(4)..]
            ),
            None => p.kind.clone(),
        };
        out += &spread(&label, &money(p.amount));
    }
    out += &spread("change", &money(r.change));
    out += &rule;
    match &r.attribution {
        Attribution::Member { member_id } => {
            out += &format!("member {member_id}\n");
            out += &format!("points earned +{}\n", till_sync::loyalty::earned(r));
        }
        Attribution::Anonymous { .. } => out += "anonymous sale\n",
    }
    out += &format!("sale id {}\n", r.sale_id);
    out
}

/// A receipt-shaped document (an X or Z report) as plain text at `WIDTH` columns, laid out as
/// the printer would lay it out, so the screen and the paper say the same.
pub fn render_receipt(receipt: &till::receipt::Receipt) -> String {
    use till_drivers::document::{Align, Block, CharWidth, Line, layout};
    let mut document = till::printing::document(receipt);
    // A terminal has no double-width text: what paper prints large is laid out at the full
    // width, so its amounts line up with the rest.
    for block in &mut document.blocks {
        if let Block::Text { style, .. } | Block::Pair { style, .. } = block {
            style.large = false;
        }
    }
    let mut out = String::new();
    for line in layout(&document, WIDTH, CharWidth::Unicode) {
        match line {
            Line::Text { text, align, .. } => {
                let pad = WIDTH.saturating_sub(text.width());
                let indent = match align {
                    Align::Left => 0,
                    Align::Center => pad / 2,
                    Align::Right => pad,
                };
                out += &format!("{}{}\n", " ".repeat(indent), text.trim_end());
            }
            Line::Barcode(code) | Line::Qr(code) => out += &format!("[{code}]\n"),
        }
    }
    out.trim_end().to_string() + "\n"
}
