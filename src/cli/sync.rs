//! `till sync`: uploads sales to HQ now, or shows how syncing stands.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use till::checkout::CheckoutSettings;
use till::store::Store;

use super::open;

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Upload every pending sale now.
    Now {
        /// Sales per batch (at most 1 MiB gzipped; a larger batch is halved until it fits).
        #[arg(long, default_value_t = till::sync::DEFAULT_BATCH)]
        batch: u32,
        /// Tries per batch when HQ is unreachable, slow or failing.
        #[arg(long, default_value_t = 5)]
        attempts: u32,
        /// Seconds to wait for HQ's answer to one batch.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Pending sales, last success and last error.
    Status,
}

pub fn exec(data_dir: &Path, cmd: SyncCommand) -> Result<ExitCode> {
    let (config, mut store) = open(data_dir)?;
    match cmd {
        SyncCommand::Now {
            batch,
            attempts,
            timeout,
        } => {
            let pending = store.outbox_pending()?;
            let settings = CheckoutSettings::from_config(&config)?;
            let timeout = std::time::Duration::from_secs(timeout);
            let sync = |store: &mut Store, wait| {
                till::sync::sync_till(data_dir, store, &settings, timeout, batch, attempts, wait)
            };
            let report = match sync(&mut store, false) {
                Err(till::sync::SyncNowError::AlreadyRunning) => {
                    println!("a sync is already running on this till; waiting for it to finish");
                    sync(&mut store, true)
                }
                other => other,
            }
            .with_context(|| format!("syncing {pending} pending sales"))?;
            println!(
                "synced: {} accepted, {} already at HQ, {} refused, in {} batches; {} pending",
                report.accepted,
                report.duplicates,
                report.rejected.len(),
                report.batches,
                report.pending
            );
            if report.member_keys_added > 0 {
                println!(
                    "{} new member-code key(s) from HQ: this till verifies codes signed with them",
                    report.member_keys_added
                );
            }
            if report.enrollments > 0 {
                println!(
                    "{} member enrollment(s) filed at HQ, {} joined an existing member",
                    report.enrollments, report.enrollments_merged
                );
            }
            if report.members_changed > 0 {
                println!("{} member(s) updated from HQ", report.members_changed);
            }
            if let Some(version) = report.catalog_version {
                println!(
                    "catalog version {version} from HQ: {} product(s) added or changed",
                    report.products_changed
                );
            }
            if let Some(rule) = report.loyalty_rule {
                println!(
                    "loyalty rule {} from HQ: {} point(s) per yuan on new sales",
                    rule.version, rule.points_per_yuan
                );
            }
            if report.ops_filed > 0 {
                println!(
                    "{} operation(s) filed at HQ (shifts, Z reports, cash movements, audit)",
                    report.ops_filed
                );
            }
            for (seq, reason) in &report.rejected {
                println!("sale #{seq} refused by HQ: {reason}");
            }
            for (seq, reason) in &report.ops_rejected {
                println!("operation #{seq} refused by HQ: {reason}");
            }
            Ok(
                if report.rejected.is_empty() && report.ops_rejected.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
        SyncCommand::Status => {
            let hq = store.setting("hq_url")?;
            println!("HQ: {}", hq.as_deref().unwrap_or("not registered"));
            println!("pending sales: {}", store.outbox_pending()?);
            println!("pending operations: {}", store.ops_pending()?);
            println!(
                "nightly sync: {} (this till's part of the chain's {})",
                config.nightly_sync_window(),
                config.sync_window
            );
            let last = store
                .setting("sync.last_success_ms")?
                .and_then(|ms| ms.parse().ok())
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map_or("never".to_string(), |t| {
                    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
                });
            println!("last success: {last}");
            let version = store.setting("catalog.version")?;
            println!(
                "catalog version from HQ: {}",
                version.as_deref().unwrap_or("none yet")
            );
            let rule = store.loyalty_rule()?;
            println!(
                "loyalty rule: {} ({} point(s) per yuan{})",
                rule.version,
                rule.points_per_yuan,
                if rule.version == 0 {
                    ", built in until HQ publishes one"
                } else {
                    ""
                }
            );
            let error = store.setting("sync.last_error")?.filter(|e| !e.is_empty());
            println!("last error: {}", error.as_deref().unwrap_or("none"));
            for (seq, reason) in store.outbox_rejected()? {
                println!("sale #{seq} refused by HQ: {reason}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
