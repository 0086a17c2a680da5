//! `till cash`: paid in, paid out and no-sale openings of the drawer, each with a reason
//! from the config, in the open shift; the drawer opens for each.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use till::config::Config;
use till::roles::Action;
use till_domain::Money;
use till_domain::shift::MovementKind;

use super::open;

#[derive(Subcommand, Debug)]
pub enum CashCommand {
    /// Put cash into the drawer: `till cash in 200 --reason change`.
    In {
        /// The amount, e.g. 200 or 12.50.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// One of `[cash] paid_in_reasons`: the whole reason, a word of it, or its number.
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        staff: String,
    },
    /// Take cash out of the drawer: `till cash out 500 --reason safe`.
    Out {
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// One of `[cash] paid_out_reasons`: the whole reason, a word of it, or its number.
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        staff: String,
    },
    /// Open the drawer without a sale.
    NoSale {
        /// One of `[cash] no_sale_reasons`: the whole reason, a word of it, or its number.
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        staff: String,
    },
    /// The configured reasons.
    Reasons,
}

pub fn exec(data_dir: &Path, cmd: CashCommand) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    let (kind, amount, reason, staff) = match cmd {
        CashCommand::In {
            amount,
            reason,
            staff,
        } => (MovementKind::PaidIn, Some(amount), reason, staff),
        CashCommand::Out {
            amount,
            reason,
            staff,
        } => (MovementKind::PaidOut, Some(amount), reason, staff),
        CashCommand::NoSale { reason, staff } => (MovementKind::NoSale, None, reason, staff),
        CashCommand::Reasons => {
            for kind in MovementKind::ALL {
                println!("{}:", kind.as_str().replace('_', " "));
                for (i, reason) in config.movement_reasons(kind).iter().enumerate() {
                    println!("  {}. {reason}", i + 1);
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let action = match kind {
        MovementKind::PaidIn => Action::PaidIn,
        MovementKind::PaidOut => Action::PaidOut,
        MovementKind::NoSale => Action::NoSale,
    };
    super::authorize(&config, &store, &staff, action)?;
    let amount = match amount {
        Some(text) => parse_amount(&text, &config)?,
        None => 0,
    };
    let reason = config
        .movement_reason(kind, &reason)
        .map_err(anyhow::Error::msg)?;
    let record = store.cash_movement(&staff, None, kind, amount, &reason)?;
    let slip =
        till::reports::cash_slip(&till::reports::ReportStyle::from_config(&config)?, &record);
    let what = match kind {
        MovementKind::PaidIn => format!("paid in {}", Money::new(amount, config.currency)),
        MovementKind::PaidOut => format!("paid out {}", Money::new(amount, config.currency)),
        MovementKind::NoSale => "no sale".to_string(),
    };
    println!(
        "{what} ({reason}) in shift {}, operation #{}",
        record.shift.unwrap_or_default(),
        record.seq
    );
    super::open_drawer(&config);
    if let Some(slip) = slip {
        super::print_or_say(&config, &slip, None);
    }
    Ok(ExitCode::SUCCESS)
}

/// A positive amount of cash, in the till's currency.
fn parse_amount(text: &str, config: &Config) -> Result<i64> {
    let amount = Money::parse(text, config.currency).map_err(anyhow::Error::msg)?;
    if amount.minor() <= 0 {
        anyhow::bail!("{text:?} is not an amount of cash to move: it must be more than zero");
    }
    Ok(amount.minor())
}
