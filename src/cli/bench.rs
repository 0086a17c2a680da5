//! `till bench`: measures PRODUCT.md's targets, each against a baseline taken in the same run
//! on the same disk, so the figures mean the same on any machine.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Subcommand;
use rusqlite::Connection;
use till::catalog::{ImportRules, import_csv};
use till::checkout::{Checkout, CheckoutSettings, ScanContext};
use till::config::Config;
use till::store::Store;
use till_domain::gtin::check_digit;
use till_domain::{Currency, TaxMode, Tender, TenderKind};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Sale commit latency against a bare SQLite INSERT + COMMIT with synchronous=FULL.
    Commit {
        #[arg(long, default_value_t = 2000)]
        sales: usize,
        /// Where to put the databases (default: a new dir under the current one, to measure
        /// the disk the till really uses rather than a RAM-backed /tmp).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Catalog CSV import rate and scan → ticket line latency on a generated catalog.
    Catalog {
        #[arg(long, default_value_t = 1_000_000)]
        products: usize,
        #[arg(long, default_value_t = 100_000)]
        scans: usize,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// A scan handled on the touchscreen's UI thread, from the keys (or the serial code)
    /// arriving to the updated ticket model, against the engine's bare scan in the same run.
    UiScan {
        #[arg(long, default_value_t = 1_000_000)]
        products: usize,
        #[arg(long, default_value_t = 20_000)]
        scans: usize,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Start-up to a usable sale screen, and resident memory during a sale, on a generated
    /// catalog: `till` started as a new process each run, against the same binary started
    /// to do nothing (`till --version`) as the baseline.
    Startup {
        #[arg(long, default_value_t = 1_000_000)]
        products: usize,
        #[arg(long, default_value_t = 7)]
        runs: usize,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The X report and the Z close of a shift of many sales (target < 100 ms), against one
    /// bare pass over the same rows of the sales, lines and payments tables.
    ShiftReport {
        #[arg(long, default_value_t = 10_000)]
        sales: usize,
        #[arg(long, default_value_t = 21)]
        runs: usize,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// A receipt's barcode to the return screen's lines (what was sold and what is left of
    /// each) on a till of many sales (target < 50 ms), against reading the sale's lines bare.
    ReturnLines {
        #[arg(long, default_value_t = 10_000)]
        sales: usize,
        #[arg(long, default_value_t = 2_000)]
        lookups: usize,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// One start-up run, in its own process (started by `till bench startup`).
    #[command(hide = true)]
    StartupRun {
        #[arg(long)]
        terminal: PathBuf,
        #[arg(long)]
        products: usize,
    },
}

pub fn exec(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Commit { sales, dir } => commit(sales, &work_dir(dir)?),
        BenchCommand::Catalog {
            products,
            scans,
            dir,
        } => catalog(products, scans, &work_dir(dir)?),
        BenchCommand::UiScan {
            products,
            scans,
            dir,
        } => ui_scan(products, scans, &work_dir(dir)?),
        BenchCommand::Startup {
            products,
            runs,
            dir,
        } => startup(products, runs, &work_dir(dir)?),
        BenchCommand::ShiftReport { sales, runs, dir } => {
            shift_report(sales, runs, &work_dir(dir)?)
        }
        BenchCommand::ReturnLines {
            sales,
            lookups,
            dir,
        } => return_lines(sales, lookups, &work_dir(dir)?),
        BenchCommand::StartupRun { terminal, products } => startup_run(&terminal, products),
    }
}

struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn work_dir(dir: Option<PathBuf>) -> Result<WorkDir> {
    let base = match dir {
        Some(d) => d,
        None => std::env::current_dir()?,
    };
    let dir = base.join(format!("till-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(WorkDir(dir))
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_nanos() as f64 / 1000.0)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}", a.as_nanos() as f64 / b.as_nanos().max(1) as f64)
}

/// A terminal with the sample catalog, in `dir`.
fn demo_terminal(dir: &Path) -> Result<(Config, Checkout)> {
    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let mut store = Store::create(&dir.join("till.db"), "S001", "T01", Currency::CNY)?;
    let settings = CheckoutSettings::from_config(&config)?;
    let rules = ImportRules::for_terminal(&settings, false, 0);
    import_csv(
        &mut store,
        till::demo::sample_catalog_csv().as_bytes(),
        &rules,
        |_| {},
    )?;
    // Sales belong to a shift (`[shift] required`), as on a till mid-day.
    store.open_shift("bench", &till::demo::demo_float())?;
    Ok((config, Checkout::new(store, settings, "bench")))
}

fn commit(sales: usize, dir: &WorkDir) -> Result<ExitCode> {
    let (_, mut checkout) = demo_terminal(&dir.0)?;
    let bare = Connection::open(dir.0.join("bare.db"))?;
    bare.pragma_update(None, "journal_mode", "WAL")?;
    bare.pragma_update(None, "synchronous", "FULL")?;
    // The same checkpoint policy as the till's, so the two differ only in what they write.
    bare.pragma_update(None, "wal_autocheckpoint", 0)?;
    bare.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")?;
    let payload = vec![b'x'; 1200];
    let codes = till::demo::sample_scans();
    let mut till_times = Vec::with_capacity(sales);
    let mut bare_times = Vec::with_capacity(sales);
    // Alternate the two so that disk hiccups hit both alike.
    for i in 0..sales {
        let start = Instant::now();
        bare.execute("INSERT INTO t (payload) VALUES (?1)", [&payload])?;
        bare_times.push(start.elapsed());

        for code in &codes {
            checkout.scan(code, ScanContext::Sale)?;
        }
        let due = checkout.ticket().cash_due();
        checkout.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due + (i as i64 % 7) * 100,
            reference: None,
        })?;
        let start = Instant::now();
        checkout.commit()?;
        till_times.push(start.elapsed());
    }
    till_times.sort();
    bare_times.sort();
    let (tm, tp) = (percentile(&till_times, 50), percentile(&till_times, 99));
    let (bm, bp) = (percentile(&bare_times, 50), percentile(&bare_times, 99));
    println!(
        "sale commit ({sales} sales of {} scans, WAL, synchronous=FULL, in {})",
        codes.len(),
        dir.0.display()
    );
    println!(
        "  bare INSERT+COMMIT   median {:>10}   p99 {:>10}",
        micros(bm),
        micros(bp)
    );
    println!(
        "  till commit_sale     median {:>10}   p99 {:>10}",
        micros(tm),
        micros(tp)
    );
    println!(
        "  ratio till/bare      median {:>10}   p99 {:>10}   (target ≤ 1.5)",
        ratio(tm, bm),
        ratio(tp, bp)
    );
    Ok(ExitCode::SUCCESS)
}

fn shift_report(sales: usize, runs: usize, dir: &WorkDir) -> Result<ExitCode> {
    use till_domain::shift::{Denominations, MovementKind};
    let (_, mut checkout) = demo_terminal(&dir.0)?;
    let db = dir.0.join("till.db");
    let cny = Denominations::for_currency(Currency::CNY);
    let mut store = Store::open(&db)?;
    store.open_shift("bench", &cny.count(&[(10000, 5)])?)?;
    let codes = till::demo::sample_scans();
    let kinds = [TenderKind::Cash, TenderKind::WeChatPay, TenderKind::Card];
    let setup = Instant::now();
    for i in 0..sales {
        for code in &codes[..1 + i % codes.len()] {
            checkout.scan(code, ScanContext::Sale)?;
        }
        let due = checkout.ticket().cash_due();
        let kind = kinds[i % kinds.len()];
        checkout.add_tender(Tender {
            kind,
            amount: due + if kind == TenderKind::Cash { 50 } else { 0 },
            reference: kind
                .needs_reference()
                .then(|| "134567890123456789".to_string()),
        })?;
        checkout.commit()?;
        if i % 100 == 0 {
            store.cash_movement("bench", None, MovementKind::PaidIn, 1_000, "change")?;
        }
    }
    eprintln!(
        "committed {sales} sales in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    drop(checkout);
    let bare = Connection::open(&db)?;
    let mut x_times = Vec::with_capacity(runs);
    let mut bare_times = Vec::with_capacity(runs);
    let mut report = None;
    for _ in 0..runs {
        let start = Instant::now();
        let mut rows = 0i64;
        for sql in [
            "SELECT count(*), sum(total + change) FROM sales WHERE seq >= 1",
            "SELECT count(*), sum(tax) FROM sale_lines WHERE sale_seq >= 1",
            "SELECT count(*), sum(amount) FROM payments WHERE sale_seq >= 1",
        ] {
            rows += bare.query_row(sql, [], |r| r.get::<_, i64>(0))?;
        }
        bare_times.push(start.elapsed());
        let start = Instant::now();
        report = Some(store.x_report()?.1);
        x_times.push(start.elapsed());
        anyhow::ensure!(rows > 0, "the shift has no rows");
    }
    let report = report.context("no runs")?;
    anyhow::ensure!(
        report.sales_count == sales as u64,
        "the X counted {} sales, not {sales}",
        report.sales_count
    );
    let counted = cny.count(&[(10000, 5)])?;
    let start = Instant::now();
    let closed = store.close_shift("bench", &counted)?;
    let z_time = start.elapsed();
    anyhow::ensure!(closed.z.sales_count == sales as u64, "the Z lost sales");
    x_times.sort();
    bare_times.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let (xm, bm) = (percentile(&x_times, 50), percentile(&bare_times, 50));
    println!(
        "shift report over {sales} sales ({} paid ins), {runs} runs, in {}",
        sales.div_ceil(100),
        dir.0.display()
    );
    println!("  bare scan of the three tables  median {:>9}", ms(bm));
    println!(
        "  X report (ShiftTally)          median {:>9}   max {:>9}",
        ms(xm),
        ms(*x_times.last().unwrap_or(&Duration::ZERO))
    );
    println!(
        "  Z close (report + record)      once   {:>9}   (target < 100 ms)",
        ms(z_time)
    );
    println!(
        "  ratio X/bare                   median {:>9}",
        ratio(xm, bm)
    );
    Ok(ExitCode::SUCCESS)
}

fn return_lines(sales: usize, lookups: usize, dir: &WorkDir) -> Result<ExitCode> {
    use till_domain::scan::ReceiptCode;
    use till_domain::shift::Denominations;
    let (_, mut checkout) = demo_terminal(&dir.0)?;
    let db = dir.0.join("till.db");
    let codes = till::demo::sample_scans();
    for i in 0..sales {
        for code in &codes[..1 + i % codes.len()] {
            checkout.scan(code, ScanContext::Sale)?;
        }
        let due = checkout.ticket().cash_due();
        checkout.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due,
            reference: None,
        })?;
        checkout.commit()?;
    }
    drop(checkout);
    let mut store = Store::open(&db)?;
    // Earlier returns of some sales, so the lookups meet returned lines too.
    let cny = Denominations::for_currency(Currency::CNY);
    store.open_shift("bench", &cny.count(&[(10000, 100)])?)?;
    for seq in (1..=sales as u64).step_by(10) {
        let first = store.returnable(seq)?.1.remove(0);
        store.commit_return(
            "bench",
            None,
            &till::store::ReturnRequest {
                sale_seq: seq,
                lines: vec![(first.line_no, first.left_milli)],
                reason: String::new(),
                policy: till_domain::returns::ReturnPolicy {
                    window_days: 30,
                    approval_over: i64::MAX,
                },
            },
        )?;
    }
    let bare = Connection::open(&db)?;
    let mut rng = fastrand::Rng::with_seed(5);
    let (mut till_times, mut bare_times) = (Vec::new(), Vec::new());
    for _ in 0..lookups {
        let seq = rng.u64(1..=sales as u64);
        let start = Instant::now();
        let rows: i64 = bare.query_row(
            "SELECT count(*) + coalesce(sum(total), 0) FROM sale_lines WHERE sale_seq = ?1",
            [seq],
            |r| r.get(0),
        )?;
        bare_times.push(start.elapsed());
        anyhow::ensure!(rows > 0, "sale #{seq} has no lines");
        let scanned = format!("TR1.S001.T01.{seq}");
        let start = Instant::now();
        let code = ReceiptCode::parse(&scanned).context("the receipt code parses")?;
        let (_, lines) = store.returnable(code.seq)?;
        till_times.push(start.elapsed());
        anyhow::ensure!(!lines.is_empty(), "sale #{seq} shows no lines");
    }
    till_times.sort();
    bare_times.sort();
    let (tm, tp) = (percentile(&till_times, 50), percentile(&till_times, 99));
    let (bm, bp) = (percentile(&bare_times, 50), percentile(&bare_times, 99));
    println!(
        "receipt code to return lines on a till of {sales} sales ({} returned), {lookups} lookups, in {}",
        sales.div_ceil(10),
        dir.0.display()
    );
    println!(
        "  bare read of the sale's lines   median {:>10}   p99 {:>10}",
        micros(bm),
        micros(bp)
    );
    println!(
        "  parse + returnable              median {:>10}   p99 {:>10}   (target < 50 ms)",
        micros(tm),
        micros(tp)
    );
    println!(
        "  ratio                           median {:>10}   p99 {:>10}",
        ratio(tm, bm),
        ratio(tp, bp)
    );
    Ok(ExitCode::SUCCESS)
}

/// A valid EAN-13 for product `i` of a generated catalog.
fn generated_ean13(i: usize) -> String {
    let body = format!("69{:010}", i);
    format!("{body}{}", check_digit(body.as_bytes()))
}

/// A generated catalog of `products` rows, prices raised by `markup` yuan.
fn write_catalog(path: &Path, products: usize, markup: usize) -> Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu"
    )?;
    for i in 0..products {
        writeln!(
            out,
            "{},{},商品{i:07} 500g,Product {i:07} 500g,{}.{:02},standard,杂货 Grocery,0,1,",
            1_000_000 + i,
            generated_ean13(i),
            1 + i % 97 + markup,
            i % 100
        )?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

fn catalog(products: usize, scans: usize, dir: &WorkDir) -> Result<ExitCode> {
    let csv_path = dir.0.join("catalog.csv");
    let repriced_path = dir.0.join("catalog-repriced.csv");
    // The same products twice: as first published, and after a price change to every one.
    write_catalog(&csv_path, products, 0)?;
    write_catalog(&repriced_path, products, 1)?;
    let bytes = std::fs::metadata(&csv_path)?.len();

    // Baseline: the same rows as bare multi-column INSERTs into a plain indexed table.
    let bare = Connection::open(dir.0.join("bare.db"))?;
    bare.pragma_update(None, "journal_mode", "WAL")?;
    bare.pragma_update(None, "synchronous", "FULL")?;
    bare.pragma_update(None, "wal_autocheckpoint", 0)?;
    bare.execute_batch(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, sku TEXT UNIQUE, code TEXT UNIQUE, name TEXT, price INTEGER)",
    )?;
    let start = Instant::now();
    {
        let tx = bare.unchecked_transaction()?;
        let mut stmt =
            tx.prepare("INSERT INTO p (sku, code, name, price) VALUES (?1, ?2, ?3, ?4)")?;
        let mut reader = csv::Reader::from_path(&csv_path)?;
        for record in reader.records() {
            let r = record?;
            stmt.execute((
                &r[0],
                &r[1],
                &r[2],
                r[4].replace('.', "").parse::<i64>().unwrap_or(0),
            ))?;
        }
        drop(stmt);
        tx.commit()?;
        // Until the rows are in the database file itself, as for the till below.
        bare.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    }
    let bare_import = start.elapsed();
    drop(bare);
    // Let the baseline's writes reach the disk before timing Till, so that neither phase pays
    // for the other's write-back.
    for name in ["bare.db", "bare.db-wal"] {
        if let Ok(file) = std::fs::File::open(dir.0.join(name)) {
            file.sync_all()?;
        }
    }

    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let settings = CheckoutSettings::from_config(&config)?;
    let mut store = Store::create(&dir.0.join("till.db"), "S001", "T01", Currency::CNY)?;
    let rules = ImportRules::for_terminal(&settings, false, bytes);
    let timed_import = |store: &mut Store, path: &Path| -> Result<Duration> {
        let input = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
        let start = Instant::now();
        let report = import_csv(store, input, &rules, |_| {})?;
        // The till defers checkpoints to idle time; an import's cost includes its own.
        store.checkpoint()?;
        let took = start.elapsed();
        anyhow::ensure!(
            report.committed && report.rejected.is_empty(),
            "generated catalog was rejected"
        );
        Ok(took)
    };
    let till_import = timed_import(&mut store, &csv_path)?;
    let till_unchanged = timed_import(&mut store, &csv_path)?;
    let till_repriced = timed_import(&mut store, &repriced_path)?;
    // Scans run on a fresh connection, as on a till that starts after the nightly import.
    drop(store);
    let store = Store::open(&dir.0.join("till.db"))?;

    let mut checkout = Checkout::new(store, settings, "bench");
    let mut times = Vec::with_capacity(scans);
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..scans {
        if i % 20 == 0 {
            checkout.clear();
        }
        let code = generated_ean13(rng.usize(0..products));
        let start = Instant::now();
        checkout.scan(&code, ScanContext::Sale)?;
        times.push(start.elapsed());
    }
    times.sort();
    let rate = |d: Duration| products as f64 / d.as_secs_f64();
    println!(
        "catalog of {products} products ({:.0} MB CSV, in {})",
        bytes as f64 / 1e6,
        dir.0.display()
    );
    println!(
        "  bare INSERT of the same rows       {:>8.0} rows/s",
        rate(bare_import)
    );
    println!(
        "  till import into an empty catalog  {:>8.0} rows/s   (target ≥ 200000; {} × bare)",
        rate(till_import),
        ratio(bare_import, till_import)
    );
    println!(
        "  till re-import, no row changed     {:>8.0} rows/s   ({} × bare)",
        rate(till_unchanged),
        ratio(bare_import, till_unchanged)
    );
    println!(
        "  till re-import, every price new    {:>8.0} rows/s   ({} × bare)",
        rate(till_repriced),
        ratio(bare_import, till_repriced)
    );
    println!(
        "  scan → ticket line ({scans} random scans)   p50 {}   p99 {}   max {}   (target p99 < 2 ms)",
        micros(percentile(&times, 50)),
        micros(percentile(&times, 99)),
        micros(*times.last().unwrap_or(&Duration::ZERO))
    );
    Ok(ExitCode::SUCCESS)
}

/// A terminal in `dir` with a generated catalog of `products` and one cashier, who is
/// returned.
fn generated_terminal(dir: &Path, products: usize) -> Result<(Config, till::store::StaffMember)> {
    use till::store::{Role, StaffMember};
    let csv_path = dir.join("catalog.csv");
    write_catalog(&csv_path, products, 0)?;
    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    std::fs::write(dir.join(till::config::CONFIG_FILE), config.to_toml())?;
    let settings = CheckoutSettings::from_config(&config)?;
    let mut store = Store::create(&dir.join("till.db"), "S001", "T01", Currency::CNY)?;
    let rules = ImportRules::for_terminal(&settings, false, 0);
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(&csv_path)?);
    import_csv(&mut store, input, &rules, |_| {})?;
    let cashier = StaffMember {
        id: "1001".into(),
        name: "bench".into(),
        role: Role::Cashier,
    };
    store.add_staff(&cashier, &till::staff::hash_pin("1234")?)?;
    store.open_shift(&cashier.id, &till::demo::demo_float())?;
    store.checkpoint()?;
    std::fs::remove_file(&csv_path)?;
    Ok((config, cashier))
}

fn ui_scan(products: usize, scans: usize, dir: &WorkDir) -> Result<ExitCode> {
    use slint::ComponentHandle;
    use slint::platform::WindowEvent;
    use till::ui::{App, AppOptions};

    let (config, cashier) = generated_terminal(&dir.0, products)?;
    let settings = CheckoutSettings::from_config(&config)?;

    // Baseline: the engine alone, on its own connection.
    let store = Store::open(&dir.0.join("till.db"))?;
    let mut checkout = Checkout::new(store, settings, "bench");
    let mut rng = fastrand::Rng::with_seed(11);
    let codes: Vec<String> = (0..scans)
        .map(|_| generated_ean13(rng.usize(0..products)))
        .collect();
    let mut engine = Vec::with_capacity(scans);
    for (i, code) in codes.iter().enumerate() {
        if i % 20 == 0 {
            checkout.clear();
        }
        let start = Instant::now();
        checkout.scan(code, ScanContext::Sale)?;
        engine.push(start.elapsed());
    }
    drop(checkout);

    // The touchscreen, headless: the same window, adapters and controller as on a till.
    till::ui::screenshot::init_headless()?;
    let app = App::new(&dir.0, AppOptions::default())?;
    app.set_size(1024, 768);
    app.update(|s| s.logged_in(Some(cashier.clone())));
    let window = app.window.window();
    let mut serial = Vec::with_capacity(scans);
    let mut wedge = Vec::with_capacity(scans);
    for (i, code) in codes.iter().enumerate() {
        if i % 10 == 0 {
            app.update(|s| s.cancel_ticket());
        }
        if i % 2 == 0 {
            // A serial scanner: the code arrives whole.
            let start = Instant::now();
            app.scan(code);
            serial.push(start.elapsed());
        } else {
            // A keyboard-wedge scanner: thirteen keys and Enter through the window.
            let start = Instant::now();
            for c in code.chars().chain(std::iter::once('\n')) {
                let text: slint::SharedString = c.to_string().into();
                window.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
                window.dispatch_event(WindowEvent::KeyReleased { text });
            }
            wedge.push(start.elapsed());
        }
        anyhow::ensure!(
            app.session
                .borrow()
                .sale()
                .message()
                .is_none_or(|m| !m.error),
            "scan {code} was refused"
        );
    }
    for times in [&mut engine, &mut serial, &mut wedge] {
        times.sort();
    }
    println!("UI-thread scan handling, catalog of {products} products, ticket of up to 10 lines");
    let line = |name: &str, t: &[Duration]| {
        println!(
            "  {name:<34} p50 {:>9}   p99 {:>9}   max {:>9}   p99 {} × engine",
            micros(percentile(t, 50)),
            micros(percentile(t, 99)),
            micros(*t.last().unwrap_or(&Duration::ZERO)),
            ratio(percentile(t, 99), percentile(&engine, 99)),
        );
    };
    line("engine alone (baseline)", &engine);
    line("serial scan → ticket model", &serial);
    line("wedge keys + Enter → ticket model", &wedge);
    println!("  target: p99 < 2 ms on the UI thread");
    Ok(ExitCode::SUCCESS)
}

fn startup(products: usize, runs: usize, dir: &WorkDir) -> Result<ExitCode> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    generated_terminal(&dir.0, products)?;
    let exe = std::env::current_exe()?;
    let (mut baseline, mut ready, mut rss, mut peak) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        // Baseline: the same binary, started to print its version and exit.
        let start = Instant::now();
        let status = Command::new(&exe)
            .arg("--version")
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "till --version failed");
        baseline.push(start.elapsed());
        // The till: from the process starting to the sale screen drawn and taking scans.
        let start = Instant::now();
        let mut child = Command::new(&exe)
            .args([
                "bench",
                "startup-run",
                "--products",
                &products.to_string(),
                "--terminal",
            ])
            .arg(&dir.0)
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let first = lines.next().context("the run said nothing")??;
        anyhow::ensure!(first == "ready", "unexpected {first:?}");
        ready.push(start.elapsed());
        let memory = lines.next().context("the run gave no memory figure")??;
        let figures: Vec<u64> = memory
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        anyhow::ensure!(figures.len() == 2, "unexpected {memory:?}");
        rss.push(figures[0]);
        peak.push(figures[1]);
        anyhow::ensure!(child.wait()?.success(), "the run failed");
    }
    for times in [&mut baseline, &mut ready] {
        times.sort();
    }
    rss.sort_unstable();
    peak.sort_unstable();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let mb = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    println!("start-up to a usable sale screen, catalog of {products} products, {runs} runs");
    println!(
        "  till --version (baseline)     median {:>9}   max {:>9}",
        ms(percentile(&baseline, 50)),
        ms(*baseline.last().unwrap_or(&Duration::ZERO))
    );
    println!(
        "  start → sale screen drawn     median {:>9}   max {:>9}   {} × baseline   target < 250 ms",
        ms(percentile(&ready, 50)),
        ms(*ready.last().unwrap_or(&Duration::ZERO)),
        ratio(percentile(&ready, 50), percentile(&baseline, 50)),
    );
    println!(
        "  resident memory during a sale median {:>9}   peak {:>9}   target < 64 MB",
        mb(rss[rss.len() / 2]),
        mb(*peak.last().unwrap_or(&0))
    );
    Ok(ExitCode::SUCCESS)
}

/// One start-up, in a fresh process: the real window (headless, software renderer, every
/// bundled font loaded) over the terminal in `terminal`, logged in, the sale screen drawn;
/// then a sale of 20 scans, and the resident memory (`VmRSS`, `VmHWM` in kB) after it.
fn startup_run(terminal: &Path, products: usize) -> Result<ExitCode> {
    use slint::ComponentHandle;
    use till::ui::{App, AppOptions};
    till::ui::screenshot::init_headless()?;
    let app = App::new(terminal, AppOptions::default())?;
    app.set_size(1024, 768);
    app.window.show()?;
    let cashier = app
        .session
        .borrow()
        .staff
        .first()
        .cloned()
        .context("no cashier")?;
    app.update(|s| s.logged_in(Some(cashier)));
    app.window.window().take_snapshot()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..20 {
        app.scan(&generated_ean13(rng.usize(0..products)));
    }
    app.window.window().take_snapshot()?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    writeln!(out, "memory {} {}", field("VmRSS:"), field("VmHWM:"))?;
    Ok(ExitCode::SUCCESS)
}
