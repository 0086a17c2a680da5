//! `till run`: the till in a terminal, until the touchscreen arrives. Serial scanners and
//! typed lines (a keyboard-wedge scanner types too) feed one checkout; receipts print through
//! the durable queue on its own thread; device trouble is reported as it happens.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use till::checkout::members::now_step;
use till::checkout::{Checkout, CheckoutSettings, PhoneLookup, ScanContext, ScanOutcome};
use till::config::DATABASE_FILE;
use till::printing::{PrintWorker, PrinterState, ReceiptPrinter};
use till_domain::{LineId, Money, Quantity, Tender, TenderKind};
use till_drivers::printer::DrawerPulse;
use till_drivers::scanner::{ScannerEvent, spawn};
use till_sync::Attribution;

enum Input {
    Line(String),
    Scanner(ScannerEvent),
    /// A line from the sync thread about how syncing went.
    Sync(String),
    Closed,
}

const HELP: &str = "scan or type a code (a member's QR code or card attaches them); commands: pay KIND AMOUNT [REF] (cash, card, wechat_pay, alipay, unionpay), \
member PHONE, enroll PHONE (the customer consented), member off, qty LINE QUANTITY, void LINE, total, cancel, park, parked, resume ID, reprint SALE, sync, help, quit";

#[derive(Args, Debug)]
pub struct RunArgs {
    #[arg(long, default_value = "cashier")]
    cashier: String,
}

pub fn exec(data_dir: &Path, args: RunArgs) -> Result<ExitCode> {
    let cashier = args.cashier.as_str();
    let (config, store) = super::open(data_dir)?;
    // Every sale names its cashier: on a till with staff, it must be one of them.
    let staff = store.staff()?;
    if !staff.is_empty() && !staff.iter().any(|m| m.id == cashier) {
        let names: Vec<String> = staff
            .iter()
            .map(|m| format!("{} ({})", m.id, m.name))
            .collect();
        anyhow::bail!(
            "{cashier} is not on this till's staff: use --cashier with one of {}",
            names.join(", ")
        );
    }
    let settings = CheckoutSettings::from_config(&config)?;
    let (inputs, events) = channel::<Input>();

    // Scanners report on their own threads; a missing device is reported and retried, and the
    // till sells meanwhile from the keyboard.
    let (scanner_tx, scanner_rx) = channel();
    let mut scanners = Vec::new();
    for section in &config.scanners {
        scanners.push(spawn(section.driver_config()?, scanner_tx.clone())?);
    }
    drop(scanner_tx);
    forward(scanner_rx, inputs.clone(), Input::Scanner);
    let stdin_inputs = inputs.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if stdin_inputs.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = stdin_inputs.send(Input::Closed);
    });

    let printer = match ReceiptPrinter::from_config(&config)? {
        Some(printer) => Some(PrintWorker::spawn(data_dir.join(DATABASE_FILE), printer)?),
        None => None,
    };
    let window = config.nightly_sync_window();
    let sync = spawn_sync(
        data_dir.to_path_buf(),
        settings.clone(),
        window,
        inputs.clone(),
    )?;
    println!(
        "till ready: terminal {} of store {}, cashier {cashier}",
        config.terminal_id, config.store_id
    );
    println!("{HELP}");
    let mut checkout = Checkout::new(store, settings, cashier);
    let mut last_printer = PrinterState::default();
    loop {
        let input = match events.recv_timeout(Duration::from_millis(300)) {
            Ok(input) => Some(input),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Input::Closed),
        };
        match input {
            Some(Input::Scanner(ScannerEvent::Scan { code, .. })) => scan(&mut checkout, &code),
            Some(Input::Scanner(ScannerEvent::Connected { scanner })) => {
                println!("scanner {scanner}: connected")
            }
            Some(Input::Scanner(ScannerEvent::Disconnected { scanner, reason })) => {
                println!("scanner {scanner} disconnected: {reason}; retrying")
            }
            Some(Input::Scanner(ScannerEvent::Discarded { scanner, reason })) => {
                println!("scanner {scanner}: {reason}")
            }
            Some(Input::Sync(message)) => println!("sync: {message}"),
            Some(Input::Line(line)) if line.trim() == "sync" => {
                let _ = sync.send(());
                println!("sync: starting");
            }
            Some(Input::Line(line)) if !command(&mut checkout, line.trim(), printer.as_ref()) => {
                break;
            }
            Some(Input::Line(_)) => {}
            Some(Input::Closed) => break,
            None => {}
        }
        if let Some(worker) = &printer {
            let state = worker.state();
            if state != last_printer {
                match &state.last_error {
                    Some(error) => {
                        println!("printer: {error}; {} receipt(s) queued", state.pending)
                    }
                    None if last_printer.last_error.is_some() => {
                        println!("printer: back, queue printed")
                    }
                    None => {}
                }
                last_printer = state;
            }
        }
    }
    // Give the printer a moment with the last receipt; anything left stays queued on disk.
    if let Some(worker) = &printer {
        for _ in 0..30 {
            std::thread::sleep(Duration::from_millis(100));
            if worker.state().pending == 0 {
                break;
            }
        }
    }
    if !checkout.ticket().is_empty() {
        // As the touchscreen does at a restart: the ticket waits, with its member, for its
        // cashier.
        match checkout.park_with(true, None) {
            Ok(id) => println!("the open ticket was not sold: parked as {id}"),
            Err(error) => println!("the open ticket was not sold, nor parked: {error}"),
        }
    }
    drop(scanners);
    Ok(ExitCode::SUCCESS)
}

/// Reports the background sync thread's results as lines in the terminal.
fn spawn_sync(
    data_dir: std::path::PathBuf,
    settings: CheckoutSettings,
    window: till_domain::SyncWindow,
    report: Sender<Input>,
) -> Result<Sender<()>> {
    Ok(till::sync::spawn_background(
        data_dir,
        settings,
        window,
        move |event| {
            let message = match event {
                till::sync::SyncEvent::Synced(Ok(r)) => {
                    let catalog = r.catalog_version.map_or(String::new(), |v| {
                        format!(
                            "; catalog version {v}, {} products changed",
                            r.products_changed
                        )
                    });
                    let members = if r.enrollments + r.members_changed > 0 {
                        format!(
                            "; {} enrollment(s) filed, {} member(s) updated",
                            r.enrollments, r.members_changed
                        )
                    } else {
                        String::new()
                    };
                    let rule = r.loyalty_rule.map_or(String::new(), |rule| {
                        format!(
                            "; loyalty rule {}: {} point(s) per yuan on new tickets",
                            rule.version, rule.points_per_yuan
                        )
                    });
                    format!(
                        "{} accepted, {} already at HQ, {} refused; {} pending{catalog}{members}{rule}",
                        r.accepted,
                        r.duplicates,
                        r.rejected.len(),
                        r.pending
                    )
                }
                till::sync::SyncEvent::Synced(Err(e)) => format!("failed: {e}"),
                till::sync::SyncEvent::CheckpointFailed(e) => format!("checkpoint failed: {e}"),
            };
            report.send(Input::Sync(message)).is_ok()
        },
    )?)
}

fn forward<T: Send + 'static>(
    from: std::sync::mpsc::Receiver<T>,
    to: Sender<Input>,
    wrap: fn(T) -> Input,
) {
    std::thread::spawn(move || {
        for item in from {
            if to.send(wrap(item)).is_err() {
                return;
            }
        }
    });
}

fn money(checkout: &Checkout, minor: i64) -> String {
    Money::new(minor, checkout.ticket().currency()).to_string()
}

fn scan(checkout: &mut Checkout, code: &str) {
    let context = if checkout.ticket().tenders().is_empty() {
        ScanContext::Sale
    } else {
        ScanContext::Payment
    };
    match checkout.scan(code, context) {
        Ok(ScanOutcome::Added(id)) => show_line(checkout, id),
        Ok(ScanOutcome::PaymentReference(code)) => {
            println!(
                "{} payment code read; pay with: pay {} AMOUNT {}",
                code.provider,
                provider_kind(&code),
                code.code
            )
        }
        Ok(ScanOutcome::Member(member_code)) => {
            match checkout.attach_code(&member_code, now_step(), false) {
                Ok(member) => attached(member),
                Err(error) => println!("! {code}: {error}"),
            }
        }
        Ok(ScanOutcome::Receipt(code)) => println!(
            "receipt of sale #{}: see `till sales show {}`",
            code.seq, code.seq
        ),
        Err(error) => println!("! {code}: {error}"),
    }
}

fn attached(member: &till::store::Member) {
    println!(
        "member {}{} attached",
        member.member_id,
        member
            .phone_masked
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    );
}

fn provider_kind(code: &till_domain::scan::PaymentCode) -> &'static str {
    match code.provider {
        till_domain::scan::PaymentProvider::WeChatPay => "wechat_pay",
        till_domain::scan::PaymentProvider::Alipay => "alipay",
        till_domain::scan::PaymentProvider::UnionPay => "unionpay",
    }
}

fn show_line(checkout: &Checkout, id: LineId) {
    let ticket = checkout.ticket();
    let Some(index) = ticket.lines().iter().position(|l| l.id == id) else {
        return;
    };
    let line = &ticket.lines()[index];
    let totals = ticket.totals();
    println!(
        "{:>3}  {}  {} × {}  {}    total {}",
        index + 1,
        line.item.name_zh,
        line.quantity,
        money(checkout, line.unit_price),
        money(checkout, totals.lines[index].total),
        money(checkout, totals.total)
    );
}

fn line_id(checkout: &Checkout, number: &str) -> Option<LineId> {
    let n: usize = number.parse().ok()?;
    checkout
        .ticket()
        .lines()
        .get(n.checked_sub(1)?)
        .map(|l| l.id)
}

/// Handles one typed line. Returns false to quit.
fn command(checkout: &mut Checkout, line: &str, printer: Option<&PrintWorker>) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let result: Result<(), String> = match words.as_slice() {
        [] => Ok(()),
        ["quit" | "exit"] => return false,
        ["help"] => {
            println!("{HELP}");
            Ok(())
        }
        ["total"] => {
            let totals = checkout.ticket().totals();
            println!(
                "{} lines, total {}",
                checkout.ticket().lines().len(),
                money(checkout, totals.total)
            );
            Ok(())
        }
        ["cancel"] => {
            checkout.clear();
            println!("ticket cancelled");
            Ok(())
        }
        ["park"] => checkout
            .park()
            .map(|id| println!("parked as {id}"))
            .map_err(|e| e.to_string()),
        ["parked"] => checkout
            .parked()
            .map(|list| {
                if list.is_empty() {
                    println!("no parked tickets");
                }
                for p in list {
                    println!(
                        "{}: {} lines, {}",
                        p.id,
                        p.line_count,
                        money(checkout, p.total)
                    );
                }
            })
            .map_err(|e| e.to_string()),
        ["resume", id] => match id.parse() {
            Ok(id) => checkout
                .resume(id)
                .map(|_| println!("resumed {id}"))
                .map_err(|e| e.to_string()),
            Err(_) => Err(format!("{id:?} is not a parked ticket number")),
        },
        ["void", n] => match line_id(checkout, n) {
            Some(id) => checkout
                .void_line(id, None)
                .map(|()| println!("line {n} voided"))
                .map_err(|e| e.to_string()),
            None => Err(format!("no line {n}")),
        },
        ["qty", n, q] => match (line_id(checkout, n), Quantity::parse(q)) {
            (Some(id), Some(q)) => checkout
                .set_quantity(id, q)
                .map(|()| show_line(checkout, id))
                .map_err(|e| e.to_string()),
            (None, _) => Err(format!("no line {n}")),
            (_, None) => Err(format!("{q:?} is not a quantity")),
        },
        ["reprint", seq] => match (seq.trim_start_matches('#').parse::<u64>(), printer) {
            (Ok(seq), Some(worker)) => checkout
                .store()
                .sale(seq)
                .and_then(|_| checkout.store().enqueue_receipt(seq, true))
                .map(|_| {
                    worker.notify();
                    println!("reprinting sale #{seq}");
                })
                .map_err(|e| e.to_string()),
            (Ok(_), None) => Err("no printer configured".into()),
            (Err(_), _) => Err(format!("{seq:?} is not a sale number")),
        },
        ["member", "off"] => {
            match checkout.detach_member() {
                Some(m) => println!("member {} detached: the sale is anonymous", m.member_id),
                None => println!("no member on this ticket"),
            }
            Ok(())
        }
        ["member", phone @ ..] if !phone.is_empty() => checkout
            .attach_phone(&phone.concat(), false)
            .map(attached)
            .map_err(|e| e.to_string()),
        ["enroll", phone @ ..] if !phone.is_empty() => {
            let keyed = phone.concat();
            match checkout.find_by_phone(&keyed) {
                Ok(PhoneLookup::Member(member)) => checkout
                    .attach(member, false)
                    .map(attached)
                    .map_err(|e| e.to_string()),
                Ok(PhoneLookup::NotEnrolled(phone)) => checkout
                    .enroll(&phone, jiff::Timestamp::now().as_millisecond(), false)
                    .map(|m| {
                        println!(
                            "new member {} enrolled",
                            m.phone_masked.as_deref().unwrap_or(&m.member_id)
                        )
                    })
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        ["pay", kind, amount, rest @ ..] => {
            pay(checkout, kind, amount, rest.first().copied(), printer)
        }
        [code] => {
            scan(checkout, code);
            Ok(())
        }
        _ => Err(format!("unknown command {line:?}; type help")),
    };
    if let Err(message) = result {
        println!("! {message}");
    }
    // A void or a cancelled ticket goes on record as soon as it is done.
    if let Err(error) = checkout.record_audit() {
        println!("! cannot record it in the audit trail: {error}");
    }
    true
}

fn pay(
    checkout: &mut Checkout,
    kind: &str,
    amount: &str,
    reference: Option<&str>,
    printer: Option<&PrintWorker>,
) -> Result<(), String> {
    let kind = TenderKind::parse(kind).ok_or_else(|| format!("unknown tender {kind:?}"))?;
    let amount = Money::parse(amount, checkout.ticket().currency()).map_err(|e| e.to_string())?;
    let tender = Tender {
        kind,
        amount: amount.minor(),
        reference: reference.map(str::to_string),
    };
    checkout.add_tender(tender).map_err(|e| e.to_string())?;
    let state = checkout.ticket().payment();
    if state.remaining > 0 {
        println!("{} still due", money(checkout, state.remaining));
        return Ok(());
    }
    let drawer = printer.map(|p| p as &dyn till::printing::CashDrawer);
    let (sale, after) = checkout.sell(drawer).map_err(|e| e.to_string())?;
    println!(
        "sale #{} committed{}, total {}, change {}",
        sale.record.seq,
        match &sale.record.attribution {
            Attribution::Member { member_id } => format!(" for member {member_id}"),
            Attribution::Anonymous { .. } => String::new(),
        },
        money(checkout, sale.record.total),
        money(checkout, sale.record.change)
    );
    if let (Attribution::Member { .. }, Some(loyalty)) =
        (&sale.record.attribution, sale.record.loyalty)
    {
        println!("points earned +{}", loyalty.points);
    }
    if let Some(worker) = printer {
        if let Some(Ok(pulse)) = &after.drawer {
            println!(
                "drawer opened{}",
                match pulse {
                    DrawerPulse::RealTime => " (real-time pulse: the printer cannot print)",
                    DrawerPulse::Buffered => "",
                }
            );
        }
        for warning in after.warnings(sale.record.seq) {
            println!("! {warning}");
        }
        worker.notify();
    }
    Ok(())
}
