//! `till shift`: opens a shift with the float counted by denomination, closes it with a blind
//! count (its Z report), and shows shifts.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use till::config::Config;
use till::roles::Action;
use till::store::Store;
use till_domain::Money;
use till_domain::shift::{CashCount, Denominations, parse_count};

use super::open;
use super::report::show_shift;
use till::reports::{ReportStyle, z_receipt};

#[derive(Subcommand, Debug)]
pub enum ShiftCommand {
    /// Open a shift with the opening float counted by denomination.
    Open {
        #[command(flatten)]
        count: CountArgs,
        /// Who opens it (a staff ID).
        #[arg(long, default_value = "cli")]
        staff: String,
    },
    /// Close the open shift with a blind count of the drawer, and print its Z report.
    Close {
        #[command(flatten)]
        count: CountArgs,
        /// Who closes it (a staff ID).
        #[arg(long, default_value = "cli")]
        staff: String,
    },
    /// The open shift, or shift N.
    Show { number: Option<u64> },
    /// The newest shifts first, with each Z's cash difference.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// A drawer counted by denomination on the command line.
#[derive(Args, Debug)]
pub struct CountArgs {
    /// How many of one note or coin: `100=2` is two ¥100 notes, `0.5=3` three 5-jiao coins.
    /// Repeat it for each denomination; those not named count zero.
    #[arg(long = "count", value_name = "VALUE=N")]
    counts: Vec<String>,
    /// The drawer is empty (instead of any --count).
    #[arg(long, conflicts_with = "counts")]
    empty: bool,
}

impl CountArgs {
    /// The count, checked against the till's notes and coins.
    pub(crate) fn parse(&self, config: &Config) -> Result<CashCount> {
        let denominations = config.denominations()?;
        if self.counts.is_empty() && !self.empty {
            bail!(
                "count the drawer by denomination: --count 100=2 --count 0.5=3 … (this till's \
                 notes and coins: {}), or --empty",
                list(&denominations, config)
            );
        }
        let mut pairs: Vec<(i64, u32)> = Vec::new();
        for spec in &self.counts {
            let (value, n) = spec
                .split_once(['=', '*', 'x', '×'])
                .with_context(|| format!("--count {spec:?} is not VALUE=N, e.g. 100=2"))?;
            let value = Money::parse(
                value.trim().trim_start_matches(['¥', '￥']),
                config.currency,
            )
            .with_context(|| format!("--count {spec:?}"))?
            .minor();
            let n = parse_count(n).with_context(|| format!("--count {spec:?}"))?;
            if pairs.iter().any(|(v, _)| *v == value) {
                bail!("--count {spec:?}: that note or coin is counted twice");
            }
            if !denominations.values().contains(&value) {
                bail!(
                    "--count {spec:?}: {} is not one of this till's notes or coins ({})",
                    Money::new(value, config.currency),
                    list(&denominations, config)
                );
            }
            pairs.push((value, n));
        }
        denominations.count(&pairs).map_err(|e| {
            anyhow::anyhow!(
                "{e}; this till's notes and coins are {}",
                list(&denominations, config)
            )
        })
    }
}

fn list(denominations: &Denominations, config: &Config) -> String {
    denominations
        .values()
        .iter()
        .map(|v| Money::new(*v, config.currency).to_decimal_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn exec(data_dir: &Path, cmd: ShiftCommand) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    match cmd {
        ShiftCommand::Open { count, staff } => {
            super::authorize(&config, &store, &staff, Action::OpenShift)?;
            let float = count.parse(&config)?;
            let (shift, _) = store.open_shift(&staff, &float)?;
            println!(
                "shift {} open: float {}, first receipt #{}",
                shift.number,
                Money::new(shift.opening_float, config.currency),
                shift.first_receipt
            );
        }
        ShiftCommand::Close { count, staff } => {
            super::authorize(&config, &store, &staff, Action::CloseShift)?;
            if store.current_shift()?.is_none() {
                match store.shifts(1)?.first() {
                    Some(last) => bail!(
                        "no shift is open: shift {} closed at {} (its Z: `till report z {}`); \
                         `till shift open` opens the next",
                        last.number,
                        last.closed_at_ms
                            .map(super::report::local_time)
                            .unwrap_or_default(),
                        last.number
                    ),
                    None => bail!("no shift is open: `till shift open` opens the first"),
                }
            }
            let counted = count.parse(&config)?;
            let closed = store.close_shift(&staff, &counted)?;
            let receipt = z_receipt(&ReportStyle::from_config(&config)?, &store, &closed);
            print!("{}", super::view::render_receipt(&receipt));
            let again = format!("till report z {} --print", closed.shift.number);
            super::print_or_say(&config, &receipt, Some(&again));
        }
        ShiftCommand::Show { number } => show(&config, &store, number)?,
        ShiftCommand::List { limit } => {
            let shifts = store.shifts(limit)?;
            if shifts.is_empty() {
                println!("no shifts yet");
            }
            for shift in shifts {
                let money = |m: i64| Money::new(m, config.currency).to_string();
                let state = match shift.closed_at_ms {
                    None => "open".to_string(),
                    Some(_) => {
                        let z = store.z_report(shift.number)?.z;
                        format!(
                            "closed  {} sales  net {}  counted {}  difference {}",
                            z.sales_count,
                            money(z.net),
                            money(z.counted_cash),
                            money(z.difference)
                        )
                    }
                };
                println!(
                    "shift {:<4} opened {} by {:<8} {state}",
                    shift.number,
                    super::report::local_time(shift.opened_at_ms),
                    shift.opened_by
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(config: &Config, store: &Store, number: Option<u64>) -> Result<()> {
    let shift = match number {
        Some(n) => store.shift(n)?,
        None => store
            .current_shift()?
            .context("no shift is open; `till shift list` shows the closed ones")?,
    };
    show_shift(config, store, &shift)
}
