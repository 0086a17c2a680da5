//! The `till` commands, one file per command. Each file holds its command's arguments (the
//! clap derive types) and an `exec` that takes them, parsed, and calls the library; `main.rs`
//! only declares the command tree and dispatches to them. What several commands share is
//! here: opening the terminal's config and database, and reporting on the print queue.

use std::path::Path;

use anyhow::{Result, bail};
use till::config::{CONFIG_FILE, Config, DATABASE_FILE};
use till::printing::{ReceiptPrinter, print_due};
use till::store::Store;

pub mod audit;
pub mod bench;
pub mod cash;
pub mod catalog;
pub mod debug;
pub mod demo;
pub mod devices;
pub mod init;
pub mod journal;
pub mod member;
pub mod register;
pub mod report;
pub mod returns;
pub mod run;
pub mod sales;
pub mod scan;
pub mod screenshot;
pub mod sell;
pub mod shift;
pub mod staff;
pub mod sync;
pub mod ui;

// Not commands: `till devices virtual-scanner`'s scanner, and the text view of a sale.
mod scanner;
mod view;

/// The terminal's config and database, checked to belong together.
pub(crate) fn open(data_dir: &Path) -> Result<(Config, Store)> {
    let config_path = data_dir.join(CONFIG_FILE);
    if !config_path.exists() {
        bail!(
            "no terminal set up in {}; run `till init` first",
            data_dir.display()
        );
    }
    let mut config = Config::load(&config_path)?;
    if config.member.points_per_yuan.is_some() {
        eprintln!(
            "till: note: [member] points_per_yuan in {} is ignored: HQ publishes the points \
             rule (`till-hq loyalty set`) and the till pulls it when it syncs",
            config_path.display()
        );
    }
    let store = Store::open(&data_dir.join(DATABASE_FILE))?;
    store.check_identity(&config.store_id, &config.terminal_id)?;
    till::sync::apply_registration(&mut config, &store)?;
    Ok((config, store))
}

/// Refuses `staff` an `action` their role may not do (`[roles]`). `cli`, the default on every
/// command, is the person at the shell, who owns the till and may do everything; any other ID
/// must be an active staff member.
pub(crate) fn authorize(
    config: &Config,
    store: &Store,
    staff: &str,
    action: till::roles::Action,
) -> Result<()> {
    if staff == "cli" {
        return Ok(());
    }
    let member = store
        .staff()?
        .into_iter()
        .find(|s| s.id == staff)
        .ok_or_else(|| anyhow::anyhow!("no active staff member {staff}"))?;
    config.roles.check(&member, action)?;
    Ok(())
}

/// Prints `receipt` (an X or Z report, a return) on the configured printer at once, or says
/// why not, with `again`, the command that prints it later, if there is one; never fails the
/// command, since what it prints is already recorded.
pub(crate) fn print_or_say(config: &Config, receipt: &till::receipt::Receipt, again: Option<&str>) {
    match ReceiptPrinter::from_config(config) {
        Ok(Some(printer)) => match printer.print_now(receipt) {
            Ok(()) => println!("printed"),
            Err(error) => match again {
                Some(again) => println!("printer: {error}; print it again with `{again}`"),
                None => println!("printer: {error}"),
            },
        },
        Ok(None) => {}
        Err(error) => println!("printer: {error}"),
    }
}

/// Pulses the cash drawer through the printer it is wired to, if there is one, and says how
/// it went; what opened it is recorded either way.
pub(crate) fn open_drawer(config: &Config) {
    use till::printing::CashDrawer;
    match ReceiptPrinter::from_config(config) {
        Ok(Some(printer)) => match printer.open_drawer() {
            Ok(_) => println!("drawer opened"),
            Err(error) => println!("the drawer did not open: {error}"),
        },
        Ok(None) => {}
        Err(error) => println!("printer: {error}"),
    }
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Prints what is due and says what happened, the way the till's status line would.
///
/// It writes to standard output but never fails for it: a reader that went away (`| head`)
/// must not turn a printed receipt into an error.
pub(crate) fn report_printing(store: &Store, printer: &ReceiptPrinter) {
    use std::io::Write;
    let line = match print_due(store, printer) {
        Ok(0) => return,
        Ok(n) => format!("printed {n} receipt{}", if n == 1 { "" } else { "s" }),
        Err(error) => {
            let pending = store.pending_print_jobs().map(|j| j.len()).unwrap_or(0);
            format!(
                "printer: {error}; {pending} receipt{} queued, retry with `till devices print-queue --retry`",
                if pending == 1 { "" } else { "s" }
            )
        }
    };
    let _ = writeln!(std::io::stdout(), "{line}");
}
