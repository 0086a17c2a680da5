//! `till scan classify`: what the scan classifier makes of codes, and whether a member code
//! verifies on this till now.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use till::checkout::members::now_step;
use till::checkout::{Checkout, CheckoutSettings};
use till::config::CONFIG_FILE;
use till_domain::{ScanConfig, classify};

use super::open;

#[derive(Subcommand, Debug)]
pub enum ScanCommand {
    /// One line per code: what the classifier makes of it.
    Classify {
        #[arg(required = true)]
        codes: Vec<String>,
    },
}

pub fn exec(data_dir: &Path, cmd: ScanCommand) -> Result<ExitCode> {
    match cmd {
        ScanCommand::Classify { codes } => classify_codes(data_dir, &codes),
    }
}

fn classify_codes(data_dir: &Path, codes: &[String]) -> Result<ExitCode> {
    // The classifier needs the catalog only for internal codes, so it also works before init.
    let opened = if data_dir.join(CONFIG_FILE).exists() {
        Some(open(data_dir)?)
    } else {
        None
    };
    let scan_config = opened.as_ref().map_or_else(
        || ScanConfig {
            member_card_prefix: None,
            weighed_layouts: till_domain::weighed::WeighedLayout::defaults(),
        },
        |(c, _)| c.scan_config(),
    );
    // A member code is checked as the till would at this moment, without spending it.
    let checkout = match opened {
        Some((config, store)) => Some(Checkout::new(
            store,
            CheckoutSettings::from_config(&config)?,
            "classify",
        )),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    for code in codes {
        let known = |c: &str| {
            checkout
                .as_ref()
                .is_some_and(|c2| c2.store().is_internal_code(c).unwrap_or(false))
        };
        let shown = if code.len() > 40 {
            format!(
                "{}… ({} bytes)",
                &code[..code.floor_char_boundary(40)],
                code.len()
            )
        } else {
            code.clone()
        };
        let scan = classify(code, &scan_config, &known);
        let verdict = match (&scan, &checkout) {
            (till_domain::Scan::Member(member_code), Some(checkout)) => {
                match checkout.check_member_code(member_code, now_step()) {
                    Ok(member) => format!("{scan}: verifies, member {}", member.member_id),
                    Err(refusal) => format!("{scan}: refused, {refusal}"),
                }
            }
            (till_domain::Scan::Member(_), None) => {
                format!("{scan}: not checked (no terminal set up here)")
            }
            _ => scan.to_string(),
        };
        writeln!(out, "{shown}\t{verdict}")?;
    }
    Ok(ExitCode::SUCCESS)
}
