//! `till journal`: checks the tamper-evident journals (sales, and operations: shifts, Z
//! reports, cash movements, audit events) and exports the sales' records.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::open;

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Walk both hash chains (sales, operations) and report the first gap or break in each.
    Verify,
    /// Write every sale's canonical record, one per line in sequence order, for an auditor or
    /// for `till-hq verify-journal`.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn exec(data_dir: &Path, cmd: JournalCommand) -> Result<ExitCode> {
    match cmd {
        JournalCommand::Verify => verify(data_dir),
        JournalCommand::Export { out } => export(data_dir, out),
    }
}

fn verify(data_dir: &Path) -> Result<ExitCode> {
    let (_, store) = open(data_dir)?;
    let sales = store.verify_journal()?;
    let ops = store.verify_ops_journal()?;
    match &sales.problem {
        None => println!(
            "journal ok: {} sales, chain head {}",
            sales.sales_checked,
            hex::encode(sales.last_hash)
        ),
        Some(problem) => println!(
            "journal broken: {problem} ({} sales before it verify)",
            sales.sales_checked
        ),
    }
    match &ops.problem {
        None => println!(
            "operations ok: {} records, chain head {}",
            ops.checked,
            hex::encode(ops.last_hash)
        ),
        Some(problem) => println!(
            "operations broken: {problem} ({} records before it verify)",
            ops.checked
        ),
    }
    Ok(if sales.problem.is_none() && ops.problem.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn export(data_dir: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let (_, store) = open(data_dir)?;
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let count = store.sales_count()?;
    for seq in 1..=count {
        sink.write_all(&store.sale(seq)?.canonical_bytes())?;
        sink.write_all(b"\n")?;
    }
    sink.flush()?;
    if let Some(path) = out {
        eprintln!("exported {count} sales to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
