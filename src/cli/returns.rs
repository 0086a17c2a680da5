//! `till return`: a return of this terminal's sale by its receipt code (or number): without
//! lines, what is left to return of each; with lines, the return itself, its "退货 RETURN"
//! receipt and, for a cash refund, the drawer.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use till::config::Config;
use till::roles::Action;
use till::store::{Store, StoreError};
use till_domain::returns::{ManagerReason, ReturnError};
use till_domain::scan::ReceiptCode;
use till_domain::{Money, Quantity};

use super::open;
use super::report::local_time;

#[derive(Args, Debug)]
pub struct ReturnArgs {
    /// The receipt's barcode (`TR1.S001.T01.42`) or its number (`42`).
    receipt: String,
    /// A line and how many to take back: `1=2` (two of line 1), `3=0.25` (0.25 kg of a
    /// weighed line 3). Repeat for each line.
    #[arg(long = "line", value_name = "N=QTY")]
    lines: Vec<String>,
    /// Take back everything still left on the receipt.
    #[arg(long, conflicts_with = "lines")]
    all: bool,
    /// Why the customer returned it.
    #[arg(long, default_value = "")]
    reason: String,
    #[arg(long, default_value = "cli")]
    staff: String,
    /// The manager who approves a return past the window or over the limit (a staff ID).
    #[arg(long, value_name = "MANAGER")]
    approved_by: Option<String>,
}

pub fn exec(data_dir: &Path, args: ReturnArgs) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    let (seq, other) = sale_number(&args.receipt, &config)?;
    // Another terminal's sale of this store is looked up at HQ, with the returns filed
    // against it there.
    let found = match &other {
        None => None,
        Some(code) => Some(till::sync::sale_for_return(data_dir, &store, code).map_err(|e| {
            anyhow::anyhow!(
                "receipt {} is from terminal {}, and HQ could not send it: {e}; nothing was returned",
                code.encode(),
                code.terminal
            )
        })?),
    };
    let (sale, lines) = match &found {
        None => store.returnable(seq)?,
        Some(found) => (found.sale.clone(), store.returnable_from_hq(found)?),
    };
    let qty = |milli: i64| Quantity::from_milli(milli).to_string();
    let money = |minor: i64| Money::new(minor, config.currency).to_string();
    if args.lines.is_empty() && !args.all {
        println!(
            "sale #{seq} · {} · {}",
            local_time(sale.created_at_ms),
            match &sale.attribution {
                till_sync::Attribution::Member { member_id } => format!("member {member_id}"),
                till_sync::Attribution::Anonymous { .. } => "anonymous".to_string(),
            }
        );
        for l in &lines {
            // Padded by display width: a Chinese character takes two columns.
            let pad =
                24usize.saturating_sub(unicode_width::UnicodeWidthStr::width(l.name_zh.as_str()));
            println!(
                "  line {:<3} {}{} sold {:>7}  left {:>7}  {:>10}",
                l.line_no,
                l.name_zh,
                " ".repeat(pad),
                qty(l.sold_milli),
                qty(l.left_milli),
                money(l.total - l.refunded)
            );
        }
        if lines.iter().all(|l| l.left_milli == 0) {
            println!("everything on sale #{seq} has been returned");
        } else {
            println!("pick lines with --line N=QTY, or --all");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let picks: Vec<(u32, i64)> = if args.all {
        lines
            .iter()
            .filter(|l| l.left_milli > 0)
            .map(|l| (l.line_no, l.left_milli))
            .collect()
    } else {
        args.lines
            .iter()
            .map(|spec| parse_pick(spec))
            .collect::<Result<_>>()?
    };
    if picks.is_empty() {
        bail!("nothing is left to return of sale #{seq}");
    }
    super::authorize(&config, &store, &args.staff, Action::Return)?;
    let approver = match &args.approved_by {
        Some(id) => Some(approver(&config, &store, id)?),
        None => None,
    };
    let request = till::store::ReturnRequest {
        sale_seq: seq,
        lines: picks,
        reason: args.reason.trim().to_string(),
        policy: config.return_policy()?,
    };
    let committed = match &found {
        None => store.commit_return(&args.staff, approver.as_deref(), &request),
        Some(found) => {
            store.commit_return_of_hq_sale(&args.staff, approver.as_deref(), found, &request)
        }
    };
    let committed = match committed {
        Ok(c) => c,
        Err(StoreError::ReturnNeedsManager(reason)) => bail!(
            "{}: a manager must approve it (--approved-by MANAGER)",
            match reason {
                ManagerReason::PastWindow { days } =>
                    format!("sale #{seq} is older than the {days}-day return window"),
                ManagerReason::OverLimit { limit } =>
                    format!("the refund is over the {} approval limit", money(limit)),
            }
        ),
        Err(StoreError::Return(ReturnError::TooMuch {
            line_no,
            left_milli: 0,
        })) => bail!("line {line_no} has already been returned in full; nothing was returned"),
        Err(StoreError::Return(ReturnError::TooMuch {
            line_no,
            left_milli,
        })) => {
            let unit = lines
                .iter()
                .find(|l| l.line_no == line_no)
                .filter(|l| l.weighed)
                .map_or("", |_| " kg");
            bail!(
                "line {line_no}: only {}{unit} left to return; nothing was returned",
                qty(left_milli)
            )
        }
        Err(e) => return Err(e).context("nothing was returned"),
    };
    let receipt = till::reports::return_slip(
        &till::reports::ReportStyle::from_config(&config)?,
        &committed,
    );
    print!("{}", super::view::render_receipt(&receipt));
    super::print_or_say(&config, &receipt, None);
    if committed.ret.tenders.iter().any(|t| t.kind == "cash") {
        super::open_drawer(&config);
    }
    Ok(ExitCode::SUCCESS)
}

/// The sale number a receipt code or a typed number names, and the receipt code when it is
/// another terminal's of this store (whose sale HQ sends). A receipt of another store, or
/// text that is neither, is refused with the reason.
fn sale_number(typed: &str, config: &Config) -> Result<(u64, Option<ReceiptCode>)> {
    let typed = typed.trim();
    if let Some(code) = ReceiptCode::parse(typed) {
        if code.store != config.store_id {
            bail!(
                "receipt {typed} is from store {}: this till ({}/{}) takes returns of its own store's sales",
                code.store,
                config.store_id,
                config.terminal_id
            );
        }
        let seq = code.seq;
        let other = (code.terminal != config.terminal_id).then_some(code);
        return Ok((seq, other));
    }
    if typed.len() >= 8 && typed.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "{typed} looks like a product barcode: scan the receipt's barcode (TR1.…) or type the sale number"
        );
    }
    let seq = typed
        .trim_start_matches('#')
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| {
            format!("{typed:?} is not a receipt code (TR1.STORE.TERMINAL.NUMBER) nor a sale number")
        })?;
    Ok((seq, None))
}

/// `N=QTY` as `(line, thousandths)`.
fn parse_pick(spec: &str) -> Result<(u32, i64)> {
    let (line, qty) = spec
        .split_once('=')
        .with_context(|| format!("--line {spec:?} is not N=QTY, e.g. 1=2"))?;
    let line: u32 = line
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("--line {spec:?}: {line:?} is not a line number"))?;
    let qty = Quantity::parse(qty.trim())
        .with_context(|| format!("--line {spec:?}: {qty:?} is not a quantity"))?;
    Ok((line, qty.milli()))
}

/// The active staff member `id`, if their role may approve a return (`[roles]`: managers
/// always), or why not.
fn approver(config: &Config, store: &Store, id: &str) -> Result<String> {
    let staff = store.staff()?;
    let member = staff
        .iter()
        .find(|s| s.id == id)
        .with_context(|| format!("no active staff member {id}"))?;
    config.roles.check(member, Action::ApproveReturn)?;
    Ok(member.id.clone())
}
