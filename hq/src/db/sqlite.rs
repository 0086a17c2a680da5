//! The embedded SQLite backend of [`HqStore`]; ingest runs in one transaction per batch, so a
//! batch is stored whole or not at all, and sales are unique by sale ID and by (store, terminal,
//! sequence). This file holds the connection, stores, terminals and their tokens, member keys
//! and settings; the schema, sales, members and claims, and what HQ publishes (the catalog and
//! the points rules) are in its submodules.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use till_sync::api::{MemberDelta, UploadResponse, UploadedSale};
use till_sync::catalog::{CatalogDelta, CatalogRow};
use till_sync::loyalty::LoyaltyRule;

use crate::catalog::Published;

use super::{
    Analytics, Device, HqError, HqStore, MemberTx, Registered, Result, SmsCodeCheck, StoreSummary,
    StoredPhone, TerminalId, TerminalStatus, chain_status, code_key, digest, hex_keys,
    new_member_key, secret, sms_code_outcome,
};
use till_sync::member::{ClaimKey, CodeSigningKey, MemberKey};

mod members;
mod ops;
mod publish;
mod sales;
pub(crate) mod schema;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// HQ's SQLite database: one writer, behind a mutex (SQLite takes one writer at a time
/// anyway), and a pool of read-only connections, which WAL lets read while a batch is being
/// written, so a claim page or a member pull never waits for an ingest.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: r2d2::Pool<Readers>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

/// Opens read-only connections to one database file for [`SqliteStore`]'s pool.
#[derive(Debug)]
struct Readers {
    path: PathBuf,
}

impl r2d2::ManageConnection for Readers {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A reader never writes: a write through one is a bug, refused by SQLite.
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Readers per store: enough for the requests a 2-core node runs at once.
const READERS: u32 = 8;

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        schema::migrate(&mut conn)?;
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .build(Readers {
                path: path.to_path_buf(),
            })
            .map_err(|e| HqError::Backend(format!("cannot open readers: {e}")))?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers,
        })
    }

    /// The writer. A request that panicked while holding it left no transaction open (a
    /// `Transaction` rolls back when dropped), so its poison is ignored.
    fn w(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A read-only connection from the pool.
    fn r(&self) -> Result<r2d2::PooledConnection<Readers>> {
        self.readers
            .get()
            .map_err(|e| HqError::Backend(format!("no database reader: {e}")))
    }
}

impl Analytics for SqliteStore {
    fn summaries(&self) -> Result<Vec<StoreSummary>> {
        self.summaries_impl()
    }

    fn z_reports(
        &self,
        store: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::db::ops::ZReportRow>> {
        self.z_reports_impl(store, limit)
    }

    fn terminals(&self) -> Result<Vec<TerminalStatus>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare(
            "SELECT t.store_id, t.terminal_id, t.token_hash IS NOT NULL, t.last_sync_ms,
                    coalesce(max(s.seq), 0), count(s.seq)
             FROM terminals t LEFT JOIN sales s ON s.store_id = t.store_id AND s.terminal_id = t.terminal_id
             GROUP BY t.store_id, t.terminal_id ORDER BY t.store_id, t.terminal_id",
        )?;
        let mut terminals: Vec<TerminalStatus> = stmt
            .query_map([], |r| {
                Ok(TerminalStatus {
                    store: r.get(0)?,
                    terminal: r.get(1)?,
                    registered: r.get(2)?,
                    last_sync_ms: r.get(3)?,
                    last_seq: r.get(4)?,
                    sales: r.get(5)?,
                    ..TerminalStatus::default()
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        for t in &mut terminals {
            let mut stmt = conn.prepare(
                "SELECT seq, prev_hash, hash FROM sales WHERE store_id = ?1 AND terminal_id = ?2 ORDER BY seq",
            )?;
            let links: Vec<(u64, String, String)> = stmt
                .query_map(params![t.store, t.terminal], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let chain = chain_status(&links);
            (t.gaps, t.breaks) = (chain.gaps, chain.breaks);
        }
        Ok(terminals)
    }
}

impl HqStore for SqliteStore {
    fn ingest_ops(
        &self,
        store: &str,
        terminal: &str,
        ops: &[till_sync::api::UploadedOp],
    ) -> Result<till_sync::api::OpsUploadResponse> {
        self.ingest_ops_impl(store, terminal, ops)
    }

    fn sale_for_return(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
    ) -> Result<Option<crate::db::ops::SaleForReturn>> {
        self.sale_for_return_impl(store, terminal, seq)
    }

    fn add_store(&self, store: &str, name: &str) -> Result<()> {
        let conn = self.w();
        match conn.execute(
            "INSERT INTO stores (id, name) VALUES (?1, ?2)",
            params![store, name],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(HqError::Exists(format!("store {store}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn add_terminal(&self, store: &str, terminal: &str) -> Result<String> {
        let conn = self.w();
        let exists: bool = conn
            .prepare("SELECT 1 FROM stores WHERE id = ?1")?
            .exists([store])?;
        if !exists {
            return Err(HqError::UnknownStore(store.into()));
        }
        let code = secret(12);
        let inserted = conn.execute(
            "INSERT INTO terminals (store_id, terminal_id, code_hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (store_id, terminal_id) DO NOTHING",
            params![store, terminal, digest(&code)],
        )?;
        if inserted == 0 {
            return Err(HqError::Exists(format!("terminal {store}/{terminal}")));
        }
        Ok(code)
    }

    fn register(&self, code: &str, device: &Device<'_>) -> Result<Registered> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (fresh, bound) = device.code_hashes(code);
        let found: Option<(String, String)> = tx
            .query_row(
                "SELECT store_id, terminal_id FROM terminals
                 WHERE code_hash = ?1 OR (?2 IS NOT NULL AND code_hash = ?2)",
                params![fresh, bound],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (store, terminal) = found.ok_or(HqError::BadCode)?;
        device.check(&store, &terminal)?;
        let token = secret(40);
        // The code stays, bound to this device, until the token is first used (see
        // `authenticate`); without a device value it is spent now.
        tx.execute(
            "UPDATE terminals SET token_hash = ?3, code_hash = ?4
             WHERE store_id = ?1 AND terminal_id = ?2",
            params![store, terminal, digest(&token), bound],
        )?;
        tx.commit()?;
        Ok(Registered {
            id: TerminalId { store, terminal },
            token,
        })
    }

    fn reissue_code(&self, store: &str, terminal: &str) -> Result<String> {
        let conn = self.w();
        let code = secret(12);
        let updated = conn.execute(
            "UPDATE terminals SET code_hash = ?3, token_hash = NULL
             WHERE store_id = ?1 AND terminal_id = ?2",
            params![store, terminal, digest(&code)],
        )?;
        if updated == 0 {
            return Err(HqError::UnknownTerminal(format!("{store}/{terminal}")));
        }
        Ok(code)
    }

    fn authenticate(&self, token: &str) -> Result<Option<TerminalId>> {
        let found: Option<(String, String, bool)> = self
            .r()?
            .prepare_cached(
                "SELECT store_id, terminal_id, code_hash IS NOT NULL FROM terminals WHERE token_hash = ?1",
            )?
            .query_row([digest(token)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((store, terminal, code_unspent)) = found else {
            return Ok(None);
        };
        if code_unspent {
            // The terminal has its token: its registration code is spent now (once: every
            // later request only reads).
            self.w().execute(
                "UPDATE terminals SET code_hash = NULL WHERE token_hash = ?1 AND code_hash IS NOT NULL",
                [digest(token)],
            )?;
        }
        Ok(Some(TerminalId { store, terminal }))
    }

    fn member_write(&self, work: &mut dyn FnMut(&mut dyn MemberTx) -> Result<()>) -> Result<()> {
        let mut conn = self.w();
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        work(&mut tx)?;
        tx.commit()?;
        Ok(())
    }

    fn ingest(
        &self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse> {
        self.ingest_impl(store, terminal, key, body_hash, sales)
    }

    fn rotate_member_key(&self) -> Result<(u64, String)> {
        let conn = self.w();
        let key = new_member_key();
        conn.execute(
            "INSERT INTO member_keys (key_hex, created_ms) VALUES (?1, ?2)",
            params![key, now_ms()],
        )?;
        Ok((u64::try_from(conn.last_insert_rowid()).unwrap_or(0), key))
    }

    fn rotate_code_key_from(&self, signs_from_ms: i64) -> Result<CodeSigningKey> {
        let mut conn = self.w();
        let secret = new_member_key();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO code_keys (secret_hex, created_ms) VALUES (?1, ?2)",
            params![secret, now_ms()],
        )?;
        let kid = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO code_key_rollouts (kid, signs_from_ms) VALUES (?1, ?2)",
            params![kid, signs_from_ms],
        )?;
        tx.commit()?;
        code_key(kid.unsigned_abs(), &secret)
    }

    fn all_member_keys(&self) -> Result<Vec<MemberKey>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare("SELECT key_hex FROM member_keys ORDER BY id DESC")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        hex_keys("member key", &rows, MemberKey::parse_hex)
    }

    fn rotate_claim_key(&self, store: &str, terminal: &str) -> Result<ClaimKey> {
        let conn = self.w();
        let key = new_member_key();
        conn.execute(
            "INSERT INTO claim_keys (store, terminal, key_hex, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![store, terminal, key, now_ms()],
        )?;
        hex_keys("claim key", &[key], ClaimKey::parse_hex).map(|mut k| k.remove(0))
    }

    fn member_phone_masked(&self, member_id: &str) -> Result<Option<Option<String>>> {
        let conn = self.r()?;
        Ok(conn
            .query_row(
                "SELECT phone_masked FROM members WHERE member_id = ?1",
                [member_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_pass(&self, token_hash: &str, member_id: &str) -> Result<()> {
        let conn = self.w();
        conn.execute(
            "INSERT INTO member_passes (token_hash, member_id, created_ms) VALUES (?1, ?2, ?3)",
            params![token_hash, member_id, now_ms()],
        )?;
        Ok(())
    }

    fn pass_member_by_hash(&self, token_hash: &str) -> Result<Option<String>> {
        let conn = self.r()?;
        Ok(conn
            .query_row(
                "SELECT member_id FROM member_passes WHERE token_hash = ?1",
                [token_hash],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn store_exists(&self, id: &str) -> Result<bool> {
        let conn = self.r()?;
        Ok(conn
            .query_row("SELECT 1 FROM stores WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn put_sms_code(
        &self,
        phone_hash: &str,
        purpose: &str,
        code_hash: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<()> {
        let conn = self.w();
        conn.execute(
            "INSERT INTO sms_codes (phone_hash, purpose, code_hash, expires_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (phone_hash, purpose) DO UPDATE SET code_hash = excluded.code_hash,
                 attempts = CASE WHEN sms_codes.expires_ms >= ?5 AND sms_codes.used = 0
                                 THEN sms_codes.attempts ELSE 0 END,
                 expires_ms = excluded.expires_ms, used = 0",
            params![phone_hash, purpose, code_hash, expires_ms, now_ms],
        )?;
        Ok(())
    }

    fn check_sms_code(
        &self,
        phone_hash: &str,
        purpose: &str,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<SmsCodeCheck> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                "SELECT code_hash, expires_ms, attempts, used FROM sms_codes
                 WHERE phone_hash = ?1 AND purpose = ?2",
                params![phone_hash, purpose],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0)),
            )
            .optional()?;
        let outcome = sms_code_outcome(row, code_hash, now_ms);
        tx.execute(
            "UPDATE sms_codes SET attempts = attempts + 1, used = used OR ?3
             WHERE phone_hash = ?1 AND purpose = ?2",
            params![phone_hash, purpose, outcome == SmsCodeCheck::Right],
        )?;
        tx.commit()?;
        Ok(outcome)
    }

    fn sale_made_before(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
        before_ms: Option<i64>,
    ) -> Result<bool> {
        let conn = self.r()?;
        Ok(conn
            .query_row(
                "SELECT created_at_ms < ?4 FROM sales
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
                params![store, terminal, seq, before_ms.unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    fn claim_keys(&self, store: &str, terminal: &str) -> Result<Vec<(ClaimKey, i64)>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare(
            "SELECT key_hex, created_ms FROM claim_keys WHERE store = ?1 AND terminal = ?2
             ORDER BY id DESC",
        )?;
        let rows = stmt
            .query_map(params![store, terminal], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let keys = hex_keys(
            "claim key",
            &rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            ClaimKey::parse_hex,
        )?;
        Ok(keys
            .into_iter()
            .zip(rows.into_iter().map(|r| r.1))
            .collect())
    }

    fn code_keys_with_start(&self) -> Result<Vec<(CodeSigningKey, i64)>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare(
            "SELECT k.kid, k.secret_hex, coalesce(r.signs_from_ms, k.created_ms)
             FROM code_keys k LEFT JOIN code_key_rollouts r ON r.kid = k.kid
             ORDER BY k.kid DESC LIMIT 2",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter()
            .map(|(kid, secret, start)| Ok((code_key(kid.unsigned_abs(), secret)?, *start)))
            .collect()
    }

    fn unchecked_phones(&self, limit: usize) -> Result<Vec<StoredPhone>> {
        self.unchecked_phones_impl(limit)
    }

    fn member_known(&self, member_id: &str) -> Result<bool> {
        self.member_known_impl(member_id)
    }

    fn points_ledger(&self, member_id: &str) -> Result<Vec<(String, i64)>> {
        self.points_ledger_impl(member_id)
    }

    fn member_keys(&self) -> Result<Vec<(u64, String)>> {
        let conn = self.r()?;
        let mut stmt =
            conn.prepare("SELECT id, key_hex FROM member_keys ORDER BY id DESC LIMIT 2")?;
        let keys = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    fn member_delta(&self, since: u64, limit: usize) -> Result<MemberDelta> {
        self.member_delta_impl(since, limit)
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        let conn = self.r()?;
        Ok(conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        let conn = self.w();
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            params![key, value],
        )?;
        Ok(
            conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })?,
        )
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let conn = self.w();
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn loyalty_rules(&self) -> Result<Vec<LoyaltyRule>> {
        self.loyalty_rules_impl()
    }

    fn publish_loyalty(&self, points_per_yuan: i64) -> Result<LoyaltyRule> {
        self.publish_loyalty_impl(points_per_yuan)
    }

    fn claimed(&self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        self.claimed_impl(store, terminal, seq)
    }

    fn publish_catalog(&self, rows: &[CatalogRow]) -> Result<Published> {
        self.publish_catalog_impl(rows)
    }

    fn catalog_delta(
        &self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta> {
        self.catalog_delta_impl(since, upto, after, limit)
    }
}

/// The next value of a counter, taken inside the caller's transaction.
fn next_counter(tx: &Transaction<'_>, name: &str) -> Result<u64> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        )?
        .query_row([name], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request that panicked while holding the writer leaves it usable: its transaction
    /// rolled back as it unwound, and the mutex's poison is ignored.
    #[test]
    fn the_writer_outlives_a_panic_that_held_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
        std::thread::scope(|s| {
            let panicked = s.spawn(|| {
                let mut conn = store.w();
                let tx = conn.transaction().unwrap();
                tx.execute("INSERT INTO stores (id, name) VALUES ('S009', '')", [])
                    .unwrap();
                panic!("a bug mid-transaction");
            });
            assert!(panicked.join().is_err());
        });
        assert!(store.writer.is_poisoned());
        store.add_store("S001", "").unwrap();
        assert!(store.store_exists("S001").unwrap());
        assert!(
            !store.store_exists("S009").unwrap(),
            "the panicked write rolled back"
        );
    }
}
