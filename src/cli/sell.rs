//! `till sell`: rings up a whole sale from the command line, checked before anything is
//! written, and prints it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use till::checkout::members::now_step;
use till::checkout::{Checkout, CheckoutSettings, PhoneLookup, ScanContext, ScanOutcome};
use till_domain::{Currency, Money, Quantity, Tender, TenderKind};

use super::view::render_sale;
use super::{open, report_printing};

#[derive(Args, Debug)]
pub struct SellArgs {
    /// Codes to scan; `3*CODE` sells three, `0.356*CODE` sells 0.356 kg of a weighed product.
    #[arg(required = true)]
    codes: Vec<String>,
    /// A tender, KIND:AMOUNT[:REFERENCE], e.g. cash:100 or wechat_pay:12.50:134567890123456789.
    #[arg(long = "pay", required = true)]
    tenders: Vec<String>,
    #[arg(long, default_value = "cli")]
    cashier: String,
    /// The member the sale is for, by member ID. A member's QR code or card among the codes
    /// attaches them too; without any, the sale is anonymous.
    #[arg(long)]
    member: Option<String>,
    /// The member's phone number (`13812345678`, `+86 138-1234-5678`).
    #[arg(long)]
    phone: Option<String>,
    /// Enroll the customer with --phone if no member has it: they accepted the configured
    /// consent text.
    #[arg(long, requires = "phone")]
    enroll: bool,
}

pub fn exec(data_dir: &Path, args: SellArgs) -> Result<ExitCode> {
    let (config, store) = open(data_dir)?;
    let settings = CheckoutSettings::from_config(&config)?;
    let currency = settings.currency;
    let mut checkout = Checkout::new(store, settings, &args.cashier);
    // Everything is checked before anything is written: a refused sale uses no member code
    // (codes are spent in the sale's own transaction) and enrolls nobody.
    for spec in &args.codes {
        let (quantity, code) = match spec.split_once('*') {
            Some((q, code)) => (
                Some(Quantity::parse(q).with_context(|| format!("{q:?} is not a quantity"))?),
                code,
            ),
            None => (None, spec.as_str()),
        };
        let scanned = checkout.scan_with_quantity(code, ScanContext::Sale, quantity);
        match scanned.map_err(|e| naming(code, e))? {
            ScanOutcome::Added(_) => {}
            ScanOutcome::Member(member_code) => {
                checkout
                    .attach_code(&member_code, now_step(), false)
                    .map_err(|e| naming(code, e))?;
            }
            ScanOutcome::Receipt(receipt) => bail!(
                "{code} is the receipt of sale #{}: a sale sells products",
                receipt.seq
            ),
            ScanOutcome::PaymentReference(_) => {
                unreachable!("payment codes are refused on the sale screen")
            }
        }
    }
    if let Some(member_id) = &args.member {
        let member = checkout
            .store()
            .member(member_id)?
            .with_context(|| format!("no member {member_id} on this till"))?;
        checkout.attach(member, false)?;
    }
    let mut enroll = None;
    if let Some(keyed) = &args.phone {
        match checkout.find_by_phone(keyed)? {
            PhoneLookup::Member(member) => {
                checkout.attach(member, false)?;
            }
            PhoneLookup::NotEnrolled(phone) if args.enroll => {
                if let Some(current) = checkout.member() {
                    bail!(
                        "member {} is already on this sale: --phone {keyed} would be another",
                        current.member_id
                    );
                }
                enroll = Some(phone);
            }
            PhoneLookup::NotEnrolled(phone) => bail!(
                "no member has phone {}: add --enroll if the customer consents to join",
                phone.masked()
            ),
        }
    }
    for spec in &args.tenders {
        let tender = parse_tender(spec, currency)?;
        checkout
            .add_tender(tender)
            .with_context(|| format!("paying {spec}"))?;
    }
    checkout.ticket().ready_to_commit()?;
    // The printer's settings are read before the commit: once the sale is committed, this
    // command reports success whatever else goes wrong, so that no script rings it up twice.
    let printer = till::printing::ReceiptPrinter::from_config(&config)?;
    // Only a sale that will commit enrolls its customer.
    if let Some(phone) = enroll {
        let now = jiff::Timestamp::now().as_millisecond();
        checkout.enroll(&phone, now, false)?;
    }
    let drawer = printer
        .as_ref()
        .map(|p| p as &dyn till::printing::CashDrawer);
    let (committed, after) = checkout.sell(drawer)?;
    let seq = committed.record.seq;
    // A reader that has gone away (`| head`) gets no more lines; the sale stands.
    let _ = write!(
        std::io::stdout(),
        "{}",
        render_sale(&committed.record, &config)
    );
    for warning in after.warnings(seq) {
        let _ = writeln!(std::io::stderr(), "till: warning: {warning}");
    }
    // Between shifts a sale is in no Z report, so the drawer's count will not match it.
    if matches!(checkout.store().current_shift(), Ok(None)) {
        let _ = writeln!(
            std::io::stderr(),
            "till: note: no shift is open, so sale #{seq} is in no Z report; `till shift open`              opens one ([shift] required = true refuses such sales)"
        );
    }
    if let (Some(printer), Some(Ok(_))) = (&printer, &after.receipt) {
        report_printing(checkout.store(), printer);
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_tender(spec: &str, currency: Currency) -> Result<Tender> {
    let mut parts = spec.splitn(3, ':');
    let kind = parts.next().unwrap_or_default();
    let kind = TenderKind::parse(kind).with_context(|| {
        format!("unknown tender {kind:?}; use cash, card, wechat_pay, alipay or unionpay")
    })?;
    let amount = parts
        .next()
        .with_context(|| format!("tender {spec:?} needs an amount"))?;
    let amount = Money::parse(amount, currency)?;
    Ok(Tender {
        kind,
        amount: amount.minor(),
        reference: parts.next().map(str::to_string),
    })
}

/// An engine refusal about `code`, naming the code once: most refusals name it already.
fn naming(code: &str, error: till::checkout::CheckoutError) -> anyhow::Error {
    let text = error.to_string();
    if text.contains(code) {
        anyhow::Error::msg(text)
    } else {
        anyhow::anyhow!("{code}: {text}")
    }
}
