//! `till-hq`: the HQ / SCRM backend. The server arrives with the sync issue; today the binary
//! can already check a terminal's exported journal with the same code HQ will run on upload.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use till_hq::verify_chain;

#[derive(Parser, Debug)]
#[command(
    name = "till-hq",
    version,
    about = "Till HQ: ingests every store's sales exactly once"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a journal given as canonical sale records, one JSON object per line, in sequence.
    VerifyJournal { file: std::path::PathBuf },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("till-hq: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::VerifyJournal { file } => {
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let lines: Vec<Vec<u8>> = std::io::BufReader::new(input)
                .split(b'\n')
                .filter(|l| l.as_ref().map_or(true, |l| !l.is_empty()))
                .collect::<Result<_, _>>()?;
            match verify_chain(lines.iter().map(Vec::as_slice)) {
                Ok(head) => {
                    println!(
                        "journal ok: {} sales, chain head {}",
                        lines.len(),
                        hex::encode(head)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("journal broken: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
