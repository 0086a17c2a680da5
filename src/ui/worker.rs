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
use crate::store::{DaySummary, SaleExtras, StaffMember, Store};
use crate::sync::{SyncEvent, SyncWindow};

/// A worker's answer.
#[derive(Debug)]
pub(super) enum Done {
    Pin(PinPurpose, Option<StaffMember>),
    Committed(Result<SaleRecord, String>),
    BackOffice(DaySummary, SyncState),
    Synced(Result<String, String>, SyncState),
    /// The quick keys, re-read after a sync brought a new catalog version, so their labels
    /// show today's names and prices.
    QuickKeys(Vec<super::session::QuickItem>),
    Scanner(till_drivers::scanner::ScannerEvent),
}

enum SaleJob {
    Commit(Box<SaleRecord>, SaleExtras),
    BackOffice,
}

#[derive(Debug)]
pub(super) struct Workers {
    sales: Sender<SaleJob>,
    sync: Option<Sender<()>>,
}

impl std::fmt::Debug for SaleJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SaleJob::Commit(..) => "Commit",
            SaleJob::BackOffice => "BackOffice",
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
                            }
                            continue;
                        }
                    };
                    match job {
                        SaleJob::Commit(draft, extras) => send(Done::Committed(commit(
                            store,
                            *draft,
                            extras,
                            printer.as_deref(),
                        ))),
                        SaleJob::BackOffice => {
                            let today = today(store).unwrap_or_default();
                            send(Done::BackOffice(today, sync_state(store)));
                        }
                    }
                }
            })?;
        let sync = if options.background_sync {
            let window = SyncWindow::parse(&config.sync_window).map_err(anyhow::Error::msg)?;
            let db = super::database(&data_dir);
            let settings = crate::checkout::CheckoutSettings::from_config(config)?;
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
                        SyncEvent::Synced(Ok(r)) => Ok(format!(
                            "{} / {} / {} · {}",
                            r.accepted,
                            r.duplicates,
                            r.rejected.len(),
                            r.pending
                        )),
                        SyncEvent::Synced(Err(e)) => Err(e.to_string()),
                        SyncEvent::CheckpointFailed(_) => return true,
                    };
                    send(Done::Synced(result, state));
                    true
                },
            )?)
        } else {
            None
        };
        Ok(Workers { sales, sync })
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
            Task::Commit(draft, extras) => {
                if self.sales.send(SaleJob::Commit(draft, extras)).is_err() {
                    send(Done::Committed(Err("the sales worker stopped".into())));
                }
            }
            Task::LoadBackOffice => {
                let _ = self.sales.send(SaleJob::BackOffice);
            }
            Task::Sync => match &self.sync {
                Some(wake) if wake.send(()).is_ok() => {}
                _ => send(Done::Synced(
                    Err("background sync is off on this till".into()),
                    SyncState::default(),
                )),
            },
        }
    }
}

/// Commits the sale, then queues its receipt: the sale is durable before anything prints.
fn commit(
    store: &mut Store,
    draft: SaleRecord,
    extras: SaleExtras,
    printer: Option<&PrintWorker>,
) -> Result<SaleRecord, String> {
    let committed = store
        .commit_sale_with(draft, extras)
        .map_err(|e| e.to_string())?;
    if let Some(printer) = printer {
        // A failure here leaves the sale committed and the receipt reprintable.
        if store.enqueue_receipt(committed.record.seq, false).is_ok() {
            printer.notify();
        }
    }
    Ok(committed.record)
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
