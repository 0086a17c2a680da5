//! Syncing this terminal's outbox to HQ: in sequence order, in batches, retried with back-off
//! and jitter, and acknowledged only from HQ's answer, so a sale reaches HQ exactly once
//! whatever fails on the way.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use till_sync::api::SaleStatus;
use till_sync::client::{SyncClient, SyncError};

use crate::store::{Store, StoreError};

/// The terminal's bearer token lives in this file, readable by its owner only.
pub const TOKEN_FILE: &str = "hq-token";

#[derive(Debug, thiserror::Error)]
pub enum SyncNowError {
    #[error("this terminal is not registered with HQ; run `till register --hq URL --code CODE`")]
    NotRegistered,
    #[error(transparent)]
    Hq(#[from] SyncError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read or write the HQ token: {0}")]
    Token(#[from] std::io::Error),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<(u64, String)>,
    pub batches: u64,
    pub pending: u64,
}

/// Stores HQ's address and the token registration gave, the token with 0600 permissions.
pub fn save_registration(
    data_dir: &Path,
    store: &Store,
    hq: &str,
    token: &str,
) -> Result<(), SyncNowError> {
    let path = data_dir.join(TOKEN_FILE);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    store.set_setting("hq_url", hq)?;
    Ok(())
}

/// The client for this terminal's HQ, if it is registered.
pub fn client(
    data_dir: &Path,
    store: &Store,
    timeout: Duration,
) -> Result<SyncClient, SyncNowError> {
    let url = store
        .setting("hq_url")?
        .ok_or(SyncNowError::NotRegistered)?;
    let token = match std::fs::read_to_string(data_dir.join(TOKEN_FILE)) {
        Ok(token) => token,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SyncNowError::NotRegistered);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(SyncClient::new(&url, token.trim(), timeout)?)
}

/// The wait before retry `attempt` (0-based): 0.5 s doubling to 30 s, plus up to 25 % jitter
/// so that a chain's tills do not all retry in the same instant.
pub fn retry_delay(attempt: u32) -> Duration {
    let base = Duration::from_millis(500u64 << attempt.min(6)).min(Duration::from_secs(30));
    base + base.mul_f64(fastrand::f64() * 0.25)
}

/// Uploads everything pending, `batch` sales at a time, trying each batch up to `attempts`
/// times while the failure is one a retry can fix.
pub fn sync_now(
    store: &mut Store,
    client: &SyncClient,
    batch: u32,
    attempts: u32,
) -> Result<SyncReport, SyncNowError> {
    let mut report = SyncReport::default();
    let result = upload_all(store, client, batch, attempts, &mut report);
    let now = jiff::Timestamp::now().as_millisecond().to_string();
    match &result {
        Ok(()) => {
            store.set_setting("sync.last_success_ms", &now)?;
            store.set_setting("sync.last_error", "")?;
        }
        Err(e) => store.set_setting("sync.last_error", &e.to_string())?,
    }
    result?;
    report.pending = store.outbox_pending()?;
    Ok(report)
}

fn upload_all(
    store: &mut Store,
    client: &SyncClient,
    batch: u32,
    attempts: u32,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    loop {
        let sales = store.outbox_batch(batch.max(1))?;
        if sales.is_empty() {
            return Ok(());
        }
        let mut attempt = 0;
        let response = loop {
            match client.upload(&sales) {
                Ok(response) => break response,
                Err(e) if e.is_retryable() && attempt + 1 < attempts.max(1) => {
                    std::thread::sleep(retry_delay(attempt));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        report.batches += 1;
        let mut held = Vec::new();
        let mut refused = 0;
        for result in &response.results {
            // Only answers about sales in this batch count.
            if !sales
                .iter()
                .any(|s| s.record.seq == result.seq && s.record.sale_id == result.sale_id)
            {
                continue;
            }
            match result.status {
                SaleStatus::Accepted => {
                    report.accepted += 1;
                    held.push(result.seq);
                }
                SaleStatus::Duplicate => {
                    report.duplicates += 1;
                    held.push(result.seq);
                }
                SaleStatus::Rejected => {
                    let reason = result.reason.clone().unwrap_or_else(|| "rejected".into());
                    store.reject_in_outbox(result.seq, &reason)?;
                    report.rejected.push((result.seq, reason));
                    refused += 1;
                }
            }
        }
        if held.is_empty() && refused == 0 {
            return Err(
                SyncError::BadResponse("HQ answered for none of the sales sent".into()).into(),
            );
        }
        store.acknowledge(&held)?;
    }
}
