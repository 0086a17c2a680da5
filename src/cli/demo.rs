//! `till demo`: a terminal of its own with the sample catalog, demo staff, a virtual printer
//! and a virtual scanner; the touchscreen where there is a display, else a scripted sale.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use till::checkout::{Checkout, CheckoutSettings, ScanContext};
use till::config::CONFIG_FILE;
use till_domain::{Tender, TenderKind};

use super::ui::{WindowArgs, has_display};
use super::{open, report_printing};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo's data in this dir (new or empty) instead of a temporary one; a
    /// `--data-dir` does the same.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Run the scripted sale in this terminal even if a display is available.
    #[arg(long)]
    script: bool,
    #[command(flatten)]
    window: WindowArgs,
}

/// Runs the demo in `--keep`, else in `data_dir` (the `--data-dir` given, if any), else in a
/// new temporary dir.
pub fn exec(data_dir: Option<PathBuf>, args: DemoArgs) -> Result<ExitCode> {
    // `--keep DIR` or `--data-dir DIR` keeps the demo there; it sets up a terminal of
    // its own, so it never takes a dir that holds one already.
    let data_dir = args.keep.or(data_dir).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("till-demo-{}", uuid::Uuid::now_v7()))
    });
    if data_dir.join(CONFIG_FILE).exists() {
        bail!(
            "{} already holds a terminal: the demo sets up its own, so give it a new \
             or empty dir",
            data_dir.display()
        );
    }
    if args.script || !has_display() {
        if !args.script {
            println!("no display (DISPLAY is not set): running the scripted demo sale instead");
        }
        scripted(data_dir)
    } else {
        super::ui::demo(data_dir, &args.window)
    }
}

/// The scripted demo: one sale through a real virtual scanner and printer, in this terminal.
fn scripted(data_dir: PathBuf) -> Result<ExitCode> {
    // Real protocol peers: an ESC/POS printer on TCP and a scanner on a pseudo-terminal.
    let receipts = data_dir.join("receipts");
    let printer = till_drivers::virtual_printer::VirtualPrinter::spawn("127.0.0.1:0", &receipts)
        .context("cannot start the virtual printer")?;
    let mut scanner = till_drivers::virtual_scanner::VirtualScanner::new(9600)
        .context("cannot create the virtual scanner")?;
    till::demo::create_terminal(&data_dir, Some(format!("tcp:{}", printer.address)))?;
    println!(
        "virtual printer on {}, virtual scanner at {}",
        printer.address,
        scanner.path.display()
    );
    let (config, store) = open(&data_dir)?;
    let settings = CheckoutSettings::from_config(&config)?;
    println!(
        "imported the sample catalog: {} products",
        store.product_count()?
    );
    if let Some(shift) = store.current_shift()? {
        println!(
            "shift {} open: float {} counted by {}",
            shift.number,
            till_domain::Money::new(shift.opening_float, config.currency),
            shift.opened_by
        );
    }

    let (events_tx, events) = std::sync::mpsc::channel();
    let scanner_config =
        till_drivers::scanner::ScannerConfig::new("demo", &scanner.path.to_string_lossy());
    let _scanner_thread = till_drivers::scanner::spawn(scanner_config, events_tx)?;
    match events.recv_timeout(std::time::Duration::from_secs(5)) {
        Ok(till_drivers::scanner::ScannerEvent::Connected { .. }) => {}
        other => anyhow::bail!("the virtual scanner did not connect: {other:?}"),
    }
    let mut checkout = Checkout::new(store, settings, "demo");
    let basket = till::demo::sample_scans();
    for code in &basket {
        scanner.scan(code, till_drivers::scanner::Framing::Cr)?;
    }
    let mut scanned = 0;
    while scanned < basket.len() {
        match events
            .recv_timeout(std::time::Duration::from_secs(5))
            .context("the scanner went quiet")?
        {
            till_drivers::scanner::ScannerEvent::Scan { code, .. } => {
                checkout.scan(&code, ScanContext::Sale)?;
                println!("scanned {code}");
                scanned += 1;
            }
            till_drivers::scanner::ScannerEvent::Discarded { reason, .. } => {
                println!("scanner: {reason}")
            }
            _ => {}
        }
    }
    let due = checkout.ticket().cash_due();
    let tendered = (due / 5000 + 1) * 5000;
    checkout.add_tender(Tender {
        kind: TenderKind::Cash,
        amount: tendered,
        reference: None,
    })?;
    let receipt_printer = till::printing::ReceiptPrinter::from_config(&config)?;
    let drawer = receipt_printer
        .as_ref()
        .map(|p| p as &dyn till::printing::CashDrawer);
    let (sale, after) = checkout.sell(drawer)?;
    let report = checkout.store().verify_journal()?;
    println!(
        "committed sale #{}; journal ok: {} sale(s), chain head {}",
        sale.record.seq,
        report.sales_checked,
        hex::encode(report.last_hash)
    );
    if let Some(receipt_printer) = &receipt_printer {
        for warning in after.warnings(sale.record.seq) {
            println!("warning: {warning}");
        }
        report_printing(checkout.store(), receipt_printer);
    }
    let printed = receipts.join("receipt-0001.txt");
    for _ in 0..250 {
        if printed.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&printed).context("the virtual printer printed nothing")?;
    println!("\nthe virtual printer decoded {}:\n", printed.display());
    print!("{text}");
    println!("\nthe demo terminal lives in {}; try:", data_dir.display());
    let dir = data_dir.display();
    println!(
        "  till --data-dir {dir} sell {} --pay cash:10",
        till::demo::sample_ean13(5)
    );
    println!("  till --data-dir {dir} sales list");
    println!("  till --data-dir {dir} journal verify");
    println!(
        "  (start its printer again with: till devices virtual-printer --listen {} --out {})",
        printer.address,
        receipts.display()
    );
    Ok(ExitCode::SUCCESS)
}
