//! The customer display's adapter: the last lines, the total, and a greeting for the member,
//! or the QR code to join (before the sale) and to claim it (after).

use slint::{ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, VecModel};
use till_sync::Attribution;

use super::session::{Screen, Session, member_title};
use super::{CustomerAdapter, CustomerLine, CustomerWindow};

/// Lines the customer display shows, newest last.
const LINES_SHOWN: usize = 8;

/// A QR code as an image: black modules on white, a 4-module quiet zone, `scale` px each.
pub fn qr_image(data: &str, scale: usize) -> Option<Image> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let size = (modules + 8) * scale;
    let side = u32::try_from(size).ok()?;
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(side, side);
    let pixels = buffer.make_mut_slice();
    for (i, pixel) in pixels.iter_mut().enumerate() {
        let (x, y) = (i % size / scale, i / size / scale);
        let dark = x >= 4
            && y >= 4
            && x - 4 < modules
            && y - 4 < modules
            && colors[(y - 4) * modules + (x - 4)] == qrcode::Color::Dark;
        let value = if dark { 0 } else { 255 };
        *pixel = Rgb8Pixel::new(value, value, value);
    }
    Some(Image::from_rgb8(buffer))
}

thread_local! {
    /// What the display last showed: a wedge scan's keys change none of it, so they skip it.
    static SHOWN: std::cell::RefCell<Option<Shown>> = const { std::cell::RefCell::new(None) };
}

#[derive(PartialEq)]
struct Shown {
    ticket: till_domain::Ticket,
    member: Option<String>,
    screen: Screen,
    lang: super::text::Lang,
    last_sale: Option<u64>,
}

/// A new window shows nothing yet.
pub(super) fn forget_shown() {
    SHOWN.with(|shown| shown.borrow_mut().take());
}

pub(super) fn show(window: &CustomerWindow, session: &Session, join_url: &str) {
    let adapter = window.global::<CustomerAdapter>();
    let lang = session.lang;
    let now = Shown {
        ticket: session.checkout().ticket().clone(),
        member: session.ticket_member().map(|m| m.member_id.clone()),
        screen: session.screen,
        lang,
        last_sale: session.last_sale.as_ref().map(|s| s.seq),
    };
    let unchanged = SHOWN.with(|shown| {
        let mut shown = shown.borrow_mut();
        let same = shown.as_ref() == Some(&now);
        *shown = Some(now);
        same
    });
    if unchanged {
        return;
    }
    adapter.set_store_name(session.store_name.clone().into());
    let (lines, total, items) = if session.screen == Screen::Complete {
        let Some(sale) = &session.last_sale else {
            return;
        };
        let lines = sale
            .lines
            .iter()
            .map(|l| CustomerLine {
                name: super::sale::name(lang, &l.name_zh, &l.name_en).into(),
                detail: format!(
                    "{} × {}",
                    lang.quantity(till_domain::Quantity::from_milli(l.qty_milli), l.weighed),
                    session.money(l.unit_price)
                )
                .into(),
                total: session.money(l.total).into(),
            })
            .collect::<Vec<_>>();
        let items = sale
            .lines
            .iter()
            .map(|l| if l.weighed { 1000 } else { l.qty_milli })
            .sum::<i64>()
            / 1000;
        (lines, sale.total + sale.rounding, items)
    } else {
        let ticket = session.checkout().ticket();
        let totals = ticket.totals();
        let lines = ticket
            .lines()
            .iter()
            .zip(&totals.lines)
            .map(|(line, t)| CustomerLine {
                name: super::sale::name(lang, &line.item.name_zh, &line.item.name_en).into(),
                detail: format!(
                    "{} × {}",
                    lang.quantity(line.quantity, line.item.weighed),
                    session.money(line.unit_price)
                )
                .into(),
                total: session.money(t.total).into(),
            })
            .collect::<Vec<_>>();
        (lines, totals.total, super::sale::item_count(ticket))
    };
    let shown: Vec<CustomerLine> = lines[lines.len().saturating_sub(LINES_SHOWN)..].to_vec();
    adapter.set_lines(ModelRc::new(VecModel::from(shown)));
    adapter.set_item_count(
        lang.pick(
            &format!("{items} 件商品  合计"),
            &format!("{items} items  total"),
        )
        .into(),
    );
    adapter.set_total(session.money(total).into());

    // Who the sale is for: a member's greeting, or the way to join.
    let claim = match (&session.screen, &session.last_sale) {
        (Screen::Complete, Some(sale)) => match &sale.attribution {
            Attribution::Anonymous {
                claim_token: Some(token),
            } => Some(till_sync::member::claim_url(
                &session.member_settings.public_url,
                token,
            )),
            _ => None,
        },
        _ => None,
    };
    let member = if session.screen == Screen::Complete {
        None
    } else {
        session.ticket_member()
    };
    if let Some(member) = member {
        adapter.set_headline(
            lang.pick(
                &format!("{}，您好！", member_title(member)),
                &format!("Hello, {}!", member_title(member)),
            )
            .into(),
        );
        adapter.set_greeting(
            lang.pick(
                &format!("本单积分 +{}", session.points_this_sale()),
                &format!("This sale earns {} points", session.points_this_sale()),
            )
            .into(),
        );
        adapter.set_show_qr(false);
    } else if let Some(url) = claim {
        adapter.set_headline(lang.pick("谢谢惠顾！", "Thank you!").into());
        adapter.set_greeting(
            lang.pick(
                "现在入会，本单积分照样到账",
                "Join now and this sale's points are yours",
            )
            .into(),
        );
        set_qr(
            &adapter,
            &url,
            lang.pick("扫码入会，领取本单积分", "Scan to join and claim this sale"),
        );
    } else {
        adapter.set_headline(lang.pick("欢迎光临", "Welcome").into());
        adapter.set_greeting(
            lang.pick("会员请出示会员码", "Members: show your member code")
                .into(),
        );
        set_qr(
            &adapter,
            join_url,
            lang.pick("扫码入会，积分到账", "Scan to join and collect points"),
        );
    }
}

fn set_qr(adapter: &CustomerAdapter<'_>, url: &str, caption: String) {
    // Render a QR image only when what it encodes changes, not on every refresh.
    if adapter.get_qr_payload().as_str() != url
        && let Some(image) = qr_image(url, 6)
    {
        adapter.set_qr(image);
    }
    adapter.set_qr_payload(url.into());
    adapter.set_qr_caption(caption.into());
    adapter.set_show_qr(true);
}
