//! `till catalog`: imports and exports the product CSV, and looks a code up.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use till::catalog::{ImportRules, export_csv, import_csv};
use till::checkout::{Checkout, CheckoutSettings, ScanContext};
use till_domain::Money;

use super::open;

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Import products from a CSV (see README for the columns).
    Import {
        file: PathBuf,
        /// Import the good rows even if some rows are bad (bad rows are still listed).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Write the catalog as CSV, in the import format.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the product a barcode or internal code leads to.
    Lookup { code: String },
}

pub fn exec(data_dir: &Path, cmd: CatalogCommand) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    let settings = CheckoutSettings::from_config(&config)?;
    match cmd {
        CatalogCommand::Import { file, skip_invalid } => {
            let input =
                File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = indicatif::ProgressBar::new(size).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let rules = ImportRules::for_terminal(&settings, skip_invalid, size);
            let report = import_csv(
                &mut store,
                BufReader::with_capacity(1 << 16, input),
                &rules,
                |b| bar.set_position(b),
            )?;
            bar.finish_and_clear();
            for bad in &report.rejected {
                eprintln!("line {}: {}", bad.line, bad.reason);
            }
            if !report.committed {
                eprintln!(
                    "nothing imported: {} of {} rows are bad (use --skip-invalid to import the rest)",
                    report.rejected.len(),
                    report.rows
                );
                return Ok(ExitCode::FAILURE);
            }
            const SHOWN: usize = 20;
            for (line, sku, chars) in report.unshowable.iter().take(SHOWN) {
                let chars: String = chars.iter().collect();
                eprintln!(
                    "warning: line {line} (SKU {sku}): the touchscreen's font cannot show {chars}; \
                     they appear blank on a till without a font of its own"
                );
            }
            if report.unshowable.len() > SHOWN {
                eprintln!(
                    "warning: and {} more products whose names the font cannot show",
                    report.unshowable.len() - SHOWN
                );
            }
            println!(
                "imported {} products ({} added, {} updated, {} unchanged){}",
                report.stats.added + report.stats.updated + report.stats.unchanged,
                report.stats.added,
                report.stats.updated,
                report.stats.unchanged,
                if report.rejected.is_empty() {
                    String::new()
                } else {
                    format!("; skipped {} bad rows", report.rejected.len())
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Export { out } => {
            let count = match out {
                Some(path) => {
                    let file = File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let count = export_csv(&store, BufWriter::new(file))?;
                    eprintln!("exported {count} products to {}", path.display());
                    count
                }
                None => export_csv(&store, std::io::stdout().lock())?,
            };
            let _ = count;
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Lookup { code } => {
            let mut checkout = Checkout::new(store, settings, "lookup");
            match checkout.scan(&code, ScanContext::Sale) {
                Ok(_) => {
                    let line = &checkout.ticket().lines()[0];
                    let money = |m| Money::new(m, checkout.ticket().currency());
                    println!("sku        {}", line.item.sku);
                    println!("name       {} / {}", line.item.name_zh, line.item.name_en);
                    println!("price      {}", money(line.unit_price));
                    println!("quantity   {}", line.quantity);
                    println!(
                        "tax        {} ({})",
                        line.item.tax_class, line.item.tax_rate
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{code}: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
