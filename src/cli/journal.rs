//! `till journal`: checks the tamper-evident sales journal and exports its records.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::open;

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Walk the hash chain and report the first gap or break.
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
    let report = store.verify_journal()?;
    match report.problem {
        None => {
            println!(
                "journal ok: {} sales, chain head {}",
                report.sales_checked,
                hex::encode(report.last_hash)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!(
                "journal broken: {problem} ({} sales before it verify)",
                report.sales_checked
            );
            Ok(ExitCode::FAILURE)
        }
    }
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
