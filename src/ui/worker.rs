//! The touchscreen's worker threads: one commits sales and reads reports on its own database
//! connection, one syncs with HQ, and PIN checks get a short-lived thread each. Answers go
//! back to the UI thread with `slint::invoke_from_event_loop`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};

use till_sync::SaleRecord;

use super::session::{
    CommitFailure, LoadFailure, LoadedSale, PinPurpose, PrintTrouble, ReturnOf, Sheets, SyncState,
    Task, check_pin,
};
use super::text::Lang;
use super::{App, AppOptions};
use crate::config::Config;
use crate::printing::PrintWorker;
use crate::receipt::Receipt;
use crate::reports::{self, ReportStyle};
use crate::staff::{PinGuard, PinPrompt};
use crate::store::{
    CommittedReturn, DaySummary, OpenTicket, SaleExtras, SaleSummary, Shift, StaffMember, Store,
    StoreError,
};
use crate::sync::{SyncEvent, SyncNowError, SyncReport};
use till_drivers::printer::PrintError;

/// A worker's answer.
#[derive(Debug)]
pub(super) enum Done {
    Pin(PinPurpose, Option<StaffMember>),
    /// A phone keyed for a member lookup, hashed.
    PhoneHashed(crate::store::HashedPhone),
    Committed(Result<SaleRecord, CommitFailure>),
    /// What became of a drawer opening: at a cash sale's commit, or a manager's no-sale
    /// opening from the back office.
    Drawer(Result<(), PrintError>),
    BackOffice(DaySummary, SyncState),
    Synced(Result<SyncReport, SyncNowError>, SyncState),
    /// The quick keys, re-read after a sync brought a new catalog version, so their labels
    /// show today's names and prices.
    QuickKeys(Vec<super::session::QuickItem>),
    Scanner(till_drivers::scanner::ScannerEvent),
    ShiftOpened(Result<Shift, StoreError>),
    ShiftClosed(Result<Sheets, StoreError>),
    XReport(Result<Sheets, StoreError>),
    PaperPrinted(Option<PrintTrouble>),
    CashMoved(Result<(), StoreError>),
    ReturnLoaded(Result<LoadedSale, LoadFailure>),
    Returned(Box<Result<(CommittedReturn, Sheets), StoreError>>),
    Sales(Result<Vec<SaleSummary>, StoreError>),
    Reprinted(Result<Option<u64>, String>),
}

enum SaleJob {
    Commit(Box<SaleRecord>, SaleExtras),
    BackOffice,
    OpenDrawer,
    /// A durable write for the controller, in order with the commits.
    Save(Save),
    /// A store operation (a shift, a report, cash, a return, the sales list), in order with
    /// the commits.
    Ops(Task),
}

enum Save {
    PinGuard(PinPrompt, PinGuard),
    OpenTicket(Option<Box<OpenTicket>>),
    Audit(Box<crate::checkout::AuditRecord>),
}

#[derive(Debug)]
pub(super) struct Workers {
    sales: Sender<SaleJob>,
    sync: Option<Sender<()>>,
    /// For a one-off sync when the background sync is off.
    data_dir: PathBuf,
    settings: crate::checkout::CheckoutSettings,
}

impl std::fmt::Debug for SaleJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SaleJob::Commit(..) => "Commit",
            SaleJob::BackOffice => "BackOffice",
            SaleJob::OpenDrawer => "OpenDrawer",
            SaleJob::Save(_) => "Save",
            SaleJob::Ops(_) => "Ops",
        })
    }
}

pub(super) fn send(done: Done) {
    // Fails only once the event loop has gone, when nobody is left to tell.
    let _ = slint::invoke_from_event_loop(move || App::deliver(done));
}

impl Workers {
    pub(super) fn spawn(
        data_dir: PathBuf,
        printer: Option<Arc<PrintWorker>>,
        config: &Config,
        options: AppOptions,
    ) -> anyhow::Result<Workers> {
        let (sales, jobs) = channel::<SaleJob>();
        let db = super::database(&data_dir);
        let own_dir = data_dir.clone();
        let style = ReportStyle::from_config(config)?;
        let sales_dir = data_dir.clone();
        std::thread::Builder::new()
            .name("sales".into())
            .spawn(move || {
                let mut store = Store::open(&db);
                for job in jobs {
                    let store = match &mut store {
                        Ok(store) => store,
                        Err(e) => {
                            let error = e.to_string();
                            match job {
                                SaleJob::Commit(..) => {
                                    send(Done::Committed(Err(CommitFailure::Other(error))))
                                }
                                SaleJob::BackOffice => send(Done::BackOffice(
                                    DaySummary::default(),
                                    SyncState {
                                        last_error: Some(error),
                                        ..SyncState::default()
                                    },
                                )),
                                SaleJob::OpenDrawer => {
                                    send(Done::Drawer(open_drawer(printer.as_deref())))
                                }
                                SaleJob::Save(_) => {
                                    eprintln!("till: cannot save to the database: {error}");
                                }
                                SaleJob::Ops(_) => {
                                    eprintln!("till: cannot open the database: {error}");
                                }
                            }
                            continue;
                        }
                    };
                    match job {
                        SaleJob::Commit(draft, extras) => {
                            commit(store, *draft, extras, printer.as_deref());
                        }
                        SaleJob::OpenDrawer => {
                            send(Done::Drawer(open_drawer(printer.as_deref())));
                        }
                        SaleJob::Save(save) => {
                            if let Err(e) = save.write(store) {
                                eprintln!("till: cannot save to the database: {e}");
                            }
                        }
                        SaleJob::BackOffice => {
                            let today = today(store).unwrap_or_default();
                            send(Done::BackOffice(today, sync_state(store)));
                        }
                        SaleJob::Ops(task) => {
                            run_op(store, task, &style, printer.as_ref(), &sales_dir)
                        }
                    }
                }
            })?;
        let settings = crate::checkout::CheckoutSettings::from_config(config)?;
        let sync = if options.background_sync {
            let window = config.nightly_sync_window();
            let db = super::database(&data_dir);
            let settings = settings.clone();
            let quick_codes = config.ui.quick_keys.clone();
            Some(crate::sync::spawn_background(
                data_dir,
                settings.clone(),
                window,
                move |event| {
                    let store = Store::open(&db);
                    let state = store.as_ref().map(sync_state).unwrap_or_default();
                    if let (SyncEvent::Synced(Ok(report)), Ok(store)) = (&event, &store)
                        && report.catalog_version.is_some()
                        && let Ok(keys) = super::quick_keys(store, &settings, &quick_codes)
                    {
                        send(Done::QuickKeys(keys));
                    }
                    let result = match event {
                        SyncEvent::Synced(result) => result,
                        SyncEvent::CheckpointFailed(_) => return true,
                    };
                    send(Done::Synced(result, state));
                    true
                },
            )?)
        } else {
            None
        };
        Ok(Workers {
            sales,
            sync,
            data_dir: own_dir,
            settings,
        })
    }

    pub(super) fn start(&self, task: Task) {
        match task {
            Task::CheckPin {
                purpose,
                pin,
                candidates,
            } => {
                std::thread::spawn(move || send(Done::Pin(purpose, check_pin(&pin, &candidates))));
            }
            Task::HashPhone(hasher, phone) => {
                std::thread::spawn(move || send(Done::PhoneHashed(hasher.hash(phone))));
            }
            Task::Commit(draft, extras) => {
                if self.sales.send(SaleJob::Commit(draft, extras)).is_err() {
                    send(Done::Committed(Err(CommitFailure::Other(
                        "the sales worker stopped".into(),
                    ))));
                }
            }
            Task::LoadBackOffice => {
                let _ = self.sales.send(SaleJob::BackOffice);
            }
            Task::OpenDrawer => {
                let _ = self.sales.send(SaleJob::OpenDrawer);
            }
            Task::SavePinGuard(prompt, guard) => {
                let _ = self
                    .sales
                    .send(SaleJob::Save(Save::PinGuard(prompt, guard)));
            }
            Task::SaveOpenTicket(open) => {
                let _ = self.sales.send(SaleJob::Save(Save::OpenTicket(open)));
            }
            Task::RecordAudit(record) => {
                let _ = self.sales.send(SaleJob::Save(Save::Audit(record)));
            }
            Task::OpenShift { .. }
            | Task::CloseShift { .. }
            | Task::XReport(_)
            | Task::PrintPaper(_)
            | Task::MoveCash { .. }
            | Task::LoadReturn(_)
            | Task::CommitReturn { .. }
            | Task::LoadSales(_)
            | Task::Reprint(_) => {
                let _ = self.sales.send(SaleJob::Ops(task));
            }
            Task::Sync => match &self.sync {
                Some(wake) if wake.send(()).is_ok() => {}
                // No background sync on this till: "Sync now" still syncs, once, on a thread
                // of its own, under the till's sync lock like every other sync.
                _ => {
                    let (data_dir, settings) = (self.data_dir.clone(), self.settings.clone());
                    std::thread::spawn(move || {
                        let db = super::database(&data_dir);
                        let (result, state) = match Store::open(&db) {
                            Ok(mut store) => {
                                let result = crate::sync::sync_till(
                                    &data_dir,
                                    &mut store,
                                    &settings,
                                    std::time::Duration::from_secs(30),
                                    crate::sync::DEFAULT_BATCH,
                                    3,
                                    false,
                                );
                                (result, sync_state(&store))
                            }
                            Err(e) => (Err(e.into()), SyncState::default()),
                        };
                        send(Done::Synced(result, state));
                    });
                }
            },
        }
    }
}

/// Commits the sale and says so at once; then opens the cash drawer for a cash sale, on its
/// own pulse, and says whether it opened; then queues the receipt. The sale is durable before
/// anything leaves the till, and the drawer never waits for the receipt.
fn commit(store: &mut Store, draft: SaleRecord, extras: SaleExtras, printer: Option<&PrintWorker>) {
    let drawer = printer.map(|p| p as &dyn crate::printing::CashDrawer);
    let sold = crate::printing::commit_and_queue(store, draft, extras, drawer, |record| {
        send(Done::Committed(Ok(record.clone())))
    });
    let after = match sold {
        Ok((_, after)) => after,
        Err(e) => return send(Done::Committed(Err(CommitFailure::Store(e)))),
    };
    if let Some(opened) = after.drawer {
        send(Done::Drawer(opened.map(|_| ())));
    }
    // A receipt that could not be queued leaves the sale committed and reprintable.
    if let (Some(printer), Some(Ok(_))) = (printer, after.receipt) {
        printer.notify();
    }
}

impl Save {
    fn write(self, store: &mut Store) -> Result<(), StoreError> {
        match self {
            Save::PinGuard(prompt, guard) => store.save_pin_guard(prompt, &guard),
            Save::OpenTicket(open) => store.save_open_ticket(open.as_deref()),
            Save::Audit(record) => record.write(store),
        }
    }
}

/// Runs a store operation on the sales worker and sends its answer; a report or slip prints
/// after it is committed, and a drawer opens after the cash moved.
fn run_op(
    store: &mut Store,
    task: Task,
    style: &ReportStyle,
    printer: Option<&Arc<PrintWorker>>,
    data_dir: &std::path::Path,
) {
    match task {
        Task::OpenShift {
            staff,
            approver,
            float,
        } => {
            let opened = store
                .open_shift_approved(&staff, approver.as_deref(), &float)
                .map(|(shift, _)| shift);
            send(Done::ShiftOpened(opened));
        }
        Task::CloseShift {
            staff,
            approver,
            counted,
            lang,
        } => {
            let closed = store
                .close_shift_approved(&staff, approver.as_deref(), &counted)
                .map(|closed| {
                    sheets(style, lang, |style| {
                        reports::z_receipt(style, store, &closed)
                    })
                });
            let paper = closed.as_ref().ok().map(|s| s.paper.clone());
            send(Done::ShiftClosed(closed));
            if let Some(paper) = paper {
                print_later(printer, paper);
            }
        }
        Task::XReport(lang) => {
            let report = store.x_report().map(|(shift, report)| {
                sheets(style, lang, |style| {
                    reports::report_receipt(style, store, &shift, &report, None)
                })
            });
            send(Done::XReport(report));
        }
        Task::PrintPaper(receipt) => print_later(printer, *receipt),
        Task::MoveCash {
            staff,
            approver,
            kind,
            amount,
            reason,
        } => {
            let moved = store.cash_movement(&staff, approver.as_deref(), kind, amount, &reason);
            let slip = moved
                .as_ref()
                .ok()
                .and_then(|record| reports::cash_slip(style, record));
            send(Done::CashMoved(moved.map(|_| ())));
            if let Some(slip) = slip {
                // The drawer first; then the slip to keep with the cash.
                send(Done::Drawer(open_drawer(printer.map(|p| &**p))));
                if printer.is_some() {
                    print_later(printer, slip);
                }
            }
        }
        Task::LoadReturn(ReturnOf::Own(seq)) => {
            let loaded = store.returnable(seq).map(|(sale, lines)| LoadedSale {
                sale,
                lines,
                hq: None,
            });
            send(Done::ReturnLoaded(loaded.map_err(LoadFailure::Store)));
        }
        Task::LoadReturn(ReturnOf::Hq(code)) => {
            // HQ may take seconds to answer: on a thread of its own, so no sale waits.
            let data_dir = data_dir.to_path_buf();
            std::thread::spawn(move || send(Done::ReturnLoaded(look_up_at_hq(&data_dir, code))));
        }
        Task::CommitReturn {
            staff,
            approver,
            request,
            hq,
            lang,
        } => {
            let committed = match &hq {
                None => store.commit_return(&staff, approver.as_deref(), &request),
                Some(found) => {
                    store.commit_return_of_hq_sale(&staff, approver.as_deref(), found, &request)
                }
            };
            let committed = committed.map(|committed| {
                let slips = sheets(style, lang, |style| reports::return_slip(style, &committed));
                (committed, slips)
            });
            let after = committed.as_ref().ok().map(|(c, slips)| {
                let cash = c.ret.tenders.iter().any(|t| t.kind == "cash");
                (cash, slips.paper.clone())
            });
            send(Done::Returned(Box::new(committed)));
            if let Some((cash, receipt)) = after {
                // The drawer first, on its own pulse: the customer waits for the cash, not
                // for the slip.
                if cash {
                    send(Done::Drawer(open_drawer(printer.map(|p| &**p))));
                }
                print_later(printer, receipt);
            }
        }
        Task::LoadSales(seq) => {
            let from = match seq {
                Some(_) => i64::MIN,
                None => today_bounds().0,
            };
            send(Done::Sales(store.sale_summaries(from, seq, 500)));
        }
        Task::Reprint(seq) => {
            let result = (|| {
                let seq = match seq {
                    Some(seq) => seq,
                    None => match store.sales_count().map_err(|e| e.to_string())? {
                        0 => return Ok(None),
                        n => n,
                    },
                };
                store.sale(seq).map_err(|e| e.to_string())?;
                let Some(printer) = printer else {
                    return Err("no printer is configured".to_string());
                };
                store
                    .enqueue_receipt(seq, true)
                    .map_err(|e| e.to_string())?;
                printer.notify();
                Ok(Some(seq))
            })();
            send(Done::Reprinted(result));
        }
        _ => {}
    }
}

/// Another terminal's sale `code`, from HQ, with what is left of each line here.
fn look_up_at_hq(
    data_dir: &std::path::Path,
    code: till_domain::scan::ReceiptCode,
) -> Result<LoadedSale, LoadFailure> {
    let store = Store::open(&super::database(data_dir)).map_err(LoadFailure::Store)?;
    let found = crate::sync::sale_for_return(data_dir, &store, &code)
        .map_err(|e| LoadFailure::Hq(code, Box::new(e)))?;
    let lines = store
        .returnable_from_hq(&found)
        .map_err(LoadFailure::Store)?;
    Ok(LoadedSale {
        sale: found.sale.clone(),
        lines,
        hq: Some(Box::new(found)),
    })
}

/// A report or slip for the screen in `lang` and for the printer in its own language.
fn sheets(style: &ReportStyle, lang: Lang, make: impl Fn(&ReportStyle) -> Receipt) -> Sheets {
    let screen = ReportStyle {
        language: match lang {
            Lang::Zh => crate::receipt::Language::Zh,
            Lang::En => crate::receipt::Language::En,
        },
        ..style.clone()
    };
    Sheets {
        screen: make(&screen),
        paper: make(style),
    }
}

/// Prints a report or slip through the print queue's worker, on a thread of its own so that
/// a slow printer holds up no sale, and says how it went.
fn print_later(printer: Option<&Arc<PrintWorker>>, receipt: Receipt) {
    let Some(printer) = printer.cloned() else {
        return send(Done::PaperPrinted(Some(PrintTrouble::NoPrinter)));
    };
    std::thread::spawn(move || {
        let trouble = match printer.print_now(&receipt) {
            Ok(()) => None,
            Err(crate::printing::PrintJobError::Printer(e)) => Some(PrintTrouble::Printer(e)),
            Err(e) => Some(PrintTrouble::Other(e.to_string())),
        };
        send(Done::PaperPrinted(trouble));
    });
}

/// A no-sale opening of the cash drawer, from the back office.
fn open_drawer(printer: Option<&PrintWorker>) -> Result<(), PrintError> {
    match printer {
        Some(printer) => crate::printing::CashDrawer::open_drawer(printer).map(|_| ()),
        None => Err(PrintError::Unreachable("no printer configured".into())),
    }
}

/// Today, local time, as Unix milliseconds: `[start, end)`.
fn today_bounds() -> (i64, i64) {
    let bounds = jiff::Zoned::now().start_of_day().and_then(|start| {
        let end = start.tomorrow()?;
        Ok((
            start.timestamp().as_millisecond(),
            end.timestamp().as_millisecond(),
        ))
    });
    bounds.unwrap_or((0, i64::MAX))
}

fn today(store: &Store) -> Result<DaySummary, StoreError> {
    let (start, end) = today_bounds();
    store.day_summary(start, end)
}

pub(super) fn sync_state(store: &Store) -> SyncState {
    match crate::sync::status(store) {
        Ok(status) => SyncState {
            registered: status.hq_url.is_some(),
            pending: status.pending,
            last_success_ms: status.last_success_ms,
            last_error: status.last_error,
        },
        Err(e) => SyncState {
            last_error: Some(e.to_string()),
            ..SyncState::default()
        },
    }
}
