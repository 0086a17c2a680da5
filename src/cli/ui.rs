//! `till ui` and the touchscreen demo: the binary's side of the Slint touchscreen.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use slint::ComponentHandle;
use till::ui::{App, AppOptions};

use super::open;

/// Whether a window can open here: an X11 or Wayland display is set.
pub fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// How `till ui` opens its window; each overrides `[ui]` in `config.toml`.
#[derive(clap::Args, Debug, Default)]
pub struct WindowArgs {
    /// Full screen, for a kiosk (`[ui] fullscreen`).
    #[arg(long)]
    pub fullscreen: bool,
    /// The window's size, e.g. 800x480 for a 7" screen (`[ui] size`).
    #[arg(long, value_name = "WxH")]
    pub size: Option<till::config::WindowSize>,
}

impl WindowArgs {
    fn placement(&self, config: &till::config::Config) -> till::ui::kiosk::Placement {
        till::ui::kiosk::Placement {
            fullscreen: self.fullscreen || config.ui.fullscreen,
            size: self.size.or(config.ui.size),
        }
    }
}

/// Runs the touchscreen on this terminal until its window closes.
pub fn exec(data_dir: &Path, window: WindowArgs) -> Result<ExitCode> {
    let (config, _) = open(data_dir)?;
    if !has_display() {
        bail!("no display: set DISPLAY (X11) or WAYLAND_DISPLAY, or use `till run` in a terminal");
    }
    wait_for_display()?;
    let app = App::new(
        data_dir,
        AppOptions {
            printing: true,
            background_sync: true,
            sound: true,
        },
    )?;
    let _scanners = till::ui::attach_scanners(&config)?;
    open_window(&app, window.placement(&config))?;
    app.show_customer_display()?;
    close_with_the_till(&app);
    app.window.run().context("the touchscreen stopped")?;
    Ok(ExitCode::SUCCESS)
}

/// Waits for the X server to take connections, as at boot, or says why not.
fn wait_for_display() -> Result<()> {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    till::ui::kiosk::wait_for_display(std::time::Duration::from_secs(15)).map_err(|error| {
        anyhow::anyhow!("the display {display} took no connection in 15 s: {error}")
    })
}

/// Shows the till's window as placed, and has it take the keyboard focus.
fn open_window(app: &std::rc::Rc<App>, placement: till::ui::kiosk::Placement) -> Result<()> {
    till::ui::kiosk::place(app, placement);
    app.window.show().context("cannot open the till's window")?;
    till::ui::kiosk::claim_focus(app, placement);
    Ok(())
}

/// The touchscreen demo: a fresh terminal with the sample catalog, a virtual printer on TCP
/// and a virtual scanner on a pseudo-terminal, which the terminal's stdin types into.
pub fn demo(data_dir: PathBuf, window: &WindowArgs) -> Result<ExitCode> {
    let receipts = data_dir.join("receipts");
    let printer = till_drivers::virtual_printer::VirtualPrinter::spawn("127.0.0.1:0", &receipts)
        .context("cannot start the virtual printer")?;
    let scanner = till_drivers::virtual_scanner::VirtualScanner::new(9600)
        .context("cannot create the virtual scanner")?;
    till::demo::create_terminal(&data_dir, Some(format!("tcp:{}", printer.address)))?;
    let config_path = data_dir.join(till::config::CONFIG_FILE);
    let mut config = till::config::Config::load(&config_path)?;
    config.ui.customer_display = till::config::CustomerDisplay::Window;
    config.scanners.push(till::config::ScannerSection::new(
        "virtual",
        &scanner.path.to_string_lossy(),
    ));
    std::fs::write(&config_path, config.to_toml())?;

    let (cashier, manager) = (till::demo::DEMO_CASHIER, till::demo::DEMO_MANAGER);
    println!("Till demo in {}", data_dir.display());
    println!(
        "  log in as {} with PIN {}, or the manager {} with PIN {}",
        cashier.1, cashier.2, manager.1, manager.2
    );
    println!(
        "  virtual printer on {}; receipts are decoded into {}",
        printer.address,
        receipts.display()
    );
    println!(
        "  virtual scanner at {}: type a barcode here and press Enter to scan it",
        scanner.path.display()
    );
    println!("  try: {}", till::demo::sample_scans().join("  "));
    println!("  members: phone 13812345678 or card 8800010086 (王小明)");

    wait_for_display()?;
    let app = App::new(
        &data_dir,
        AppOptions {
            printing: true,
            background_sync: false,
            sound: true,
        },
    )?;
    let _scanners = till::ui::attach_scanners(&config)?;
    open_window(&app, window.placement(&config))?;
    app.show_customer_display()?;
    close_with_the_till(&app);
    // This terminal's lines go out through the virtual scanner, as a real scanner would send them.
    let mut scanner = scanner;
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let code = line.trim();
            if !code.is_empty() {
                let _ = scanner.scan(code, till_drivers::scanner::Framing::Cr);
            }
        }
    });
    app.window.run().context("the touchscreen stopped")?;
    drop(printer);
    Ok(ExitCode::SUCCESS)
}

/// Closing the till's window ends the program, even with the customer display still open.
fn close_with_the_till(app: &App) {
    app.window.window().on_close_requested(|| {
        let _ = slint::quit_event_loop();
        slint::CloseRequestResponse::HideWindow
    });
}
