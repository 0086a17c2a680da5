//! `till report`: the X report of the open shift, and the Z report of a closed one, on screen
//! and, with `--print`, on the receipt printer.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use till::config::Config;
pub(crate) use till::reports::local_time;
use till::reports::{ReportStyle, report_receipt, z_receipt};
use till::store::{Shift, Store};

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
                report_receipt(
                    &ReportStyle::from_config(&config)?,
                    &store,
                    &shift,
                    &report,
                    None,
                ),
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
                z_receipt(
                    &ReportStyle::from_config(&config)?,
                    &store,
                    &store.z_report(number)?,
                ),
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
        z_receipt(
            &ReportStyle::from_config(config)?,
            store,
            &store.z_report(shift.number)?,
        )
    } else {
        let (_, report) = store.x_report()?;
        report_receipt(
            &ReportStyle::from_config(config)?,
            store,
            shift,
            &report,
            None,
        )
    };
    print!("{}", super::view::render_receipt(&receipt));
    Ok(())
}
