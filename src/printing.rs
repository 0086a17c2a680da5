//! Printing receipts: the domain's receipt turned into a printable document, and the durable
//! queue that prints it, retrying with back-off, on its own thread.
//!
//! A sale is committed before its receipt is queued, and a printer that is off, out of paper
//! or unplugged only ever delays a receipt: the job stays in SQLite until it has printed.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use till_drivers::document::{Align, Block, Cut, Document, Style};
use till_drivers::escpos::{PrintSettings, encode};
use till_drivers::printer::{DrawerPulse, PrintError, Printer};
use till_sync::SaleRecord;

use crate::config::{Config, ConfigError};
use crate::receipt::{
    Language, Receipt, ReceiptHeader, ReceiptLine, ReceiptMember, opens_drawer, receipt,
};
use crate::store::{PrintJob, Store, StoreError};

/// Lays the domain's receipt out as blocks for the printer.
pub fn document(receipt: &Receipt) -> Document {
    let mut doc = Document::default();
    for line in &receipt.lines {
        match line {
            ReceiptLine::Title(text) => doc.text(text, Align::Center, Style::LARGE),
            ReceiptLine::Centered(text) => doc.text(text, Align::Center, Style::PLAIN),
            ReceiptLine::CopyMark(text) => doc.text(text, Align::Center, Style::BOLD),
            ReceiptLine::Rule => doc.push(Block::Rule),
            ReceiptLine::Item {
                name,
                detail,
                amount,
            } => doc
                .text(name, Align::Left, Style::PLAIN)
                .pair(detail, amount, Style::PLAIN),
            ReceiptLine::Pair { label, amount } => doc.pair(label, amount, Style::PLAIN),
            ReceiptLine::Total { label, amount } => doc.pair(label, amount, Style::LARGE),
            ReceiptLine::Barcode(code) => doc.push(Block::Barcode(code.clone())),
            ReceiptLine::Qr { data, caption } => {
                doc.push(Block::Qr(data.clone()))
                    .text(caption, Align::Center, Style::PLAIN)
            }
            ReceiptLine::Text(text) => doc.text(text, Align::Left, Style::PLAIN),
        };
    }
    doc.cut = Cut::Full;
    // The drawer has its own pulse at the commit ([`open_drawer_for`]), never the receipt's.
    doc.open_drawer = false;
    doc
}

/// Everything needed to print this terminal's receipts.
#[derive(Clone, Debug)]
pub struct ReceiptPrinter {
    pub printer: Printer,
    pub settings: PrintSettings,
    pub header: ReceiptHeader,
    pub language: Language,
}

impl ReceiptPrinter {
    /// The configured printer, or None when the terminal has none.
    pub fn from_config(config: &Config) -> Result<Option<ReceiptPrinter>, ConfigError> {
        let Some(printer) = &config.printer else {
            return Ok(None);
        };
        Ok(Some(ReceiptPrinter {
            printer: Printer::new(printer.address()?),
            settings: printer.settings()?,
            header: ReceiptHeader {
                store_name: if config.store_name.is_empty() {
                    format!("Store {}", config.store_id)
                } else {
                    config.store_name.clone()
                },
                address: config.store_address.clone(),
                tax_id: config.tax_id.clone(),
                claim_base_url: config.member.public_url.clone(),
            },
            language: printer.language,
        }))
    }

    /// The ESC/POS bytes of one job.
    pub fn render(&self, store: &Store, job: &PrintJob) -> Result<Vec<u8>, PrintJobError> {
        let sale = store.sale(job.sale_seq)?;
        let member = match &sale.attribution {
            till_sync::Attribution::Member { member_id } => ReceiptMember {
                phone_masked: store.member_phone_masked(member_id)?,
                // What the record says it earned: the till's ledger and HQ credit the same.
                points: Some(till_sync::loyalty::earned(&sale)),
            },
            till_sync::Attribution::Anonymous { .. } => ReceiptMember::default(),
        };
        let receipt = receipt(&sale, &self.header, self.language, job.copy, &member);
        let encoded = encode(&document(&receipt), &self.settings)
            .map_err(|e| PrintJobError::Encode(e.to_string()))?;
        for warning in &encoded.warnings {
            eprintln!("till: receipt #{}: {warning}", job.sale_seq);
        }
        Ok(encoded.bytes)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrintJobError {
    #[error(transparent)]
    Printer(#[from] PrintError),
    #[error("{0}")]
    Encode(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the till shows about its printer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrinterState {
    /// Receipts waiting to print.
    pub pending: usize,
    /// Why the last attempt failed, e.g. out of paper; None when it worked.
    pub last_error: Option<PrinterProblem>,
}

/// Why a receipt did not print, typed so that each front-end can say it in its user's
/// language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterProblem {
    /// The printer itself: unreachable, out of paper, cover open, …
    Printer(PrintError),
    /// Anything else (the receipt could not be read back or encoded), in English.
    Other(String),
}

impl std::fmt::Display for PrinterProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrinterProblem::Printer(error) => error.fmt(f),
            PrinterProblem::Other(error) => f.write_str(error),
        }
    }
}

impl From<PrintJobError> for PrinterProblem {
    fn from(error: PrintJobError) -> PrinterProblem {
        match error {
            PrintJobError::Printer(error) => PrinterProblem::Printer(error),
            other => PrinterProblem::Other(other.to_string()),
        }
    }
}

/// How long to wait before the next attempt after `attempts` failures: 1 s doubling to a
/// minute, with up to 25 % jitter so that tills sharing a printer do not retry in lockstep.
pub fn backoff(attempts: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.min(6)).min(Duration::from_secs(60));
    base + base.mul_f64(fastrand::f64() * 0.25)
}

/// How long a job another process has started sending is left to it before this one prints
/// it again (as a copy): longer than any receipt takes to print.
const SENDING: Duration = Duration::from_secs(60);

/// What one process remembers of the print queue between passes.
#[derive(Debug, Default)]
pub struct PrintMemory {
    /// Jobs that printed but could not be marked printed (a full disk): they are only marked
    /// again, never printed again.
    unmarked: Vec<i64>,
    /// Jobs this process has sent bytes of.
    sent_here: std::collections::HashSet<i64>,
}

/// Prints every job that is due, once; see [`print_due_with`].
pub fn print_due(store: &Store, printer: &ReceiptPrinter) -> Result<usize, PrintJobError> {
    print_due_with(store, printer, &mut PrintMemory::default())
}

/// Prints every job that is due. Stops at the first failure, since the next job would meet
/// the same printer. Returns how many printed.
///
/// A job is claimed, durably, before its first byte goes out ([`Store::mark_print_sending`]).
/// A job that may already have printed (its bytes went out before and the connection broke
/// mid-receipt, or another process sent it and died) prints again only as "COPY", so no
/// receipt ever prints twice as an original. A job that printed but could not be marked so
/// is remembered in `memory` and only marked again.
pub fn print_due_with(
    store: &Store,
    printer: &ReceiptPrinter,
    memory: &mut PrintMemory,
) -> Result<usize, PrintJobError> {
    while let Some(&id) = memory.unmarked.last() {
        store.mark_printed(id)?;
        memory.unmarked.pop();
    }
    let mut printed = 0;
    let now = || jiff::Timestamp::now().as_millisecond();
    while let Some(mut job) = store.next_print_job(now())? {
        if let Some(sent_at) = job.sent_at_ms {
            // Another process is sending it right now: leave it to that one.
            let sending = now() - sent_at < i64::try_from(SENDING.as_millis()).unwrap_or(0);
            if sending && !memory.sent_here.contains(&job.id) {
                break;
            }
            job.copy = true;
        }
        let result = printer.render(store, &job).and_then(|bytes| {
            if job.sent_at_ms.is_none() && !store.mark_print_sending(job.id)? {
                // Another process claimed it between our read and our claim.
                return Ok(false);
            }
            memory.sent_here.insert(job.id);
            printer.printer.print(&bytes)?;
            Ok(true)
        });
        match result {
            Ok(false) => break,
            Ok(true) => {
                if let Err(error) = store.mark_printed(job.id) {
                    memory.unmarked.push(job.id);
                    return Err(error.into());
                }
                memory.sent_here.remove(&job.id);
                printed += 1;
            }
            Err(error) => {
                let next =
                    now() + i64::try_from(backoff(job.attempts).as_millis()).unwrap_or(60_000);
                let sent = job.sent_at_ms.is_some()
                    || matches!(&error, PrintJobError::Printer(e) if e.may_have_printed());
                if !sent {
                    memory.sent_here.remove(&job.id);
                }
                store.mark_print_failed(job.id, &error.to_string(), next, sent)?;
                return Err(error);
            }
        }
    }
    Ok(printed)
}

/// What became of a committed sale's cash drawer and receipt. Neither can undo the sale: it
/// is durable already, and a receipt that was not queued can be reprinted.
#[derive(Debug)]
pub struct AfterCommit {
    /// The drawer's pulse, for a cash sale on a till with a printer.
    pub drawer: Option<Result<DrawerPulse, PrintError>>,
    /// The receipt's print job, for a till with a printer.
    pub receipt: Option<Result<i64, StoreError>>,
}

impl AfterCommit {
    /// Warnings for whoever rang the sale up, in English (the command line's language).
    pub fn warnings(&self, seq: u64) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(Err(error)) = &self.drawer {
            warnings.push(format!(
                "the cash drawer did not open: {error}; open it with `till devices open-drawer`"
            ));
        }
        if let Some(Err(error)) = &self.receipt {
            warnings.push(format!(
                "sale #{seq} is committed, but its receipt could not be queued ({error}); \
                 print it with `till sales reprint {seq}`"
            ));
        }
        warnings
    }
}

/// What every front-end does once a sale has committed, in this order: the cash drawer
/// opens on its own pulse for a cash sale ([`open_drawer_for`]), then the receipt is queued
/// (the caller wakes its print worker, or prints the queue). Blocks for up to the printer's
/// timeout: call it off the UI thread.
pub fn after_commit(
    store: &Store,
    printer: Option<&dyn CashDrawer>,
    sale: &SaleRecord,
) -> AfterCommit {
    AfterCommit {
        drawer: open_drawer_for(sale, printer),
        receipt: printer.map(|_| store.enqueue_receipt(sale.seq, false)),
    }
}

/// The one way a sale is sold, for every front-end: commit it durably (one transaction), tell
/// `committed` (the touchscreen shows the sale done at once), and only then open the drawer
/// and queue its receipt ([`after_commit`]). A refused commit prints nothing and opens
/// nothing. Blocks on the commit's fsync and up to the printer's timeout: call it off the UI
/// thread.
pub fn commit_and_queue(
    store: &mut Store,
    draft: SaleRecord,
    extras: crate::store::SaleExtras,
    printer: Option<&dyn CashDrawer>,
    committed: impl FnOnce(&SaleRecord),
) -> Result<(crate::store::CommittedSale, AfterCommit), StoreError> {
    let sale = store.commit_sale_with(draft, extras)?;
    committed(&sale.record);
    let after = after_commit(store, printer, &sale.record);
    let committed = sale;
    Ok((committed, after))
}

/// Opens the cash drawer for a sale that has just committed, if it took cash
/// ([`opens_drawer`]): on its own pulse, at once, never waiting for the receipt. Returns None
/// when the sale opens no drawer, or the till has no printer (the drawer is wired to it).
/// Blocks for up to the printer's timeout: call it off the UI thread.
pub fn open_drawer_for(
    sale: &SaleRecord,
    drawer: Option<&dyn CashDrawer>,
) -> Option<Result<DrawerPulse, PrintError>> {
    let drawer = drawer?;
    opens_drawer(sale).then(|| drawer.open_drawer())
}

/// Something the cash drawer can be opened through: the printer it is wired to, directly
/// (a command that owns the printer for its run), or the [`PrintWorker`] that owns it for
/// the till's life (so the pulse never races a receipt for a printer that takes one
/// connection at a time).
pub trait CashDrawer {
    /// Opens the drawer now; see [`Printer::open_drawer`].
    fn open_drawer(&self) -> Result<DrawerPulse, PrintError>;
}

impl CashDrawer for ReceiptPrinter {
    fn open_drawer(&self) -> Result<DrawerPulse, PrintError> {
        self.printer.open_drawer()
    }
}

/// What the print queue's thread is asked to do.
enum Request {
    /// A job was queued.
    Wake,
    /// Open the drawer, and say how it went.
    Drawer(Sender<Result<DrawerPulse, PrintError>>),
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Wake => "Wake",
            Request::Drawer(_) => "Drawer",
        })
    }
}

/// The print queue's worker thread, with its own database connection. It owns the printer:
/// receipts and drawer pulses go out one at a time, a drawer pulse before the next receipt.
#[derive(Debug)]
pub struct PrintWorker {
    requests: Sender<Request>,
    state: Arc<Mutex<PrinterState>>,
    printer: ReceiptPrinter,
}

impl PrintWorker {
    pub fn spawn(db: PathBuf, printer: ReceiptPrinter) -> std::io::Result<PrintWorker> {
        let (requests, received) = std::sync::mpsc::channel();
        let state = Arc::new(Mutex::new(PrinterState::default()));
        let shared = state.clone();
        let worker_printer = printer.clone();
        std::thread::Builder::new()
            .name("print-queue".into())
            .spawn(move || run_worker(&db, &worker_printer, &received, &shared))?;
        Ok(PrintWorker {
            requests,
            state,
            printer,
        })
    }

    /// The printer this worker prints on (and the cash drawer wired to it).
    pub fn printer(&self) -> &ReceiptPrinter {
        &self.printer
    }

    /// Tells the worker a job was queued.
    pub fn notify(&self) {
        let _ = self.requests.send(Request::Wake);
    }

    pub fn state(&self) -> PrinterState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl CashDrawer for PrintWorker {
    /// Asks the worker to open the drawer before anything else it would send, and waits for
    /// the answer (a receipt being printed at that moment finishes first).
    fn open_drawer(&self) -> Result<DrawerPulse, PrintError> {
        let stopped = || PrintError::Unreachable("the print queue stopped".into());
        let (answer, answered) = std::sync::mpsc::channel();
        self.requests
            .send(Request::Drawer(answer))
            .map_err(|_| stopped())?;
        answered.recv().map_err(|_| stopped())?
    }
}

fn run_worker(
    db: &std::path::Path,
    printer: &ReceiptPrinter,
    requests: &Receiver<Request>,
    state: &Mutex<PrinterState>,
) {
    let store = match Store::open(db) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("till: print queue cannot open the database: {e}");
            return;
        }
    };
    let mut memory = PrintMemory::default();
    let mut failures = 0u32;
    let mut wait = Duration::ZERO;
    loop {
        match requests.recv_timeout(wait) {
            Ok(Request::Drawer(answer)) => {
                let _ = answer.send(printer.printer.open_drawer());
                // Whatever was due is still due: go round again at once.
                wait = Duration::ZERO;
                continue;
            }
            Ok(Request::Wake) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let result = print_due_with(&store, printer, &mut memory);
        let pending = store.pending_print_jobs().map(|j| j.len()).unwrap_or(0);
        let failed = result.is_err();
        if let Ok(mut s) = state.lock() {
            s.pending = pending;
            s.last_error = result.err().map(PrinterProblem::from);
        }
        let now = jiff::Timestamp::now().as_millisecond();
        wait = match store.next_print_attempt_ms() {
            Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now).unwrap_or(0).max(50)),
            _ => Duration::from_secs(3600),
        };
        // An error the queue could not record (a full disk) must not make it spin: wait at
        // least the back-off for the failures in a row.
        failures = if failed { failures + 1 } else { 0 };
        if failed {
            wait = wait.max(backoff(failures - 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use till_drivers::decode::{Decoder, Event};
    use till_drivers::escpos::TextEncoding;
    use till_sync::{Attribution, SaleLine, SalePayment, SaleRecord};

    use super::*;

    fn line(
        line_no: u32,
        zh: &str,
        en: &str,
        unit_price: i64,
        qty_milli: i64,
        weighed: bool,
    ) -> SaleLine {
        let gross = unit_price * qty_milli / 1000;
        SaleLine {
            line_no,
            sku: format!("{line_no}"),
            code: "6901028075831".into(),
            name_zh: zh.into(),
            name_en: en.into(),
            tax_class: "food".into(),
            tax_rate_bp: 900,
            unit_price,
            qty_milli,
            weighed,
            price_overridden: false,
            gross,
            discount: 0,
            tax: gross * 900 / 10_900,
            total: gross,
        }
    }

    fn sale(lines: Vec<SaleLine>, payments: Vec<(&str, i64, Option<&str>)>) -> SaleRecord {
        let total: i64 = lines.iter().map(|l| l.total).sum();
        let paid: i64 = payments.iter().map(|p| p.1).sum();
        SaleRecord {
            v: 1,
            sale_id: "01a20416-3a15-72fa-b280-718411aa7636".into(),
            store: "S001".into(),
            terminal: "T01".into(),
            seq: 42,
            created_at_ms: 1_795_855_695_000,
            utc_offset_s: 8 * 3600,
            cashier: "1001".into(),
            currency: "CNY".into(),
            attribution: Attribution::Anonymous { claim_token: None },
            subtotal: total,
            discount: 0,
            tax: lines.iter().map(|l| l.tax).sum(),
            total,
            lines,
            rounding: 0,
            payments: payments
                .into_iter()
                .map(|(kind, amount, reference)| SalePayment {
                    kind: kind.into(),
                    amount,
                    reference: reference.map(str::to_string),
                })
                .collect(),
            change: paid - total,
            loyalty: None,
        }
    }

    fn header() -> ReceiptHeader {
        ReceiptHeader {
            store_name: "Till 便利店".into(),
            address: "上海市黄浦区人民大道 100 号".into(),
            tax_id: "91310000MA1FL0000X".into(),
            claim_base_url: "https://hq.example.com".into(),
        }
    }

    fn check(sale: &SaleRecord, language: Language, copy: bool, columns: usize, expected: Expect) {
        check_member(
            sale,
            &ReceiptMember::default(),
            language,
            columns,
            copy,
            expected,
        );
    }

    fn check_member(
        sale: &SaleRecord,
        member: &ReceiptMember,
        language: Language,
        columns: usize,
        copy: bool,
        expected: Expect,
    ) {
        let receipt = receipt(sale, &header(), language, copy, member);
        let settings = PrintSettings {
            columns,
            encoding: TextEncoding::Gb18030,
        };
        let bytes = encode(&document(&receipt), &settings).unwrap().bytes;
        let mut decoder = Decoder::new();
        let events = decoder.feed(&bytes);
        assert!(decoder.problems().is_empty(), "{:?}", decoder.problems());
        let [Event::Receipt(printed)] = &events[..] else {
            panic!("{events:?}")
        };
        expected.assert_eq(&printed.text());
    }

    fn groceries() -> Vec<SaleLine> {
        vec![
            line(
                1,
                "农夫山泉 550ml",
                "Nongfu Spring water 550ml",
                200,
                2000,
                false,
            ),
            line(
                2,
                "康师傅红烧牛肉面 桶装",
                "Master Kong braised beef noodles cup",
                500,
                1000,
                false,
            ),
        ]
    }

    /// A printer on a flaky line: the first connection answers the status query, takes the
    /// start of the receipt and then drops; later connections reach the real virtual printer.
    fn flaky_proxy(target: std::net::SocketAddr) -> std::net::SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut client) = stream else { continue };
                if n == 0 {
                    for _ in 0..4 {
                        let mut request = [0u8; 3];
                        client.read_exact(&mut request).unwrap();
                        client.write_all(&[0x12]).unwrap();
                    }
                    let mut start = [0u8; 64];
                    let _ = client.read(&mut start);
                    // The line drops with the receipt half sent, as when a cable is pulled.
                    drop(client);
                    continue;
                }
                let mut server = std::net::TcpStream::connect(target).unwrap();
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut c2, &mut s2));
                std::thread::spawn(move || std::io::copy(&mut server, &mut client));
            }
        });
        address
    }

    #[test]
    fn a_connection_lost_mid_receipt_prints_it_whole_on_retry() {
        use till_drivers::printer::{Printer, PrinterAddress};
        use till_drivers::virtual_printer::VirtualPrinter;
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
        let proxy = flaky_proxy(vp.address);
        let mut store = Store::create(
            &dir.path().join("till.db"),
            "S001",
            "T01",
            till_domain::Currency::CNY,
        )
        .unwrap();
        let committed = store
            .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
            .unwrap();
        store.enqueue_receipt(committed.record.seq, false).unwrap();
        let printer = ReceiptPrinter {
            printer: Printer::new(PrinterAddress::Tcp(proxy.to_string())),
            settings: PrintSettings {
                columns: 32,
                encoding: TextEncoding::Gb18030,
            },
            header: header(),
            language: Language::Zh,
        };
        // The print queue's thread keeps its memory from one pass to the next.
        let mut memory = PrintMemory::default();
        let error = print_due_with(&store, &printer, &mut memory).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("printer connection failed mid-receipt"),
            "{error}"
        );
        let pending = store.pending_print_jobs().unwrap();
        assert_eq!(pending.len(), 1, "the job stays queued");
        assert!(pending[0].last_error.is_some());
        assert_eq!(
            store.sale(1).unwrap(),
            committed.record,
            "the sale is untouched"
        );

        store.retry_print_jobs_now().unwrap();
        assert_eq!(print_due_with(&store, &printer, &mut memory).unwrap(), 1);
        for _ in 0..1000 {
            if vp.state.receipts_printed() == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Part of the first attempt may have come out of the printer, so the whole receipt
        // comes out again marked as a copy, never as a second original.
        let text = vp.receipt(1).unwrap();
        assert!(
            text.starts_with("[center bold 2x] Till 便利店") && text.ends_with("[cut]\n"),
            "{text}"
        );
        assert!(text.contains("COPY"), "{text}");
        assert!(store.pending_print_jobs().unwrap().is_empty());
    }

    fn virtual_receipt_printer(address: std::net::SocketAddr) -> ReceiptPrinter {
        use till_drivers::printer::{Printer, PrinterAddress};
        ReceiptPrinter {
            printer: Printer::new(PrinterAddress::Tcp(address.to_string())),
            settings: PrintSettings {
                columns: 32,
                encoding: TextEncoding::Gb18030,
            },
            header: header(),
            language: Language::Zh,
        }
    }

    fn wait_for(what: &str, done: impl Fn() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}");
    }

    #[test]
    fn a_receipt_that_may_have_printed_never_prints_again_as_an_original() {
        use till_drivers::virtual_printer::VirtualPrinter;
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
        let db = dir.path().join("till.db");
        let mut store = Store::create(&db, "S001", "T01", till_domain::Currency::CNY).unwrap();
        let committed = store
            .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
            .unwrap();
        let printer = virtual_receipt_printer(vp.address);
        let after = after_commit(&store, Some(&printer), &committed.record);
        assert_eq!(after.drawer.unwrap().unwrap(), DrawerPulse::Buffered);
        wait_for("the drawer", || vp.state.drawer_openings() == 1);
        // The disk fills up just as the receipt has printed: marking the job done fails.
        let other = rusqlite::Connection::open(&db).unwrap();
        other
            .execute_batch(
                "CREATE TRIGGER disk_full BEFORE UPDATE OF printed_at_ms ON print_jobs
                 WHEN NEW.printed_at_ms IS NOT NULL
                 BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
            )
            .unwrap();
        let mut memory = PrintMemory::default();
        let error = print_due_with(&store, &printer, &mut memory).unwrap_err();
        assert!(error.to_string().contains("disk is full"), "{error}");
        wait_for("the original", || vp.state.receipts_printed() == 1);
        assert!(!vp.receipt(1).unwrap().contains("COPY"));
        // The queue goes round while the disk is still full: it does not print again.
        assert!(print_due_with(&store, &printer, &mut memory).is_err());
        other.execute_batch("DROP TRIGGER disk_full").unwrap();
        assert_eq!(print_due_with(&store, &printer, &mut memory).unwrap(), 0);
        assert!(store.pending_print_jobs().unwrap().is_empty());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(vp.state.receipts_printed(), 1, "the job printed once");

        // The same, but the till is killed before it could mark the job: after a restart the
        // job may have printed, so once it is clearly not printing any more, it prints as a
        // copy, and the drawer stays shut.
        let second = store
            .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
            .unwrap();
        store.enqueue_receipt(second.record.seq, false).unwrap();
        other
            .execute_batch(
                "CREATE TRIGGER disk_full BEFORE UPDATE OF printed_at_ms ON print_jobs
                 WHEN NEW.printed_at_ms IS NOT NULL
                 BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
            )
            .unwrap();
        assert!(print_due(&store, &printer).is_err());
        wait_for("the second original", || vp.state.receipts_printed() == 2);
        other.execute_batch("DROP TRIGGER disk_full").unwrap();
        // Just after, another process leaves it alone: it may be printing it right now.
        assert_eq!(print_due(&store, &printer).unwrap(), 0);
        other
            .execute("UPDATE print_jobs SET sent_at_ms = sent_at_ms - 120000", [])
            .unwrap();
        assert_eq!(print_due(&store, &printer).unwrap(), 1);
        wait_for("the copy", || vp.state.receipts_printed() == 3);
        let copy = vp.receipt(3).unwrap();
        assert!(copy.contains("重印 COPY"), "{copy}");
        assert!(!copy.contains("drawer"), "{copy}");
        assert_eq!(
            vp.state.drawer_openings(),
            1,
            "one drawer pulse, at the first commit"
        );
        assert!(store.pending_print_jobs().unwrap().is_empty());
    }

    #[test]
    fn the_drawer_opens_at_the_commit_whatever_happens_to_the_receipt() {
        use std::sync::atomic::Ordering;
        use till_drivers::virtual_printer::VirtualPrinter;
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
        vp.state.paper_out.store(true, Ordering::SeqCst);
        let mut store = Store::create(
            &dir.path().join("till.db"),
            "S001",
            "T01",
            till_domain::Currency::CNY,
        )
        .unwrap();
        let printer = virtual_receipt_printer(vp.address);
        // Out of paper: the cash sale's drawer opens anyway (the real-time pulse), and the
        // receipt waits in the queue.
        let cash = store
            .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
            .unwrap();
        let after = after_commit(&store, Some(&printer), &cash.record);
        assert_eq!(after.drawer.unwrap().unwrap(), DrawerPulse::RealTime);
        assert!(after.receipt.unwrap().is_ok());
        wait_for("the drawer", || vp.state.drawer_openings() == 1);
        assert!(matches!(
            print_due(&store, &printer),
            Err(PrintJobError::Printer(PrintError::PaperOut))
        ));
        assert_eq!(vp.state.receipts_printed(), 0);
        // A card sale opens no drawer.
        let card = store
            .commit_sale(sale(groceries(), vec![("card", 900, None)]))
            .unwrap();
        assert!(
            after_commit(&store, Some(&printer), &card.record)
                .drawer
                .is_none()
        );
        // Paper back: both receipts print, and the drawer does not open again.
        vp.state.paper_out.store(false, Ordering::SeqCst);
        store.retry_print_jobs_now().unwrap();
        assert_eq!(print_due(&store, &printer).unwrap(), 2);
        wait_for("the receipts", || vp.state.receipts_printed() == 2);
        assert!(!vp.receipt(1).unwrap().contains("COPY"));
        assert_eq!(vp.state.drawer_openings(), 1);
        // No printer to reach: the sale stands, and the cashier is told the drawer is shut.
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let unreachable = virtual_receipt_printer(gone.local_addr().unwrap());
        drop(gone);
        let after = after_commit(&store, Some(&unreachable), &cash.record);
        assert!(matches!(
            after.drawer,
            Some(Err(PrintError::Unreachable(_)))
        ));
        assert!(after.warnings(cash.record.seq)[0].starts_with("the cash drawer did not open"));
    }

    #[test]
    fn backoff_doubles_to_a_minute_with_jitter() {
        for (attempts, base) in [(0, 1), (1, 2), (3, 8), (6, 60), (20, 60)] {
            let delay = backoff(attempts).as_millis();
            let base = u128::from(base as u32) * 1000;
            assert!(
                delay >= base && delay <= base * 5 / 4,
                "{attempts}: {delay} ms"
            );
        }
    }

    /// The whole path: a committed anonymous sale and a member's sale, rendered from the store
    /// as the print queue renders them and decoded back; the claim QR's payload verifies.
    #[test]
    fn printed_receipts_carry_a_verifiable_claim_code_or_the_member() {
        use till_sync::member::{MemberKey, Phone, verify_claim};
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::create(
            &dir.path().join("till.db"),
            "S001",
            "T01",
            till_domain::Currency::CNY,
        )
        .unwrap();
        let key = MemberKey::from_bytes([9; 32]);
        store.add_member_key(&key).unwrap();
        store
            .upsert_member(&crate::store::MemberRecord {
                member_id: "10086".into(),
                display_name: "王小明".into(),
                tier: String::new(),
                points: 0,
                phone: Some(Phone::parse("13812345678").unwrap()),
                card_number: None,
                active: true,
            })
            .unwrap();
        store
            .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
            .unwrap();
        let mut member_sale = sale(groceries(), vec![("cash", 1000, None)]);
        member_sale.attribution = Attribution::Member {
            member_id: "10086".into(),
        };
        member_sale.loyalty = Some(till_sync::loyalty::SaleLoyalty { rule: 1, points: 9 });
        store.commit_sale(member_sale).unwrap();
        let printer = ReceiptPrinter {
            printer: Printer::new(till_drivers::printer::PrinterAddress::File(
                dir.path().join("paper"),
            )),
            settings: PrintSettings {
                columns: 32,
                encoding: TextEncoding::Gb18030,
            },
            header: header(),
            language: Language::Zh,
        };
        let printed = |seq: u64| {
            let job = PrintJob {
                id: 0,
                sale_seq: seq,
                copy: false,
                attempts: 0,
                last_error: None,
                sent_at_ms: None,
            };
            let bytes = printer.render(&store, &job).unwrap();
            let mut decoder = Decoder::new();
            let events = decoder.feed(&bytes);
            let [Event::Receipt(receipt)] = &events[..] else {
                panic!("{events:?}")
            };
            receipt.text()
        };
        let anonymous = printed(1);
        let url = anonymous
            .lines()
            .find_map(|l| l.strip_prefix("[qr] "))
            .expect("a claim QR code");
        let token = url.strip_prefix("https://hq.example.com/c/").expect(url);
        assert_eq!(
            verify_claim(&[key], token),
            Some(("S001".into(), "T01".into(), 1))
        );
        assert!(anonymous.contains("扫码入会，积分到账"));
        let member = printed(2);
        assert!(member.contains("会员 138****5678"), "{member}");
        assert!(member.contains("本次积分 +9"), "{member}");
        assert!(!member.contains("[qr]"), "{member}");
    }

    #[test]
    fn member_receipt_shows_the_masked_phone_and_points() {
        let mut sale = sale(groceries(), vec![("cash", 1000, None)]);
        sale.attribution = Attribution::Member {
            member_id: "10086".into(),
        };
        let member = ReceiptMember {
            phone_masked: Some("138****5678".into()),
            points: Some(9),
        };
        check_member(
            &sale,
            &member,
            Language::Zh,
            32,
            false,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                --------------------------------
                农夫山泉 550ml
                  2 × ￥2.00             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00             ￥5.00
                --------------------------------
                小计                      ￥9.00
                其中税额                  ￥0.74
                [bold 2x] 合计      ￥9.00
                现金                     ￥10.00
                找零                      ￥1.00
                --------------------------------
                会员 138****5678
                本次积分 +9
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
        );
    }

    #[test]
    fn anonymous_receipt_carries_the_claim_qr_code() {
        let mut sale = sale(groceries(), vec![("cash", 1000, None)]);
        sale.attribution = Attribution::Anonymous {
            claim_token: Some("S001-T01-42.ABCDEFGHIJKLMNOP".into()),
        };
        check(
            &sale,
            Language::En,
            false,
            32,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] Tax ID 91310000MA1FL0000X
                --------------------------------
                Nongfu Spring water 550ml
                  2 × ￥2.00             ￥4.00
                Master Kong braised beef noodles
                cup
                  1 × ￥5.00             ￥5.00
                --------------------------------
                Subtotal                  ￥9.00
                Tax included              ￥0.74
                [bold 2x] TOTAL     ￥9.00
                Cash                     ￥10.00
                Change                    ￥1.00
                --------------------------------
                [qr] https://hq.example.com/c/S001-T01-42.ABCDEFGHIJKLMNOP
                [center] Scan to join and collect points
                [barcode code128] TR1.S001.T01.42
                Sale 42  Terminal T01  Cashier
                1001
                2026-11-28 16:48:15
                [center] Thank you for shopping with us




                [cut]
            "#]],
        );
    }

    #[test]
    fn chinese_receipt() {
        check(
            &sale(groceries(), vec![("cash", 1000, None)]),
            Language::Zh,
            false,
            32,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                --------------------------------
                农夫山泉 550ml
                  2 × ￥2.00             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00             ￥5.00
                --------------------------------
                小计                      ￥9.00
                其中税额                  ￥0.74
                [bold 2x] 合计      ￥9.00
                现金                     ￥10.00
                找零                      ￥1.00
                --------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
        );
    }

    #[test]
    fn english_receipt() {
        check(
            &sale(groceries(), vec![("cash", 1000, None)]),
            Language::En,
            false,
            48,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] Tax ID 91310000MA1FL0000X
                ------------------------------------------------
                Nongfu Spring water 550ml
                  2 × ￥2.00                             ￥4.00
                Master Kong braised beef noodles cup
                  1 × ￥5.00                             ￥5.00
                ------------------------------------------------
                Subtotal                                  ￥9.00
                Tax included                              ￥0.74
                [bold 2x] TOTAL             ￥9.00
                Cash                                     ￥10.00
                Change                                    ￥1.00
                ------------------------------------------------
                [barcode code128] TR1.S001.T01.42
                Sale 42  Terminal T01  Cashier 1001
                2026-11-28 16:48:15
                [center] Thank you for shopping with us




                [cut]
            "#]],
        );
    }

    #[test]
    fn weighed_item_receipt() {
        let apples = line(1, "红富士苹果", "Fuji apples", 1298, 356, true);
        check(
            &sale(
                vec![apples],
                vec![("wechat_pay", 462, Some("134567890123456789"))],
            ),
            Language::Zh,
            false,
            32,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                --------------------------------
                红富士苹果
                  0.356 kg × ￥12.98/kg  ￥4.62
                --------------------------------
                小计                      ￥4.62
                其中税额                  ￥0.38
                [bold 2x] 合计      ￥4.62
                微信支付 …6789           ￥4.62
                --------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
        );
    }

    #[test]
    fn split_tender_receipt() {
        let tenders = vec![
            ("card", 500, Some("4321")),
            ("alipay", 300, Some("286543210987654321")),
            ("cash", 500, None),
        ];
        check(
            &sale(groceries(), tenders),
            Language::Zh,
            false,
            48,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                ------------------------------------------------
                农夫山泉 550ml
                  2 × ￥2.00                             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00                             ￥5.00
                ------------------------------------------------
                小计                                      ￥9.00
                其中税额                                  ￥0.74
                [bold 2x] 合计              ￥9.00
                银行卡 …4321                             ￥5.00
                支付宝 …4321                             ￥3.00
                现金                                      ￥5.00
                找零                                      ￥4.00
                ------------------------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
        );
    }

    #[test]
    fn reprint_is_marked_copy_and_opens_no_drawer() {
        check(
            &sale(groceries(), vec![("cash", 1000, None)]),
            Language::Zh,
            true,
            32,
            expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                [center bold] *** 重印 COPY ***
                --------------------------------
                农夫山泉 550ml
                  2 × ￥2.00             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00             ￥5.00
                --------------------------------
                小计                      ￥9.00
                其中税额                  ￥0.74
                [bold 2x] 合计      ￥9.00
                现金                     ￥10.00
                找零                      ￥1.00
                --------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
        );
    }
}
