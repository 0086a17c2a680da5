//! The shift reports and slips as the front-ends show and print them: the X or Z report of a
//! shift, in the printer's language under the printer's header, and local times as records
//! show them. The CLI and the touchscreen both build their reports here, so the screen and
//! the paper say the same.

use crate::config::{Config, ConfigError, Lang};
use crate::printing::ReceiptPrinter;
use crate::receipt::{Language, Receipt, ReceiptHeader, ReportKind, ShiftReportMeta};
use crate::store::{ClosedShift, CommittedReturn, Shift, Store};
use till_domain::Currency;
use till_domain::shift::ShiftReport;
use till_sync::ops::ZReport;

type Result<T> = std::result::Result<T, ConfigError>;

/// How reports and slips are laid out for this till: the header and language of its printer
/// (or, without one, the store's name and the till's language) and its currency. Built once
/// from the config.
#[derive(Clone, Debug)]
pub struct ReportStyle {
    pub header: ReceiptHeader,
    pub language: Language,
    pub currency: Currency,
}

impl ReportStyle {
    /// Errors: the `[printer]` section is invalid.
    pub fn from_config(config: &Config) -> Result<ReportStyle> {
        Ok(ReportStyle {
            header: receipt_header(config)?,
            language: receipt_language(config)?,
            currency: config.currency,
        })
    }
}

/// The Z report of a closed shift, as recorded.
pub fn z_receipt(style: &ReportStyle, store: &Store, closed: &ClosedShift) -> Receipt {
    report_receipt(
        style,
        store,
        &closed.shift,
        &closed.z.report(),
        Some(&closed.z),
    )
}

/// The X report (no `z`) or the Z of `shift`.
pub fn report_receipt(
    style: &ReportStyle,
    store: &Store,
    shift: &Shift,
    report: &ShiftReport,
    z: Option<&ZReport>,
) -> Receipt {
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
        currency: style.currency,
    };
    crate::receipt::shift_report(report, &meta, &style.header, style.language)
}

/// The slip of a paid in, a paid out or a no-sale opening; None for another operation.
pub fn cash_slip(style: &ReportStyle, record: &till_sync::ops::OpRecord) -> Option<Receipt> {
    crate::receipt::cash_slip(record, &style.header, style.language, style.currency)
}

/// The "退货 RETURN" slip of a committed return.
pub fn return_slip(style: &ReportStyle, committed: &CommittedReturn) -> Receipt {
    crate::receipt::return_receipt(committed, &style.header, style.language, style.currency)
}

/// The printer's header when there is a printer, so the screen and the paper say the same;
/// else the store's name.
pub fn receipt_header(config: &Config) -> Result<ReceiptHeader> {
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
pub fn receipt_language(config: &Config) -> Result<Language> {
    Ok(
        match (ReceiptPrinter::from_config(config)?, config.ui.language) {
            (Some(p), _) => p.language,
            (None, Lang::Zh) => Language::Zh,
            (None, Lang::En) => Language::En,
        },
    )
}

/// `ms` as this machine's local time, `2026-12-01 08:00`.
pub fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}
