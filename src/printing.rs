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

    /// Prints `receipt` at once, not through the queue: an X or Z report, which the
    /// operations chain already holds (a Z prints again with `till report z N --print`).
    /// Blocks for up to the printer's timeout: call it off the UI thread.
    pub fn print_now(&self, receipt: &Receipt) -> Result<(), PrintJobError> {
        let encoded = encode(&document(receipt), &self.settings)
            .map_err(|e| PrintJobError::Encode(e.to_string()))?;
        self.printer.print(&encoded.bytes)?;
        Ok(())
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
    /// Print a report or slip that is not a sale's receipt (an X or Z report, a return slip),
    /// and say how it went.
    Print(Box<Receipt>, Sender<Result<(), PrintJobError>>),
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Wake => "Wake",
            Request::Drawer(_) => "Drawer",
            Request::Print(..) => "Print",
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

    /// Prints `receipt` (a report or slip, not a sale's receipt, which goes through the queue)
    /// between two queued receipts, and waits for the answer. Call it off the UI thread.
    pub fn print_now(&self, receipt: &Receipt) -> Result<(), PrintJobError> {
        let stopped =
            || PrintJobError::from(PrintError::Unreachable("the print queue stopped".into()));
        let (answer, answered) = std::sync::mpsc::channel();
        self.requests
            .send(Request::Print(Box::new(receipt.clone()), answer))
            .map_err(|_| stopped())?;
        answered.recv().map_err(|_| stopped())?
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
            Ok(Request::Print(receipt, answer)) => {
                let _ = answer.send(printer.print_now(&receipt));
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
mod tests;
