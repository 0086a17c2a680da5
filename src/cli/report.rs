//! `till report`: the X report of the open shift, and the Z report of a closed one, on screen
//! and, with `--print`, on the receipt printer.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use till::config::{Config, Lang};
use till::printing::ReceiptPrinter;
use till::receipt::{Language, Receipt, ReceiptHeader, ReportKind, ShiftReportMeta};
use till::store::{ClosedShift, Shift, Store};
use till_domain::shift::ShiftReport;
use till_sync::ops::ZReport;

use super::open;

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The open shift's figures so far. Resets nothing.
    X {
        /// Print it on the receipt printer too.
        #[arg(long)]
        print: bool,
        /// Who asks for it (a staff ID; `[roles]` says who may).
        #[arg(long, default_value = "cli")]
        staff: String,
    },
    /// The Z report of closed shift N (default: the last closed).
    Z {
        number: Option<u64>,
        /// Print it on the receipt printer too (marked as the reprint it is).
        #[arg(long)]
        print: bool,
    },
}

pub fn exec(data_dir: &Path, cmd: ReportCommand) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let (receipt, print, again) = match cmd {
        ReportCommand::X { print, staff } => {
            super::authorize(&config, &store, &staff, till::roles::Action::XReport)?;
            let (shift, report) = store.x_report()?;
            (
                report_receipt(&config, &store, &shift, &report, None)?,
                print,
                "till report x --print".to_string(),
            )
        }
        ReportCommand::Z { number, print } => {
            let number = match number {
                Some(n) => n,
                // Only the newest shift can be open, so the last closed is one of the two
                // newest.
                None => store
                    .shifts(2)?
                    .into_iter()
                    .find(|s| s.closed_at_ms.is_some())
                    .map(|s| s.number)
                    .context("no shift has closed yet; `till shift close` closes the open one")?,
            };
            (
                z_receipt(&config, &store, &store.z_report(number)?)?,
                print,
                format!("till report z {number} --print"),
            )
        }
    };
    print!("{}", super::view::render_receipt(&receipt));
    if print {
        super::print_or_say(&config, &receipt, Some(&again));
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows a shift: its Z when closed, its X report when open.
pub(crate) fn show_shift(config: &Config, store: &Store, shift: &Shift) -> Result<()> {
    let receipt = if shift.closed_at_ms.is_some() {
        z_receipt(config, store, &store.z_report(shift.number)?)?
    } else {
        let (_, report) = store.x_report()?;
        report_receipt(config, store, shift, &report, None)?
    };
    print!("{}", super::view::render_receipt(&receipt));
    Ok(())
}

/// The Z report of a closed shift, as recorded.
pub(crate) fn z_receipt(config: &Config, store: &Store, closed: &ClosedShift) -> Result<Receipt> {
    report_receipt(
        config,
        store,
        &closed.shift,
        &closed.z.report(),
        Some(&closed.z),
    )
}

/// The X report (no `z`) or the Z of `shift`, in the till's language.
pub(crate) fn report_receipt(
    config: &Config,
    store: &Store,
    shift: &Shift,
    report: &ShiftReport,
    z: Option<&ZReport>,
) -> Result<Receipt> {
    let (_, terminal) = store.identity();
    let meta = ShiftReportMeta {
        kind: if z.is_some() {
            ReportKind::Z
        } else {
            ReportKind::X
        },
        shift: shift.number,
        terminal,
        opened_at: local_time(shift.opened_at_ms),
        opened_by: shift.opened_by.clone(),
        closed: shift
            .closed_at_ms
            .zip(shift.closed_by.clone())
            .map(|(at, by)| (local_time(at), by)),
        printed_at: local_time(jiff::Timestamp::now().as_millisecond()),
        counts: z
            .map(|z| z.counts.iter().map(|c| (c.value, c.count)).collect())
            .unwrap_or_default(),
        currency: config.currency,
    };
    Ok(till::receipt::shift_report(
        report,
        &meta,
        &receipt_header(config)?,
        receipt_language(config)?,
    ))
}

/// The printer's header when there is a printer, so the screen and the paper say the same;
/// else the store's name.
pub(crate) fn receipt_header(config: &Config) -> Result<ReceiptHeader> {
    Ok(ReceiptPrinter::from_config(config)?
        .map(|p| p.header)
        .unwrap_or_else(|| ReceiptHeader {
            store_name: if config.store_name.is_empty() {
                format!("Store {}", config.store_id)
            } else {
                config.store_name.clone()
            },
            ..ReceiptHeader::default()
        }))
}

/// The printer's language when there is a printer, else the till's.
pub(crate) fn receipt_language(config: &Config) -> Result<Language> {
    Ok(
        match (ReceiptPrinter::from_config(config)?, config.ui.language) {
            (Some(p), _) => p.language,
            (None, Lang::Zh) => Language::Zh,
            (None, Lang::En) => Language::En,
        },
    )
}

/// `ms` as this machine's local time, `2026-12-01 08:00`.
pub(crate) fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}
