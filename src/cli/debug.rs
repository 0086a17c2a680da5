//! `till debug`: test hooks for the crash test; hidden from help.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use till::checkout::{Checkout, CheckoutSettings, ScanContext};
use till_domain::{Tender, TenderKind};

use super::open;

#[derive(Subcommand, Debug)]
pub enum DebugCommand {
    /// Commit sales in a loop, printing `committed SEQ TOTAL HASH` after each durable commit.
    CommitLoop {
        #[arg(long, default_value_t = u64::MAX)]
        max: u64,
    },
}

pub fn exec(data_dir: &Path, cmd: DebugCommand) -> Result<ExitCode> {
    match cmd {
        DebugCommand::CommitLoop { max } => commit_loop(data_dir, max),
    }
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
