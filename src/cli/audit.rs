//! `till audit`: the operations chain, newest first: shift openings and Z reports, paid in
//! and out, no-sale openings, voids, logins and lockouts, with who did and who approved each.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use till_domain::Money;
use till_sync::ops::Op;

use super::open;
use super::report::local_time;

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only shift N's operations.
    #[arg(long)]
    shift: Option<u64>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

pub fn exec(data_dir: &Path, args: AuditArgs) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let money = |m: i64| Money::new(m, config.currency).to_string();
    let ops = store.recent_ops(args.shift, args.limit)?;
    if ops.is_empty() {
        println!("no operations recorded");
    }
    for r in ops {
        let detail = match &r.op {
            Op::ShiftOpen(o) => format!("float {}", money(o.float)),
            Op::ShiftClose(z) => format!(
                "Z: {} sales, net {}, counted {}, difference {}",
                z.sales_count,
                money(z.net),
                money(z.counted_cash),
                money(z.difference)
            ),
            Op::PaidIn(m) | Op::PaidOut(m) => format!("{} {}", money(m.amount), m.reason),
            Op::NoSale(n) => n.reason.clone(),
            Op::LineVoid(v) => format!("{} {}", v.name, money(v.amount)),
            Op::TicketCancel(c) => format!("{} lines, {}", c.lines, money(c.amount)),
            Op::Discount(d) => format!(
                "{} {}.{:02}%",
                d.sku.as_deref().unwrap_or("ticket"),
                d.basis_points / 100,
                d.basis_points % 100
            ),
            Op::PriceOverride(p) => format!("{} {} → {}", p.name, money(p.from), money(p.to)),
            Op::Login(s) | Op::Logout(s) => s.how.clone(),
            Op::Lockout(l) => format!("{} prompt, {} s", l.prompt, l.for_ms / 1000),
            Op::Return(r) => format!(
                "sale #{}: {} line(s), refund {}",
                r.sale_seq,
                r.lines.len(),
                money(r.refund)
            ),
        };
        let shift = r.shift.map(|n| format!("shift {n}")).unwrap_or_default();
        let approver = r
            .approver
            .as_deref()
            .map(|a| format!(" (approved by {a})"))
            .unwrap_or_default();
        println!(
            "#{:<5} {}  {:<9} {:<8} {:<13} {detail}{approver}",
            r.seq,
            local_time(r.at_ms),
            shift,
            r.staff,
            r.op.kind()
        );
    }
    Ok(ExitCode::SUCCESS)
}
