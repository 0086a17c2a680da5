//! Syncing this terminal's outbox to HQ: in sequence order, in batches, retried with back-off
//! and jitter, and acknowledged only from HQ's answer, so a sale reaches HQ exactly once
//! whatever fails on the way.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use till_domain::SyncWindow;
use till_sync::api::SaleStatus;
use till_sync::client::{SyncClient, SyncError};
use till_sync::member::{ClaimKey, CodePublicKey, PhonePepper};

use crate::catalog::{ImportRules, apply_published};
use crate::checkout::CheckoutSettings;
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
    /// HQ's catalog has products this terminal cannot take; nothing of it was applied.
    #[error("catalog version {version} from HQ was not applied: {reasons}")]
    CatalogRefused { version: u64, reasons: String },
    #[error(transparent)]
    Catalog(#[from] crate::catalog::ImportError),
    /// Another process or thread is syncing this till right now.
    #[error("a sync is already running on this till")]
    AlreadyRunning,
}

/// The file whose lock says a sync is running, in the data dir.
pub const SYNC_LOCK_FILE: &str = "sync.lock";

/// Held while a sync runs: an advisory lock on [`SYNC_LOCK_FILE`], so that only one sync of a
/// till runs at a time, across its processes (the touchscreen's background sync, `till sync
/// now`, `till run`). The operating system drops it if the process dies.
#[derive(Debug)]
pub struct SyncLock {
    _file: std::fs::File,
}

impl SyncLock {
    /// Takes the lock, waiting for a sync that holds it when `wait`, or else answering
    /// [`SyncNowError::AlreadyRunning`].
    pub fn acquire(data_dir: &Path, wait: bool) -> Result<SyncLock, SyncNowError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join(SYNC_LOCK_FILE))?;
        if wait {
            file.lock()?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(SyncNowError::AlreadyRunning);
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
            }
        }
        Ok(SyncLock { _file: file })
    }
}

/// One sync of the till in `data_dir` with its HQ, the way every front-end syncs: under the
/// till's [`SyncLock`] (see [`SyncLock::acquire`] for `wait`), then [`sync_now`].
pub fn sync_till(
    data_dir: &Path,
    store: &mut Store,
    settings: &CheckoutSettings,
    timeout: Duration,
    batch: u32,
    attempts: u32,
    wait: bool,
) -> Result<SyncReport, SyncNowError> {
    let _lock = SyncLock::acquire(data_dir, wait)?;
    let client = client(data_dir, store, timeout)?;
    sync_now(store, &client, settings, batch, attempts)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<(u64, String)>,
    pub batches: u64,
    pub pending: u64,
    /// Member keys from HQ this till did not have.
    pub member_keys_added: u64,
    /// Members enrolled here that HQ filed, and how many of them joined an existing member.
    pub enrollments: u64,
    pub enrollments_merged: u64,
    /// Members HQ sent that were new or changed.
    pub members_changed: u64,
    /// The catalog version this sync brought the till to, if HQ had a newer one.
    pub catalog_version: Option<u64>,
    /// Products the new catalog version added or changed here.
    pub products_changed: u64,
    /// The loyalty rule this sync brought the till to, if HQ had a newer one.
    pub loyalty_rule: Option<till_sync::loyalty::LoyaltyRule>,
    /// Operations (shifts, Z reports, cash movements, audit events) HQ filed, and those it
    /// refused, with its reason.
    pub ops_filed: u64,
    pub ops_rejected: Vec<(u64, String)>,
}

/// Sales per upload batch. HQ's per-batch cost (a commit, a few round trips) is what
/// separates its PostgreSQL ingest from a bare `COPY`: at 2,000 it reaches the 30 % target,
/// at 1,000 it does not (BENCHMARKS.md). 2,000 typical sales are about 300 KB gzipped, and
/// [`till_sync::client::fitting_batch`] halves any batch over 1 MiB.
pub const DEFAULT_BATCH: u32 = 2000;

/// The setting holding the catalog version HQ last published to this till.
const CATALOG_VERSION: &str = "catalog.version";

/// Stores HQ's address, the CA to trust for it (if the chain runs its own) and what HQ's
/// answer to registration gave: the token (with 0600 permissions), HQ's public address and
/// this terminal's claim key ([`SyncError::BadResponse`] if that is not 64 hex characters).
pub fn save_registration(
    data_dir: &Path,
    store: &Store,
    hq: &str,
    ca: Option<&Path>,
    registered: &till_sync::api::RegisterResponse,
) -> Result<(), SyncNowError> {
    let claim_key = ClaimKey::parse_hex(&registered.claim_key)
        .map_err(|_| SyncError::BadResponse("the claim key is not 64 hex characters".into()))?;
    let pepper = PhonePepper::parse_hex(&registered.phone_pepper)
        .map_err(|_| SyncError::BadResponse("the phone pepper is not 64 hex characters".into()))?;
    let (token, public_url) = (&registered.token, registered.public_url.as_deref());
    let path = data_dir.join(TOKEN_FILE);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    store.set_setting("hq_url", hq)?;
    store.set_setting(
        "hq_ca",
        &ca.map(|p| p.display().to_string()).unwrap_or_default(),
    )?;
    store.set_setting(HQ_PUBLIC_URL, public_url.unwrap_or_default())?;
    store.set_claim_key(&claim_key)?;
    store.set_phone_pepper(&pepper, true)?;
    // The member-code keys this till trusted came from elsewhere (a demo's, or an HQ it was
    // registered with before): only this HQ's keys, pulled at the first sync, verify codes now.
    store.forget_code_keys()?;
    Ok(())
}

/// The setting holding the public address HQ gave at registration.
const HQ_PUBLIC_URL: &str = "hq_public_url";

/// Applies what HQ told this till at registration to its config: HQ's public address, for
/// claim and join QR codes, unless the config names one itself.
pub fn apply_registration(
    config: &mut crate::config::Config,
    store: &Store,
) -> Result<(), StoreError> {
    let default = crate::config::MemberSection::default().public_url;
    if config.member.public_url == default
        && let Some(url) = store.setting(HQ_PUBLIC_URL)?.filter(|u| !u.is_empty())
    {
        config.member.public_url = url;
    }
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
    let ca = match store.setting("hq_ca")? {
        Some(path) if !path.is_empty() => Some(std::fs::read(&path)?),
        _ => None,
    };
    Ok(SyncClient::new(&url, token.trim(), timeout, ca.as_deref())?)
}

/// How long a return waits for HQ to send another terminal's sale.
pub const SALE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Another terminal's sale of this store, with the returns HQ has filed against it, for a
/// return here (`GET` [`till_sync::api::SALE_PATH`]). Errors: the till is not registered, HQ
/// cannot be reached, or HQ refuses (it does not hold the sale yet: 404).
pub fn sale_for_return(
    data_dir: &Path,
    store: &Store,
    receipt: &till_domain::scan::ReceiptCode,
) -> Result<till_sync::api::SaleForReturn, SyncNowError> {
    let client = client(data_dir, store, SALE_LOOKUP_TIMEOUT)?;
    Ok(client.sale_for_return(&receipt.store, &receipt.terminal, receipt.seq)?)
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
    settings: &CheckoutSettings,
    batch: u32,
    attempts: u32,
) -> Result<SyncReport, SyncNowError> {
    let mut report = SyncReport::default();
    // Enrollments go first, so HQ knows a new member before their first sale arrives; but
    // an enrollment HQ refuses never holds the sales back.
    let enrolled = upload_enrollments(store, client, &mut report);
    let result = upload_all(store, client, batch, attempts, &mut report)
        .and_then(|()| upload_ops(store, client, &mut report))
        .and_then(|()| pull_member_keys(store, client, &mut report))
        .and_then(|()| pull_members(store, client, &mut report))
        .and_then(|()| pull_catalog(store, client, settings, &mut report))
        .and_then(|()| pull_loyalty(store, client, &mut report))
        .and(enrolled);
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

/// Pulls what HQ gives this till to work offline: its public member-code keys (keeping any
/// this till lacks, oldest first, so that HQ's current key is the till's current one too),
/// this terminal's claim key and the chain's phone pepper.
fn pull_member_keys(
    store: &mut Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    let response = client.member_keys()?;
    // This terminal's claim key: HQ makes one for a till registered before claim keys, and
    // a new one when the terminal is reissued.
    let claim_key = ClaimKey::parse_hex(&response.claim_key)
        .map_err(|_| SyncError::BadResponse("the claim key is not 64 hex characters".into()))?;
    if store.claim_key()?.as_ref() != Some(&claim_key) {
        store.set_claim_key(&claim_key)?;
    }
    // The chain's phone pepper never changes: a different one is refused.
    let pepper = PhonePepper::parse_hex(&response.phone_pepper)
        .map_err(|_| SyncError::BadResponse("the phone pepper is not 64 hex characters".into()))?;
    store.set_phone_pepper(&pepper, false)?;
    // HQ's public member-code keys, oldest first; a key ID never changes its key.
    for entry in response.code_keys.iter().rev() {
        let key = CodePublicKey::parse_hex(entry.kid, &entry.public_key).map_err(|_| {
            SyncError::BadResponse(format!(
                "member-code key {} is not an Ed25519 public key in 64 hex characters",
                entry.kid
            ))
        })?;
        if store.add_code_key(&key)? {
            report.member_keys_added += 1;
        }
    }
    Ok(())
}

/// The setting holding the member version HQ last sent this till.
const MEMBERS_VERSION: &str = "members.version";

/// Sends members enrolled here, up to HQ's limit at a time, and adopts the final IDs HQ gives.
fn upload_enrollments(
    store: &mut Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    let pending = store.pending_enrollments()?;
    for chunk in pending.chunks(500) {
        let response = client.enroll(chunk)?;
        let mut aliases = Vec::new();
        for filed in &response.results {
            // Only answers about enrollments sent count.
            if chunk
                .iter()
                .any(|e| e.provisional_id == filed.provisional_id)
            {
                report.enrollments += 1;
                report.enrollments_merged += u64::from(filed.merged);
                aliases.push((filed.provisional_id.clone(), filed.member_id.clone()));
            }
        }
        store.apply_member_changes(&aliases, &[])?;
    }
    Ok(())
}

/// Uploads the operations journal HQ has not filed, oldest first, after the sales, so that a
/// Z reaches HQ after the sales it counts.
fn upload_ops(
    store: &mut Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    loop {
        let ops = store.pending_ops(till_sync::api::MAX_OPS as u32)?;
        if ops.is_empty() {
            return Ok(());
        }
        let response = client.upload_ops(&ops)?;
        // Only answers about operations sent count.
        let answers: Vec<_> = response
            .results
            .into_iter()
            .filter(|r| ops.iter().any(|op| op.record.seq == r.seq))
            .collect();
        if answers.is_empty() {
            return Err(SyncError::BadResponse(
                "HQ answered for none of the operations sent".into(),
            )
            .into());
        }
        for answer in &answers {
            match answer.status {
                SaleStatus::Accepted | SaleStatus::Duplicate => report.ops_filed += 1,
                SaleStatus::Rejected => report.ops_rejected.push((
                    answer.seq,
                    answer.reason.clone().unwrap_or_else(|| "rejected".into()),
                )),
            }
        }
        store.record_ops_filed(&answers)?;
    }
}

/// Pulls member changes since this till's version, a page at a time. Each page is applied in
/// one transaction and the version saved after it, so a crash in between only repeats a page,
/// which applies the same way twice.
fn pull_members(
    store: &mut Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    let mut since: u64 = store
        .setting(MEMBERS_VERSION)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    loop {
        let delta = client.members(since)?;
        if delta.version < since {
            return Err(SyncError::BadResponse(format!(
                "HQ's member version {} is behind this till's {since}",
                delta.version
            ))
            .into());
        }
        let aliases: Vec<(String, String)> = delta
            .aliases
            .iter()
            .map(|a| (a.provisional_id.clone(), a.member_id.clone()))
            .collect();
        store.apply_member_changes(&aliases, &delta.members)?;
        store.set_setting(MEMBERS_VERSION, &delta.version.to_string())?;
        report.members_changed += delta.members.len() as u64;
        if !delta.more || delta.version == since {
            return Ok(());
        }
        since = delta.version;
    }
}

/// Pulls the points rule HQ publishes with the catalog, and keeps it if it is newer: the
/// till's next sales are stamped with it.
fn pull_loyalty(
    store: &mut Store,
    client: &SyncClient,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    let sent = client.loyalty()?;
    // Checked as HQ checks it when publishing: a bad rate never reaches a sale.
    let rule = till_sync::loyalty::LoyaltyRule::new(sent.version, sent.points_per_yuan.into())
        .map_err(|e| SyncError::BadResponse(format!("HQ's loyalty rule: {e}")))?;
    if store.set_loyalty_rule(&rule)? {
        report.loyalty_rule = Some(rule);
    }
    Ok(())
}

/// Pulls the catalog HQ published since this till's version, every page, then applies it in
/// one transaction. Pages are fetched before anything is written, so a slow network never
/// holds the database while sales wait to commit.
fn pull_catalog(
    store: &mut Store,
    client: &SyncClient,
    settings: &CheckoutSettings,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    let since = store
        .setting(CATALOG_VERSION)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut page = client.catalog(since, None, "")?;
    let version = page.version;
    if version <= since {
        return Ok(());
    }
    let mut rows = std::mem::take(&mut page.rows);
    while page.more {
        let after = rows.last().map(|r| r.sku.clone()).unwrap_or_default();
        page = client.catalog(since, Some(version), &after)?;
        if page.rows.is_empty() {
            break;
        }
        rows.append(&mut page.rows);
    }
    let rules = ImportRules::for_terminal(settings, false, 0);
    let applied = apply_published(store, rows, &rules)?;
    if !applied.committed {
        let mut reasons: Vec<String> = applied
            .rejected
            .iter()
            .take(3)
            .map(|r| r.reason.clone())
            .collect();
        if applied.rejected.len() > 3 {
            reasons.push(format!("and {} more", applied.rejected.len() - 3));
        }
        return Err(SyncNowError::CatalogRefused {
            version,
            reasons: reasons.join("; "),
        });
    }
    store.set_setting(CATALOG_VERSION, &version.to_string())?;
    report.catalog_version = Some(version);
    report.products_changed = applied.stats.added + applied.stats.updated;
    Ok(())
}

fn upload_all(
    store: &mut Store,
    client: &SyncClient,
    batch: u32,
    attempts: u32,
    report: &mut SyncReport,
) -> Result<(), SyncNowError> {
    loop {
        let mut sales = store.outbox_batch(batch.max(1))?;
        if sales.is_empty() {
            return Ok(());
        }
        sales.truncate(till_sync::client::fitting_batch(&sales)?);
        let mut attempt = 0;
        let response = loop {
            match client.upload(&sales) {
                Ok(response) => break response,
                Err(e) if e.is_retryable() && attempt + 1 < attempts.max(1) => {
                    // A busy HQ says when to come back; the jittered back-off still spreads
                    // the tills it told the same thing.
                    let wait = retry_delay(attempt);
                    std::thread::sleep(e.retry_after().map_or(wait, |after| after + wait));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_with_jitter_and_a_ceiling() {
        for (attempt, base_ms) in [
            (0u32, 500u128),
            (1, 1000),
            (4, 8000),
            (6, 30_000),
            (30, 30_000),
        ] {
            let ms = retry_delay(attempt).as_millis();
            assert!(ms >= base_ms && ms <= base_ms * 5 / 4, "{attempt}: {ms}");
        }
    }
}

/// What the terminal knows about its syncing, for `till sync status` and the back office.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    pub hq_url: Option<String>,
    pub pending: u64,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

pub fn status(store: &Store) -> Result<SyncStatus, StoreError> {
    Ok(SyncStatus {
        hq_url: store.setting("hq_url")?.filter(|u| !u.is_empty()),
        pending: store.outbox_pending()?,
        last_success_ms: store
            .setting("sync.last_success_ms")?
            .and_then(|ms| ms.parse().ok()),
        last_error: store.setting("sync.last_error")?.filter(|e| !e.is_empty()),
    })
}

/// What the background sync thread reports.
#[derive(Debug)]
pub enum SyncEvent {
    Synced(Result<SyncReport, SyncNowError>),
    CheckpointFailed(StoreError),
}

/// Syncs with HQ on its own thread and database connection: by itself inside the nightly
/// `window` while sales are pending, and at once when woken through the returned sender.
/// Once a minute it also checkpoints the WAL, off the selling thread. The thread ends when
/// the sender is dropped or `report` returns false.
pub fn spawn_background(
    data_dir: std::path::PathBuf,
    settings: CheckoutSettings,
    window: SyncWindow,
    report: impl Fn(SyncEvent) -> bool + Send + 'static,
) -> std::io::Result<std::sync::mpsc::Sender<()>> {
    use std::sync::mpsc::RecvTimeoutError;
    let (wake, wakes) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || {
            let mut failures = 0u32;
            loop {
                let asked = match wakes.recv_timeout(Duration::from_secs(60)) {
                    Ok(()) => true,
                    Err(RecvTimeoutError::Timeout) => false,
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                let now = jiff::Zoned::now();
                let due = window.contains(now.hour().unsigned_abs(), now.minute().unsigned_abs());
                let Ok(mut store) = Store::open(&data_dir.join(crate::config::DATABASE_FILE))
                else {
                    continue;
                };
                if let Err(e) = store.checkpoint()
                    && !report(SyncEvent::CheckpointFailed(e))
                {
                    return;
                }
                if !asked && (!due || store.outbox_pending().unwrap_or(0) == 0) {
                    continue;
                }
                let result = sync_till(
                    &data_dir,
                    &mut store,
                    &settings,
                    Duration::from_secs(30),
                    DEFAULT_BATCH,
                    3,
                    false,
                );
                let failed = result.is_err();
                if !report(SyncEvent::Synced(result)) {
                    return;
                }
                if failed {
                    failures += 1;
                    // Inside the window, wait longer after each failure before trying again.
                    std::thread::sleep(retry_delay(failures.min(8)));
                } else {
                    failures = 0;
                }
            }
        })?;
    Ok(wake)
}
