//! `till init`: creates this terminal's config and database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use till::config::{CONFIG_FILE, Config, DATABASE_FILE};
use till::store::Store;
use till_domain::{Currency, TaxMode};

use super::file_name;

#[derive(Args, Debug)]
pub struct InitArgs {
    #[arg(long, value_name = "ID")]
    store_id: String,
    #[arg(long, value_name = "ID")]
    terminal_id: String,
    #[arg(long, default_value = "CNY")]
    currency: String,
    /// inclusive (prices include tax, the China default) or exclusive.
    #[arg(long, default_value = "inclusive")]
    tax_mode: String,
    #[arg(long, default_value = "")]
    store_name: String,
    /// Printed under the store name on receipts.
    #[arg(long, default_value = "")]
    store_address: String,
    #[arg(long, default_value = "")]
    tax_id: String,
    /// The receipt printer: tcp:HOST:PORT, usb:/dev/usb/lp0, serial:/dev/ttyUSB0 or file:PATH.
    #[arg(long)]
    printer: Option<String>,
    /// Printer columns: 32 for 58 mm paper, 48 for 80 mm.
    #[arg(long, default_value_t = 48)]
    columns: usize,
    /// Start over even if this terminal is set up; the old files are kept as a backup.
    #[arg(long)]
    force: bool,
}

pub fn exec(data_dir: &Path, args: InitArgs) -> Result<ExitCode> {
    let currency: Currency = args.currency.parse()?;
    let tax_mode: TaxMode = args.tax_mode.parse().map_err(anyhow::Error::msg)?;
    let mut config = Config::new(&args.store_id, &args.terminal_id, currency, tax_mode);
    config.store_name = args.store_name.clone();
    config.store_address = args.store_address.clone();
    config.tax_id = args.tax_id.clone();
    config.printer = args
        .printer
        .as_ref()
        .map(|address| till::config::PrinterConfig {
            address: address.clone(),
            baud: 9600,
            columns: args.columns,
            encoding: "gb18030".into(),
            language: Default::default(),
        });
    config.validate()?;
    let db = data_dir.join(DATABASE_FILE);
    let config_path = data_dir.join(CONFIG_FILE);
    if db.exists() || config_path.exists() {
        if !args.force {
            bail!(
                "a terminal is already set up in {}; use --force to start over (the old files are kept as a backup)",
                data_dir.display()
            );
        }
        let stamp = jiff::Timestamp::now().as_second();
        for path in [
            &db,
            &db.with_extension("db-wal"),
            &db.with_extension("db-shm"),
            &config_path,
        ] {
            if path.exists() {
                let backup = PathBuf::from(format!("{}.replaced-{stamp}", path.display()));
                std::fs::rename(path, &backup)
                    .with_context(|| format!("cannot move {} aside", path.display()))?;
                println!("kept the old {} as {}", file_name(path), backup.display());
            }
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    Store::create(&db, &config.store_id, &config.terminal_id, currency)?;
    std::fs::write(&config_path, config.to_toml())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    println!(
        "terminal {} of store {} set up in {} ({currency}, prices {tax_mode} of tax)",
        config.terminal_id,
        config.store_id,
        data_dir.display()
    );
    println!(
        "sales need an open shift: count the float with `till shift open --count 100=2 …` \
         (or Menu → Open shift on the touchscreen); `[shift] required` in config.toml"
    );
    Ok(ExitCode::SUCCESS)
}
