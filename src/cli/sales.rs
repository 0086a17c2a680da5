//! `till sales`: lists committed sales, shows one, and prints a receipt again.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use till_domain::Money;

use super::view::render_sale;
use super::{open, report_printing};

#[derive(Subcommand, Debug)]
pub enum SalesCommand {
    /// The newest sales first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One sale in full.
    Show { seq: u64 },
    /// Print a sale's receipt again, marked COPY.
    Reprint { seq: u64 },
}

pub fn exec(data_dir: &Path, cmd: SalesCommand) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    match cmd {
        SalesCommand::List { limit } => {
            let sales = store.recent_sales(limit)?;
            if sales.is_empty() {
                println!("no sales yet");
            }
            for s in sales {
                let when = jiff::Timestamp::from_millisecond(s.created_at_ms)
                    .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                // The member ID, of any length (a provisional one is long), comes last so the
                // columns stay aligned.
                println!(
                    "#{:<6} {when} UTC  {:>3} line{}  {:>12}  {:<10}  {}",
                    s.seq,
                    s.line_count,
                    if s.line_count == 1 { " " } else { "s" },
                    Money::new(s.payable, store.currency()).to_string(),
                    if s.synced { "synced" } else { "not synced" },
                    s.member_id.as_deref().unwrap_or("anonymous"),
                );
            }
        }
        SalesCommand::Show { seq } => {
            print!("{}", render_sale(&store.sale(seq)?, &config));
            let (_, lines) = store.returnable(seq)?;
            for l in lines
                .iter()
                .filter(|l| l.refunded > 0 || l.left_milli < l.sold_milli)
            {
                println!(
                    "returned: line {} {}, {} of {}, refunded {}",
                    l.line_no,
                    l.name_zh,
                    till_domain::Quantity::from_milli(l.sold_milli - l.left_milli),
                    till_domain::Quantity::from_milli(l.sold_milli),
                    Money::new(l.refunded, store.currency())
                );
            }
        }
        SalesCommand::Reprint { seq } => {
            store.sale(seq)?;
            let printer = till::printing::ReceiptPrinter::from_config(&config)?
                .context("no printer configured; set [printer] address in config.toml")?;
            store.enqueue_receipt(seq, true)?;
            report_printing(&store, &printer);
        }
    }
    Ok(ExitCode::SUCCESS)
}
