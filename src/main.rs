//! The `till` command: set up a terminal, manage its catalog, sell, and check its journal.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use till::catalog::{ImportRules, export_csv, import_csv};
use till::checkout::members::now_step;
use till::checkout::{Checkout, CheckoutSettings, PhoneLookup, ScanContext, ScanOutcome};
use till::config::{CONFIG_FILE, Config, DATABASE_FILE};
use till::domain::{Currency, Money, Quantity, ScanConfig, TaxMode, Tender, TenderKind, classify};
use till::store::Store;

mod bench;
mod devices_cli;
mod member_cli;
mod run_cli;
mod scanner_cli;
mod touch_cli;
mod view;

use view::render_sale;

#[derive(Parser, Debug)]
#[command(
    name = "till",
    version,
    about = "Touchscreen checkout terminal that turns every sale into member data"
)]
struct Cli {
    /// Where the terminal keeps its config and database (default: the per-user data dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create this terminal's config and database.
    Init(InitArgs),
    /// Import, export and look up products.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Show what the scan classifier makes of codes.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Run the till in this terminal: serial scanners and typed codes, payments, receipts.
    Run {
        #[arg(long, default_value = "cashier")]
        cashier: String,
    },
    /// Ring up a sale from the command line: `till sell 6901234567892 3*6901234567892 --pay cash:20`.
    Sell(SellArgs),
    /// List and show committed sales.
    #[command(subcommand)]
    Sales(SalesCommand),
    /// Check the tamper-evident sales journal.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// The touchscreen demo in a temporary data dir: a sample catalog of over 300 products, demo staff,
    /// a virtual printer and a virtual scanner. Without a display it runs a scripted sale.
    Demo {
        /// Keep the demo's data in this dir (new or empty) instead of a temporary one; a
        /// `--data-dir` does the same.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Run the scripted sale in this terminal even if a display is available.
        #[arg(long)]
        script: bool,
        #[command(flatten)]
        window: touch_cli::WindowArgs,
    },
    /// Start the touchscreen.
    Ui(touch_cli::WindowArgs),
    /// Render every screen, in both languages, at 800x480 and 1024x768, to PNG files.
    Screenshot {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Who may log in to the touchscreen.
    #[command(subcommand)]
    Staff(touch_cli::StaffCommand),
    /// Member keys, member codes and members.
    #[command(subcommand)]
    Member(member_cli::MemberCommand),
    /// Register this terminal with HQ, using a one-time code from `till-hq terminal add`.
    Register {
        /// HQ's address, e.g. https://hq.example.com or http://127.0.0.1:8080.
        #[arg(long)]
        hq: String,
        #[arg(long)]
        code: String,
        /// The chain's CA certificate (PEM), if HQ's TLS certificate is from a private CA.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Upload sales to HQ, or show how syncing stands.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Scanners, printers and the virtual devices for demos and tests.
    #[command(subcommand)]
    Devices(devices_cli::DevicesCommand),
    /// Measure the targets in PRODUCT.md against baselines taken in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Test hooks for the crash test; not for people.
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

#[derive(Args, Debug)]
struct InitArgs {
    #[arg(long, value_name = "ID")]
    store_id: String,
    #[arg(long, value_name = "ID")]
    terminal_id: String,
    #[arg(long, default_value = "CNY")]
    currency: String,
    /// inclusive (prices include tax, the China default) or exclusive.
    #[arg(long, default_value = "inclusive")]
    tax_mode: String,
    #[arg(long, default_value = "")]
    store_name: String,
    /// Printed under the store name on receipts.
    #[arg(long, default_value = "")]
    store_address: String,
    #[arg(long, default_value = "")]
    tax_id: String,
    /// The receipt printer: tcp:HOST:PORT, usb:/dev/usb/lp0, serial:/dev/ttyUSB0 or file:PATH.
    #[arg(long)]
    printer: Option<String>,
    /// Printer columns: 32 for 58 mm paper, 48 for 80 mm.
    #[arg(long, default_value_t = 48)]
    columns: usize,
    /// Start over even if this terminal is set up; the old files are kept as a backup.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum CatalogCommand {
    /// Import products from a CSV (see README for the columns).
    Import {
        file: PathBuf,
        /// Import the good rows even if some rows are bad (bad rows are still listed).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Write the catalog as CSV, in the import format.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the product a barcode or internal code leads to.
    Lookup { code: String },
}

#[derive(Subcommand, Debug)]
enum ScanCommand {
    /// One line per code: what the classifier makes of it.
    Classify {
        #[arg(required = true)]
        codes: Vec<String>,
    },
}

#[derive(Args, Debug)]
struct SellArgs {
    /// Codes to scan; `3*CODE` sells three, `0.356*CODE` sells 0.356 kg of a weighed product.
    #[arg(required = true)]
    codes: Vec<String>,
    /// A tender, KIND:AMOUNT[:REFERENCE], e.g. cash:100 or wechat_pay:12.50:134567890123456789.
    #[arg(long = "pay", required = true)]
    tenders: Vec<String>,
    #[arg(long, default_value = "cli")]
    cashier: String,
    /// The member the sale is for, by member ID. A member's QR code or card among the codes
    /// attaches them too; without any, the sale is anonymous.
    #[arg(long)]
    member: Option<String>,
    /// The member's phone number (`13812345678`, `+86 138-1234-5678`).
    #[arg(long)]
    phone: Option<String>,
    /// Enroll the customer with --phone if no member has it: they accepted the configured
    /// consent text.
    #[arg(long, requires = "phone")]
    enroll: bool,
}

#[derive(Subcommand, Debug)]
enum SalesCommand {
    /// The newest sales first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One sale in full.
    Show { seq: u64 },
    /// Print a sale's receipt again, marked COPY.
    Reprint { seq: u64 },
}

#[derive(Subcommand, Debug)]
enum SyncCommand {
    /// Upload every pending sale now.
    Now {
        /// Sales per batch (at most 1 MiB gzipped; a larger batch is halved until it fits).
        #[arg(long, default_value_t = till::sync::DEFAULT_BATCH)]
        batch: u32,
        /// Tries per batch when HQ is unreachable, slow or failing.
        #[arg(long, default_value_t = 5)]
        attempts: u32,
        /// Seconds to wait for HQ's answer to one batch.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Pending sales, last success and last error.
    Status,
}

#[derive(Subcommand, Debug)]
enum JournalCommand {
    /// Walk the hash chain and report the first gap or break.
    Verify,
    /// Write every sale's canonical record, one per line in sequence order, for an auditor or
    /// for `till-hq verify-journal`.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum DebugCommand {
    /// Commit sales in a loop, printing `committed SEQ TOTAL HASH` after each durable commit.
    CommitLoop {
        #[arg(long, default_value_t = u64::MAX)]
        max: u64,
    },
}

fn main() -> ExitCode {
    // `till sales list | head -1` ends quietly, not with a panic; `till sell` already never
    // fails once it has committed.
    till_sync::pipe::run_quietly_on_broken_pipe(till_main)
}

fn till_main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that draw the touchscreen need fontconfig to know a font (see till::fonts).
    if matches!(
        cli.command,
        Command::Ui(_) | Command::Demo { .. } | Command::Screenshot { .. } | Command::Bench(_)
    ) {
        match till::fonts::default_cache_dir()
            .map(|dir| till::fonts::fontconfig_with_bundled_font(&dir))
        {
            Some(Ok(config)) => {
                // SAFETY: no other thread exists yet (nothing has been started but `main`),
                // so nothing reads the environment while it changes.
                #[allow(unsafe_code)]
                unsafe {
                    std::env::set_var("FONTCONFIG_FILE", config);
                }
            }
            Some(Err(error)) => {
                eprintln!(
                    "till: warning: cannot register the bundled font with fontconfig: {error}"
                )
            }
            None => eprintln!("till: warning: no cache directory for the bundled font"),
        }
    }
    match run(cli) {
        Ok(code) => code,
        // A command that writes its output with `?` meets a gone reader as an error.
        Err(error)
            if error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::from(till_sync::pipe::BROKEN_PIPE_STATUS)
        }
        Err(error) => {
            eprintln!("till: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let explicit_dir = cli.data_dir.clone();
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => directories::ProjectDirs::from("org", "till", "till")
            .context("cannot find a per-user data dir; pass --data-dir")?
            .data_dir()
            .to_path_buf(),
    };
    match cli.command {
        Command::Init(args) => init(&data_dir, &args),
        Command::Catalog(cmd) => catalog(&data_dir, cmd),
        Command::Scan(ScanCommand::Classify { codes }) => classify_codes(&data_dir, &codes),
        Command::Sell(args) => sell(&data_dir, &args),
        Command::Run { cashier } => run_cli::run(&data_dir, &cashier),
        Command::Sales(cmd) => sales(&data_dir, cmd),
        Command::Journal(JournalCommand::Verify) => verify(&data_dir),
        Command::Journal(JournalCommand::Export { out }) => export_journal(&data_dir, out),
        Command::Demo {
            keep,
            script,
            window,
        } => {
            // `--keep DIR` or `--data-dir DIR` keeps the demo there; it sets up a terminal of
            // its own, so it never takes a dir that holds one already.
            let data_dir = keep.or(explicit_dir).unwrap_or_else(|| {
                std::env::temp_dir().join(format!("till-demo-{}", uuid::Uuid::now_v7()))
            });
            if data_dir.join(CONFIG_FILE).exists() {
                bail!(
                    "{} already holds a terminal: the demo sets up its own, so give it a new \
                     or empty dir",
                    data_dir.display()
                );
            }
            if script || !touch_cli::has_display() {
                if !script {
                    println!(
                        "no display (DISPLAY is not set): running the scripted demo sale instead"
                    );
                }
                demo(data_dir)
            } else {
                touch_cli::demo(data_dir, &window)
            }
        }
        Command::Ui(window) => touch_cli::ui(&data_dir, &window),
        Command::Screenshot { out } => touch_cli::screenshot(&out),
        Command::Staff(cmd) => touch_cli::staff(&data_dir, cmd),
        Command::Member(cmd) => member_cli::run(&data_dir, cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Devices(cmd) => devices_cli::run(&data_dir, cmd),
        Command::Register { hq, code, ca } => register(&data_dir, &hq, &code, ca.as_deref()),
        Command::Sync(cmd) => sync(&data_dir, cmd),
        Command::Debug(DebugCommand::CommitLoop { max }) => commit_loop(&data_dir, max),
    }
}

/// The terminal's config and database, checked to belong together.
pub(crate) fn open(data_dir: &Path) -> Result<(Config, Store)> {
    let config_path = data_dir.join(CONFIG_FILE);
    if !config_path.exists() {
        bail!(
            "no terminal set up in {}; run `till init` first",
            data_dir.display()
        );
    }
    let mut config = Config::load(&config_path)?;
    if config.member.points_per_yuan.is_some() {
        eprintln!(
            "till: note: [member] points_per_yuan in {} is ignored: HQ publishes the points \
             rule (`till-hq loyalty set`) and the till pulls it when it syncs",
            config_path.display()
        );
    }
    let store = Store::open(&data_dir.join(DATABASE_FILE))?;
    store.check_identity(&config.store_id, &config.terminal_id)?;
    till::sync::apply_registration(&mut config, &store)?;
    Ok((config, store))
}

fn init(data_dir: &Path, args: &InitArgs) -> Result<ExitCode> {
    let currency: Currency = args.currency.parse()?;
    let tax_mode: TaxMode = args.tax_mode.parse().map_err(anyhow::Error::msg)?;
    let mut config = Config::new(&args.store_id, &args.terminal_id, currency, tax_mode);
    config.store_name = args.store_name.clone();
    config.store_address = args.store_address.clone();
    config.tax_id = args.tax_id.clone();
    config.printer = args
        .printer
        .as_ref()
        .map(|address| till::config::PrinterConfig {
            address: address.clone(),
            baud: 9600,
            columns: args.columns,
            encoding: "gb18030".into(),
            language: Default::default(),
        });
    config.validate()?;
    let db = data_dir.join(DATABASE_FILE);
    let config_path = data_dir.join(CONFIG_FILE);
    if db.exists() || config_path.exists() {
        if !args.force {
            bail!(
                "a terminal is already set up in {}; use --force to start over (the old files are kept as a backup)",
                data_dir.display()
            );
        }
        let stamp = jiff::Timestamp::now().as_second();
        for path in [
            &db,
            &db.with_extension("db-wal"),
            &db.with_extension("db-shm"),
            &config_path,
        ] {
            if path.exists() {
                let backup = PathBuf::from(format!("{}.replaced-{stamp}", path.display()));
                std::fs::rename(path, &backup)
                    .with_context(|| format!("cannot move {} aside", path.display()))?;
                println!("kept the old {} as {}", file_name(path), backup.display());
            }
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    Store::create(&db, &config.store_id, &config.terminal_id, currency)?;
    std::fs::write(&config_path, config.to_toml())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    println!(
        "terminal {} of store {} set up in {} ({currency}, prices {tax_mode} of tax)",
        config.terminal_id,
        config.store_id,
        data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn catalog(data_dir: &Path, cmd: CatalogCommand) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    let settings = CheckoutSettings::from_config(&config)?;
    match cmd {
        CatalogCommand::Import { file, skip_invalid } => {
            let input =
                File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = indicatif::ProgressBar::new(size).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let rules = ImportRules::for_terminal(&settings, skip_invalid, size);
            let report = import_csv(
                &mut store,
                BufReader::with_capacity(1 << 16, input),
                &rules,
                |b| bar.set_position(b),
            )?;
            bar.finish_and_clear();
            for bad in &report.rejected {
                eprintln!("line {}: {}", bad.line, bad.reason);
            }
            if !report.committed {
                eprintln!(
                    "nothing imported: {} of {} rows are bad (use --skip-invalid to import the rest)",
                    report.rejected.len(),
                    report.rows
                );
                return Ok(ExitCode::FAILURE);
            }
            const SHOWN: usize = 20;
            for (line, sku, chars) in report.unshowable.iter().take(SHOWN) {
                let chars: String = chars.iter().collect();
                eprintln!(
                    "warning: line {line} (SKU {sku}): the touchscreen's font cannot show {chars}; \
                     they appear blank on a till without a font of its own"
                );
            }
            if report.unshowable.len() > SHOWN {
                eprintln!(
                    "warning: and {} more products whose names the font cannot show",
                    report.unshowable.len() - SHOWN
                );
            }
            println!(
                "imported {} products ({} added, {} updated, {} unchanged){}",
                report.stats.added + report.stats.updated + report.stats.unchanged,
                report.stats.added,
                report.stats.updated,
                report.stats.unchanged,
                if report.rejected.is_empty() {
                    String::new()
                } else {
                    format!("; skipped {} bad rows", report.rejected.len())
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Export { out } => {
            let count = match out {
                Some(path) => {
                    let file = File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let count = export_csv(&store, BufWriter::new(file))?;
                    eprintln!("exported {count} products to {}", path.display());
                    count
                }
                None => export_csv(&store, std::io::stdout().lock())?,
            };
            let _ = count;
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Lookup { code } => {
            let mut checkout = Checkout::new(store, settings, "lookup");
            match checkout.scan(&code, ScanContext::Sale) {
                Ok(_) => {
                    let line = &checkout.ticket().lines()[0];
                    let money = |m| Money::new(m, checkout.ticket().currency());
                    println!("sku        {}", line.item.sku);
                    println!("name       {} / {}", line.item.name_zh, line.item.name_en);
                    println!("price      {}", money(line.unit_price));
                    println!("quantity   {}", line.quantity);
                    println!(
                        "tax        {} ({})",
                        line.item.tax_class, line.item.tax_rate
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{code}: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn classify_codes(data_dir: &Path, codes: &[String]) -> Result<ExitCode> {
    // The classifier needs the catalog only for internal codes, so it also works before init.
    let opened = if data_dir.join(CONFIG_FILE).exists() {
        Some(open(data_dir)?)
    } else {
        None
    };
    let scan_config = opened.as_ref().map_or_else(
        || ScanConfig {
            member_card_prefix: None,
            weighed_layouts: till::domain::weighed::WeighedLayout::defaults(),
        },
        |(c, _)| c.scan_config(),
    );
    // A member code is checked as the till would at this moment, without spending it.
    let checkout = match opened {
        Some((config, store)) => Some(Checkout::new(
            store,
            CheckoutSettings::from_config(&config)?,
            "classify",
        )),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    for code in codes {
        let known = |c: &str| {
            checkout
                .as_ref()
                .is_some_and(|c2| c2.store().is_internal_code(c).unwrap_or(false))
        };
        let shown = if code.len() > 40 {
            format!(
                "{}… ({} bytes)",
                &code[..code.floor_char_boundary(40)],
                code.len()
            )
        } else {
            code.clone()
        };
        let scan = classify(code, &scan_config, &known);
        let verdict = match (&scan, &checkout) {
            (till::domain::Scan::Member(member_code), Some(checkout)) => {
                match checkout.check_member_code(member_code, now_step()) {
                    Ok(member) => format!("{scan}: verifies, member {}", member.member_id),
                    Err(refusal) => format!("{scan}: refused, {refusal}"),
                }
            }
            (till::domain::Scan::Member(_), None) => {
                format!("{scan}: not checked (no terminal set up here)")
            }
            _ => scan.to_string(),
        };
        writeln!(out, "{shown}\t{verdict}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_tender(spec: &str, currency: Currency) -> Result<Tender> {
    let mut parts = spec.splitn(3, ':');
    let kind = parts.next().unwrap_or_default();
    let kind = TenderKind::parse(kind).with_context(|| {
        format!("unknown tender {kind:?}; use cash, card, wechat_pay, alipay or unionpay")
    })?;
    let amount = parts
        .next()
        .with_context(|| format!("tender {spec:?} needs an amount"))?;
    let amount = Money::parse(amount, currency)?;
    Ok(Tender {
        kind,
        amount: amount.minor(),
        reference: parts.next().map(str::to_string),
    })
}

fn sell(data_dir: &Path, args: &SellArgs) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let settings = CheckoutSettings::from_config(&config)?;
    let currency = settings.currency;
    let mut checkout = Checkout::new(store, settings, &args.cashier);
    // Everything is checked before anything is written: a refused sale uses no member code
    // (codes are spent in the sale's own transaction) and enrolls nobody.
    for spec in &args.codes {
        let (quantity, code) = match spec.split_once('*') {
            Some((q, code)) => (
                Some(Quantity::parse(q).with_context(|| format!("{q:?} is not a quantity"))?),
                code,
            ),
            None => (None, spec.as_str()),
        };
        let scanned = checkout.scan_with_quantity(code, ScanContext::Sale, quantity);
        match scanned.map_err(|e| naming(code, e))? {
            ScanOutcome::Added(_) => {}
            ScanOutcome::Member(member_code) => {
                checkout
                    .attach_code(&member_code, now_step(), false)
                    .map_err(|e| naming(code, e))?;
            }
            ScanOutcome::Receipt(receipt) => bail!(
                "{code} is the receipt of sale #{}: a sale sells products",
                receipt.seq
            ),
            ScanOutcome::PaymentReference(_) => {
                unreachable!("payment codes are refused on the sale screen")
            }
        }
    }
    if let Some(member_id) = &args.member {
        let member = checkout
            .store()
            .member(member_id)?
            .with_context(|| format!("no member {member_id} on this till"))?;
        checkout.attach(member, false)?;
    }
    let mut enroll = None;
    if let Some(keyed) = &args.phone {
        match checkout.find_by_phone(keyed)? {
            PhoneLookup::Member(member) => {
                checkout.attach(member, false)?;
            }
            PhoneLookup::NotEnrolled(phone) if args.enroll => {
                if let Some(current) = checkout.member() {
                    bail!(
                        "member {} is already on this sale: --phone {keyed} would be another",
                        current.member_id
                    );
                }
                enroll = Some(phone);
            }
            PhoneLookup::NotEnrolled(phone) => bail!(
                "no member has phone {}: add --enroll if the customer consents to join",
                phone.masked()
            ),
        }
    }
    for spec in &args.tenders {
        let tender = parse_tender(spec, currency)?;
        checkout
            .add_tender(tender)
            .with_context(|| format!("paying {spec}"))?;
    }
    checkout.ticket().ready_to_commit()?;
    // The printer's settings are read before the commit: once the sale is committed, this
    // command reports success whatever else goes wrong, so that no script rings it up twice.
    let printer = till::printing::ReceiptPrinter::from_config(&config)?;
    // Only a sale that will commit enrolls its customer.
    if let Some(phone) = enroll {
        let now = jiff::Timestamp::now().as_millisecond();
        checkout.enroll(&phone, now, false)?;
    }
    let drawer = printer
        .as_ref()
        .map(|p| p as &dyn till::printing::CashDrawer);
    let (committed, after) = checkout.sell(drawer)?;
    let seq = committed.record.seq;
    // A reader that has gone away (`| head`) gets no more lines; the sale stands.
    let _ = write!(
        std::io::stdout(),
        "{}",
        render_sale(&committed.record, &config)
    );
    for warning in after.warnings(seq) {
        let _ = writeln!(std::io::stderr(), "till: warning: {warning}");
    }
    if let (Some(printer), Some(Ok(_))) = (&printer, &after.receipt) {
        devices_cli::report_printing(checkout.store(), printer);
    }
    Ok(ExitCode::SUCCESS)
}

/// An engine refusal about `code`, naming the code once: most refusals name it already.
fn naming(code: &str, error: till::checkout::CheckoutError) -> anyhow::Error {
    let text = error.to_string();
    if text.contains(code) {
        anyhow::Error::msg(text)
    } else {
        anyhow::anyhow!("{code}: {text}")
    }
}

fn sales(data_dir: &Path, cmd: SalesCommand) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    match cmd {
        SalesCommand::List { limit } => {
            let sales = store.recent_sales(limit)?;
            if sales.is_empty() {
                println!("no sales yet");
            }
            for s in sales {
                let when = jiff::Timestamp::from_millisecond(s.created_at_ms)
                    .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                // The member ID, of any length (a provisional one is long), comes last so the
                // columns stay aligned.
                println!(
                    "#{:<6} {when} UTC  {:>3} line{}  {:>12}  {:<10}  {}",
                    s.seq,
                    s.line_count,
                    if s.line_count == 1 { " " } else { "s" },
                    Money::new(s.payable, store.currency()).to_string(),
                    if s.synced { "synced" } else { "not synced" },
                    s.member_id.as_deref().unwrap_or("anonymous"),
                );
            }
        }
        SalesCommand::Show { seq } => print!("{}", render_sale(&store.sale(seq)?, &config)),
        SalesCommand::Reprint { seq } => {
            store.sale(seq)?;
            let printer = till::printing::ReceiptPrinter::from_config(&config)?
                .context("no printer configured; set [printer] address in config.toml")?;
            store.enqueue_receipt(seq, true)?;
            devices_cli::report_printing(&store, &printer);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(data_dir: &Path) -> Result<ExitCode> {
    let (_, store) = open(data_dir)?;
    let report = store.verify_journal()?;
    match report.problem {
        None => {
            println!(
                "journal ok: {} sales, chain head {}",
                report.sales_checked,
                hex::encode(report.last_hash)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!(
                "journal broken: {problem} ({} sales before it verify)",
                report.sales_checked
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn register(data_dir: &Path, hq: &str, code: &str, ca: Option<&Path>) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let ca_pem = ca
        .map(|path| std::fs::read(path).with_context(|| format!("cannot read {}", path.display())))
        .transpose()?;
    // Stored as an absolute path, since later syncs may run from anywhere.
    let ca = ca.map(std::path::absolute).transpose()?;
    // This till's own random value, made once and kept: with it, and only with it, the same
    // code may be used again if HQ's answer is lost (until the till first uses its token).
    let device = match store.setting("hq_device")? {
        Some(device) => device,
        None => {
            let device = format!(
                "{}{}",
                uuid::Uuid::now_v7().simple(),
                uuid::Uuid::now_v7().simple()
            );
            store.set_setting("hq_device", &device)?;
            device
        }
    };
    let request = till_sync::api::RegisterRequest {
        code: code.trim().to_string(),
        device: Some(device),
        store: Some(config.store_id.clone()),
        terminal: Some(config.terminal_id.clone()),
    };
    let registered = till_sync::client::register_as(
        hq,
        &request,
        std::time::Duration::from_secs(30),
        ca_pem.as_deref(),
    )
    .with_context(|| format!("registering with {hq}"))?;
    if registered.store != config.store_id || registered.terminal != config.terminal_id {
        bail!(
            "that code is for terminal {}/{}, but this is terminal {}/{}",
            registered.store,
            registered.terminal,
            config.store_id,
            config.terminal_id
        );
    }
    till::sync::save_registration(
        data_dir,
        &store,
        hq,
        ca.as_deref(),
        &registered.token,
        registered.public_url.as_deref(),
    )?;
    println!(
        "registered terminal {}/{} with {hq}",
        registered.store, registered.terminal
    );
    if let Some(url) = &registered.public_url {
        println!("claim and join QR codes point to {url}");
    } else if config.member.public_url == till::config::MemberSection::default().public_url {
        println!(
            "note: [member] public_url is still {}: the claim QR codes on receipts and the join \
             code on the customer display point there; set it to HQ's public address",
            config.member.public_url
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn sync(data_dir: &Path, cmd: SyncCommand) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    match cmd {
        SyncCommand::Now {
            batch,
            attempts,
            timeout,
        } => {
            let pending = store.outbox_pending()?;
            let settings = CheckoutSettings::from_config(&config)?;
            let timeout = std::time::Duration::from_secs(timeout);
            let sync = |store: &mut Store, wait| {
                till::sync::sync_till(data_dir, store, &settings, timeout, batch, attempts, wait)
            };
            let report = match sync(&mut store, false) {
                Err(till::sync::SyncNowError::AlreadyRunning) => {
                    println!("a sync is already running on this till; waiting for it to finish");
                    sync(&mut store, true)
                }
                other => other,
            }
            .with_context(|| format!("syncing {pending} pending sales"))?;
            println!(
                "synced: {} accepted, {} already at HQ, {} refused, in {} batches; {} pending",
                report.accepted,
                report.duplicates,
                report.rejected.len(),
                report.batches,
                report.pending
            );
            if report.member_keys_added > 0 {
                println!(
                    "{} new member key(s) from HQ; the newest is current",
                    report.member_keys_added
                );
            }
            if report.enrollments > 0 {
                println!(
                    "{} member enrollment(s) filed at HQ, {} joined an existing member",
                    report.enrollments, report.enrollments_merged
                );
            }
            if report.members_changed > 0 {
                println!("{} member(s) updated from HQ", report.members_changed);
            }
            if let Some(version) = report.catalog_version {
                println!(
                    "catalog version {version} from HQ: {} product(s) added or changed",
                    report.products_changed
                );
            }
            if let Some(rule) = report.loyalty_rule {
                println!(
                    "loyalty rule {} from HQ: {} point(s) per yuan on new sales",
                    rule.version, rule.points_per_yuan
                );
            }
            for (seq, reason) in &report.rejected {
                println!("sale #{seq} refused by HQ: {reason}");
            }
            Ok(if report.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        SyncCommand::Status => {
            let hq = store.setting("hq_url")?;
            println!("HQ: {}", hq.as_deref().unwrap_or("not registered"));
            println!("pending sales: {}", store.outbox_pending()?);
            let last = store
                .setting("sync.last_success_ms")?
                .and_then(|ms| ms.parse().ok())
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map_or("never".to_string(), |t| {
                    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
                });
            println!("last success: {last}");
            let version = store.setting("catalog.version")?;
            println!(
                "catalog version from HQ: {}",
                version.as_deref().unwrap_or("none yet")
            );
            let rule = store.loyalty_rule()?;
            println!(
                "loyalty rule: {} ({} point(s) per yuan{})",
                rule.version,
                rule.points_per_yuan,
                if rule.version == 0 {
                    ", built in until HQ publishes one"
                } else {
                    ""
                }
            );
            let error = store.setting("sync.last_error")?.filter(|e| !e.is_empty());
            println!("last error: {}", error.as_deref().unwrap_or("none"));
            for (seq, reason) in store.outbox_rejected()? {
                println!("sale #{seq} refused by HQ: {reason}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn export_journal(data_dir: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let (_, store) = open(data_dir)?;
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let count = store.sales_count()?;
    for seq in 1..=count {
        sink.write_all(&store.sale(seq)?.canonical_bytes())?;
        sink.write_all(b"\n")?;
    }
    sink.flush()?;
    if let Some(path) = out {
        eprintln!("exported {count} sales to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn demo(data_dir: PathBuf) -> Result<ExitCode> {
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
        devices_cli::report_printing(checkout.store(), receipt_printer);
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

fn commit_loop(data_dir: &Path, max: u64) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let settings = CheckoutSettings::from_config(&config)?;
    let mut checkout = Checkout::new(store, settings, "crash-test");
    let codes = till::demo::sample_scans();
    let mut out = std::io::stdout().lock();
    for i in 0..max {
        let code = &codes[usize::try_from(i).unwrap_or(0) % (codes.len() - 1)];
        checkout.scan(code, ScanContext::Sale)?;
        checkout.scan(&codes[codes.len() - 1], ScanContext::Sale)?;
        let due = checkout.ticket().cash_due();
        checkout.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due + 100,
            reference: None,
        })?;
        let sale = checkout.commit()?;
        // Printed only after the commit returned, so every line names a durable sale.
        writeln!(
            out,
            "committed {} {} {}",
            sale.record.seq,
            sale.record.total,
            hex::encode(sale.hash)
        )?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
