//! The touchscreen's worker threads: one commits sales and reads reports on its own database
//! connection, one syncs with HQ, and PIN checks get a short-lived thread each. Answers go
//! back to the UI thread with `slint::invoke_from_event_loop`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};

use till_sync::SaleRecord;

use super::session::{PinPurpose, SyncState, Task, check_pin};
use super::{App, AppOptions};
use crate::config::Config;
use crate::printing::PrintWorker;
use crate::staff::{PinGuard, PinPrompt};
use crate::store::{DaySummary, OpenTicket, SaleExtras, StaffMember, Store};
use crate::sync::{SyncEvent, SyncNowError, SyncReport};
use till_drivers::printer::PrintError;

/// A worker's answer.
#[derive(Debug)]
pub(super) enum Done {
    Pin(PinPurpose, Option<StaffMember>),
    /// A phone keyed for a member lookup, hashed.
    PhoneHashed(crate::store::HashedPhone),
    Committed(Result<SaleRecord, String>),
    /// What became of a drawer opening: at a cash sale's commit, or a manager's no-sale
    /// opening from the back office.
    Drawer(Result<(), PrintError>),
    BackOffice(DaySummary, SyncState),
    Synced(Result<SyncReport, SyncNowError>, SyncState),
    /// The quick keys, re-read after a sync brought a new catalog version, so their labels
    /// show today's names and prices.
    QuickKeys(Vec<super::session::QuickItem>),
    Scanner(till_drivers::scanner::ScannerEvent),
}

enum SaleJob {
    Commit(Box<SaleRecord>, SaleExtras),
    BackOffice,
    OpenDrawer,
    /// A durable write for the controller, in order with the commits.
    Save(Save),
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
                                SaleJob::Commit(..) => send(Done::Committed(Err(error))),
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
                    send(Done::Committed(Err("the sales worker stopped".into())));
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
        Err(e) => return send(Done::Committed(Err(e.to_string()))),
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
    fn write(self, store: &mut Store) -> Result<(), crate::store::StoreError> {
        match self {
            Save::PinGuard(prompt, guard) => store.save_pin_guard(prompt, &guard),
            Save::OpenTicket(open) => store.save_open_ticket(open.as_deref()),
            Save::Audit(record) => record.write(store),
        }
    }
}

/// A no-sale opening of the cash drawer, from the back office.
fn open_drawer(printer: Option<&PrintWorker>) -> Result<(), PrintError> {
    match printer {
        Some(printer) => crate::printing::CashDrawer::open_drawer(printer).map(|_| ()),
        None => Err(PrintError::Unreachable("no printer configured".into())),
    }
}

fn today(store: &Store) -> Result<DaySummary, crate::store::StoreError> {
    let now = jiff::Zoned::now();
    let bounds = now.start_of_day().and_then(|start| {
        let end = start.tomorrow()?;
        Ok((
            start.timestamp().as_millisecond(),
            end.timestamp().as_millisecond(),
        ))
    });
    let (start, end) = bounds.unwrap_or((0, i64::MAX));
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
