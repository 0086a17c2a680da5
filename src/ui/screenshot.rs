//! `till screenshot`: every screen in a realistic state, in both languages, at the 7" till
//! size (800×480) and 1024×768, rendered headless with Slint's software renderer to PNG.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use slint::ComponentHandle;

use super::session::Screen;
use super::text::Lang;
use super::{App, AppOptions};
use crate::demo::{DEMO_CASHIER, DEMO_MANAGER, sample_code};

/// The sizes every screen is rendered at.
pub const SIZES: [(u32, u32); 2] = [(800, 480), (1024, 768)];

/// Installs Slint's headless testing platform with the software renderer on this thread.
/// Call once per thread, before any window exists.
pub fn init_headless() -> Result<()> {
    let backend = i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: false,
            threading: true,
            renderer_name: Some("software".into()),
        },
    );
    slint::platform::set_platform(Box::new(backend))
        .map_err(|e| anyhow::anyhow!("cannot set up headless rendering: {e}"))
}

/// Renders every screen into `out`; returns the files written.
pub fn render_all(out: &Path) -> Result<Vec<PathBuf>> {
    init_headless()?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for lang in [Lang::Zh, Lang::En] {
        let dir = tempfile::tempdir()?;
        crate::demo::create_terminal(dir.path(), None)?;
        let app = App::new(dir.path(), AppOptions::default())?;
        super::select_language(lang);
        app.update(|s| s.set_language(lang));
        let tag = match lang {
            Lang::Zh => "zh",
            Lang::En => "en",
        };
        let mut shoot = |name: &str| -> Result<()> {
            // The customer display's pictures are named for it; the rest are the till's.
            let customer = name.contains("customer");
            for (width, height) in SIZES {
                if customer {
                    app.set_customer_size(width, height);
                } else {
                    app.set_size(width, height);
                }
                app.refresh();
                let path = out.join(format!("{name}-{tag}-{width}x{height}.png"));
                let window = if customer {
                    app.customer.window()
                } else {
                    app.window.window()
                };
                save_png(window, &path)?;
                written.push(path);
            }
            Ok(())
        };
        stage(&app, &mut shoot)?;
    }
    Ok(written)
}

/// Walks the till through a realistic shift, taking a picture at each screen.
pub(super) fn stage(app: &Rc<App>, shoot: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    // Login, with the cashier chosen and two digits keyed.
    app.update(|s| s.select_staff(0));
    app.update(|s| s.login_key("1"));
    app.update(|s| s.login_key("2"));
    shoot("01-login")?;
    app.update(|s| s.login_key("clear"));
    for digit in DEMO_CASHIER.2.chars() {
        app.update(|s| s.login_key(&digit.to_string()));
    }
    app.update(|s| s.login_key("enter"));
    wait(app, |s| s.screen == Screen::Sale, "login")?;

    // Two customers park their baskets.
    for basket in [
        &["可口可乐 500ml", "乐事薯片 原味 70g"][..],
        &["农夫山泉 4L"][..],
    ] {
        for name in basket {
            app.scan(&code(name)?);
        }
        app.update(|s| s.park());
    }

    // A dozen lines: water twice, a weighed bag of apples, a discounted line.
    let basket = [
        "农夫山泉 550ml",
        "农夫山泉 550ml",
        "可口可乐 1.25L",
        "康师傅红烧牛肉面 桶装",
        "乐事薯片 黄瓜味 70g",
        "伊利纯牛奶 250ml",
        "奥利奥夹心饼干 小包",
        "德芙丝滑牛奶巧克力 小包",
        "旺仔牛奶 小包",
        "心相印抽纸 标准装",
    ];
    for name in basket {
        app.scan(&code(name)?);
    }
    app.update(|s| s.sale_key("5"));
    app.update(|s| s.discount());
    app.update(|s| s.quick_key(0));
    app.scan(&scale_label("00042", 356));
    app.update(|s| s.scan("6920000000000"));
    shoot("02-sale")?;
    // The refused scan's red flash lasts 400 ms of real time: a fast machine would otherwise
    // catch it on the screens that follow, which refused nothing.
    app.window.global::<super::ShellAdapter>().set_flash(false);
    shoot("09-customer-display")?;
    // Loose apples keyed by PLU: the till asks for the weight.
    app.update(|s| s.toggle_quick_keys());
    for key in ["0", "0", "0", "4", "2", "enter"] {
        app.update(|s| s.sale_key(key));
    }
    shoot("03-quick-keys")?;
    app.update(|s| s.toggle_quick_keys());
    app.update(|s| s.sale_key("1"));
    app.update(|s| s.sale_key("enter"));

    // A 30 % discount is over the cashier's limit: the manager is called.
    app.update(|s| s.sale_key("3"));
    app.update(|s| s.sale_key("0"));
    app.update(|s| s.discount());
    app.update(|s| s.approval_key("9"));
    app.update(|s| s.approval_key("9"));
    shoot("04-approval")?;
    app.update(|s| s.cancel_approval());

    // Payment half done: ￥50 on card, ￥100 cash keyed.
    app.update(|s| s.pay());
    app.update(|s| s.select_kind(1));
    app.update(|s| s.payment_key("5"));
    app.update(|s| s.payment_key("0"));
    app.update(|s| s.payment_key("enter"));
    app.update(|s| s.select_kind(0));
    app.update(|s| s.payment_key("1"));
    app.update(|s| s.payment_key("0"));
    app.update(|s| s.payment_key("0"));
    shoot("05-payment")?;
    app.update(|s| s.payment_key("enter"));
    wait(app, |s| s.screen == Screen::Complete, "commit")?;
    shoot("06-complete")?;
    shoot("10-customer-display-claim")?;

    app.update(|s| s.new_sale());
    app.update(|s| s.show_parked());
    shoot("07-parked")?;
    app.update(|s| s.close_side_screen());

    app.update(|s| s.open_back_office());
    wait(app, |s| s.back_office().today().is_some(), "back office")?;
    // Sync now, on a till not registered with HQ yet: it says so, in full.
    app.update(|s| s.sync_now());
    wait(app, |s| !s.back_office().syncing(), "sync")?;
    shoot("08-back-office")?;

    // A member by phone on the next sale, then a new customer asked to join.
    app.update(|s| s.close_side_screen());
    // A latte and a sticky rice chicken from the quick keys.
    app.update(|s| s.quick_key(1));
    app.update(|s| s.quick_key(7));
    app.update(|s| s.member());
    for digit in "13812345678".chars() {
        app.update(|s| s.sale_key(&digit.to_string()));
    }
    app.update(|s| s.sale_key("enter"));
    wait(app, |s| s.ticket_member().is_some(), "the member by phone")?;
    shoot("11-sale-member")?;
    shoot("12-customer-display-member")?;
    app.update(|s| s.detach_member());
    app.update(|s| s.member());
    for digit in "13500002222".chars() {
        app.update(|s| s.sale_key(&digit.to_string()));
    }
    app.update(|s| s.sale_key("enter"));
    wait(
        app,
        |s| s.sale().member_prompt().is_some(),
        "the consent question",
    )?;
    shoot("13-consent")?;
    app.update(|s| s.answer_member_prompt(false));
    app.update(|s| s.cancel_whole_ticket());
    app.update(|s| s.cancel_whole_ticket());

    // Store operations, by the cashier with the manager's PIN where `[roles]` asks for it,
    // in the shift the demo opened with ¥270.
    // The first sale's receipt scanned: one water of two comes back.
    app.scan("TR1.S001.T01.1");
    wait(app, |s| s.returns().sale().is_some(), "the sale to return")?;
    app.update(|s| s.select_return_line(0));
    app.update(|s| s.return_key("1"));
    app.update(|s| s.return_key("enter"));
    app.update(|s| s.select_return_reason(0));
    shoot("15-return")?;
    app.update(|s| s.refund());
    wait(
        app,
        |s| s.screen == Screen::Paper && !s.paper().printing(),
        "the return",
    )?;
    shoot("16-return-slip")?;

    app.update(|s| s.close_paper());
    app.update(|s| s.cash_movement(till_domain::shift::MovementKind::PaidOut));
    approve(app)?;
    for key in ["1", "0", "0"] {
        app.update(|s| s.cash_key(key));
    }
    app.update(|s| s.select_reason(0));
    shoot("17-paid-out")?;
    app.update(|s| s.confirm_cash());
    wait(app, |s| s.screen == Screen::BackOffice, "the paid out")?;

    app.update(|s| s.open_sales());
    wait(app, |s| !s.sales().loading(), "today's sales")?;
    shoot("18-sales")?;
    app.update(|s| s.close_sales());

    app.update(|s| s.x_report());
    approve_if_asked(app)?;
    wait(app, |s| s.paper().receipt().is_some(), "the X report")?;
    shoot("19-x-report")?;
    app.update(|s| s.close_paper());

    // The blind count comes to ¥169.90: the Z shows the drawer ten fen short.
    app.update(|s| s.close_shift());
    approve(app)?;
    count(
        app,
        &[
            (0, "1"),
            (1, "1"),
            (3, "1"),
            (4, "1"),
            (5, "4"),
            (6, "1"),
            (7, "4"),
        ],
    );
    app.update(|s| s.confirm_count());
    shoot("20-shift-close")?;
    app.update(|s| s.confirm_count());
    wait(
        app,
        |s| s.screen == Screen::Paper && !s.paper().printing(),
        "the Z",
    )?;
    shoot("21-z-report")?;

    // The next shift's float: two ¥100 notes, five ¥10 notes and twenty ¥1 coins.
    app.update(|s| s.close_paper());
    app.update(|s| s.open_shift());
    approve(app)?;
    count(app, &[(0, "2"), (3, "5"), (5, "20")]);
    shoot("14-shift-open")?;
    Ok(())
}

/// Keys a drawer count on the count pad: `(row, how many)`.
fn count(app: &Rc<App>, counts: &[(usize, &str)]) {
    for (row, n) in counts {
        app.update(|s| s.select_count_row(*row));
        for key in n.chars() {
            app.update(|s| s.count_key(&key.to_string()));
        }
    }
}

/// Keys the demo manager's PIN into the approval prompt and waits for the answer.
fn approve(app: &Rc<App>) -> Result<()> {
    if app.session.borrow().approval().is_none() {
        bail!("no approval was asked for");
    }
    approve_if_asked(app)
}

fn approve_if_asked(app: &Rc<App>) -> Result<()> {
    if app.session.borrow().approval().is_none() {
        return Ok(());
    }
    for digit in DEMO_MANAGER.2.chars() {
        app.update(|s| s.approval_key(&digit.to_string()));
    }
    app.update(|s| s.approval_key("enter"));
    wait(app, |s| s.approval().is_none(), "the approval")
}

fn code(name: &str) -> Result<String> {
    sample_code(name).with_context(|| format!("{name} is not in the sample catalog"))
}

/// A scale label (prefix 22: PLU and weight in grams), as the demo's scale prints them.
pub fn scale_label(plu: &str, grams: u32) -> String {
    let body = format!("22{plu}{grams:05}");
    format!("{body}{}", till_domain::gtin::check_digit(body.as_bytes()))
}

fn wait(
    app: &App,
    done: impl Fn(&super::session::Session) -> bool + 'static,
    what: &str,
) -> Result<()> {
    if !app.run_until(Duration::from_secs(20), done) {
        bail!("the {what} step did not finish");
    }
    Ok(())
}

/// Renders a window and writes it as a PNG.
pub fn save_png(window: &slint::Window, path: &Path) -> Result<()> {
    let buffer = window
        .take_snapshot()
        .map_err(|e| anyhow::anyhow!("cannot render the window: {e}"))?;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        buffer.width(),
        buffer.height(),
    );
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(buffer.as_bytes())?;
    writer.finish()?;
    Ok(())
}
