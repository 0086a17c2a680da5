//! The PostgreSQL backend of [`HqStore`], for a real chain. Same schema and rules as the
//! SQLite one; a batch's transaction first locks its terminal's row, so copies of one batch
//! arriving at several HQ nodes at once are taken one after the other. This file holds the
//! connection, stores, terminals and their tokens, member keys and settings; the schema, sales,
//! members and claims, and what HQ publishes (the catalog and the points rules) are in its
//! submodules.

use postgres::{NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use sha2::{Digest, Sha256};
use till_sync::api::{MemberDelta, UploadResponse, UploadedSale};
use till_sync::catalog::{CatalogDelta, CatalogRow};
use till_sync::loyalty::LoyaltyRule;

use crate::catalog::Published;
use crate::db::{
    Analytics, Device, HqError, HqStore, MemberTx, Registered, Result, SmsCodeCheck, StoreSummary,
    StoredPhone, TerminalId, TerminalStatus, chain_status, code_key, hex_keys, new_member_key,
    secret, sms_code_outcome,
};
use till_sync::member::{ClaimKey, CodeSigningKey, MemberKey};

mod members;
mod ops;
mod publish;
mod sales;
pub(crate) mod schema;

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Sequence numbers and counters are `BIGINT`: a number past `i64::MAX` (refused at the edge)
/// matches no row.
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A PostgreSQL error with its reason: `postgres::Error` alone displays only "db error".
fn db(e: postgres::Error) -> HqError {
    HqError::Backend(match (e.as_db_error(), std::error::Error::source(&e)) {
        (Some(server), _) => format!(
            "{} {}: {}",
            server.severity(),
            server.code().code(),
            server.message()
        ),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    })
}

fn parse_url(url: &str) -> Result<postgres::Config> {
    url.parse()
        .map_err(|e: postgres::Error| HqError::Backend(format!("bad database URL: {e}")))
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// HQ's PostgreSQL database, over a pool of connections: each request takes one for its
/// work and gives it back, so requests run side by side and a slow one holds up no other.
pub struct PgStore {
    pool: r2d2::Pool<PostgresConnectionManager<NoTls>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

/// Connections per HQ node. PostgreSQL's default `max_connections` is 100: a handful of nodes
/// fit.
const POOL_SIZE: u32 = 16;

/// How long a request waits for a connection before it fails with a database error: during
/// an outage, requests fail fast and tills back off, rather than piling up.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl PgStore {
    /// Connects with a `postgres://…` URL and brings the schema up to date.
    pub fn connect(url: &str) -> Result<PgStore> {
        let config = parse_url(url)?;
        let mut client = config.connect(NoTls).map_err(db)?;
        // "relation already exists, skipping" notices are not news on every start.
        client
            .batch_execute("SET client_min_messages TO WARNING")
            .map_err(db)?;
        schema::migrate(&mut client)?;
        drop(client);
        PgStore::pooled(config)
    }

    /// Connects to a read replica of HQ's database for the heavy reads ([`Analytics`]), with
    /// every session read-only: nothing is migrated or written through it, even if the URL
    /// names the primary by mistake. Errors: the URL is malformed or unreachable, or the
    /// replica's schema is not this build's ([`HqError::ReplicaBehind`]).
    pub fn connect_replica(url: &str) -> Result<PgStore> {
        let mut config = parse_url(url)?;
        config.options("-c default_transaction_read_only=on");
        let mut client = config.connect(NoTls).map_err(db)?;
        schema::check_replica(&mut client)?;
        drop(client);
        PgStore::pooled(config)
    }

    fn pooled(config: postgres::Config) -> Result<PgStore> {
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(POOL_WAIT)
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| HqError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(PgStore { pool })
    }

    /// A connection from the pool; one PostgreSQL dropped (a restart, a failover) is
    /// replaced, so an outage costs the requests made during it and no more.
    fn live(&self) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>> {
        self.pool.get().map_err(|e| {
            tracing::warn!("no PostgreSQL connection: {e}");
            HqError::Backend(format!("no PostgreSQL connection: {e}"))
        })
    }
}

impl Analytics for PgStore {
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
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT store_id, terminal_id, token_hash IS NOT NULL, last_sync_ms FROM terminals ORDER BY store_id, terminal_id",
                &[],
            )
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (store, terminal): (String, String) = (r.get(0), r.get(1));
            let links: Vec<(u64, String, String)> = conn
                .query(
                    "SELECT seq, prev_hash, hash FROM sales WHERE store_id = $1 AND terminal_id = $2 ORDER BY seq",
                    &[&store, &terminal],
                )
                .map_err(db)?
                .iter()
                .map(|l| (l.get::<_, i64>(0).unsigned_abs(), l.get(1), l.get(2)))
                .collect();
            let mut status = chain_status(&links);
            status.store = store;
            status.terminal = terminal;
            status.registered = r.get(2);
            status.last_sync_ms = r.get(3);
            out.push(status);
        }
        Ok(out)
    }
}

impl HqStore for PgStore {
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

    fn write_slots(&self) -> usize {
        // Writes hold a connection for their transaction; four stay free for reads.
        crate::db::cpu_write_slots().min(POOL_SIZE as usize - 4)
    }

    fn add_store(&self, store: &str, name: &str) -> Result<()> {
        let mut conn = self.live()?;
        match conn.execute(
            "INSERT INTO stores (id, name) VALUES ($1, $2)",
            &[&store, &name],
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(HqError::Exists(format!("store {store}"))),
            Err(e) => Err(db(e)),
        }
    }

    fn add_terminal(&self, store: &str, terminal: &str) -> Result<String> {
        let mut conn = self.live()?;
        let exists = !conn
            .query("SELECT 1 FROM stores WHERE id = $1", &[&store])
            .map_err(db)?
            .is_empty();
        if !exists {
            return Err(HqError::UnknownStore(store.into()));
        }
        let code = secret(12);
        let inserted = conn
            .execute(
                "INSERT INTO terminals (store_id, terminal_id, code_hash) VALUES ($1, $2, $3)
                 ON CONFLICT (store_id, terminal_id) DO NOTHING",
                &[&store, &terminal, &digest(&code)],
            )
            .map_err(db)?;
        if inserted == 0 {
            return Err(HqError::Exists(format!("terminal {store}/{terminal}")));
        }
        Ok(code)
    }

    fn register(&self, code: &str, device: &Device<'_>) -> Result<Registered> {
        let mut conn = self.live()?;
        let (fresh, bound) = device.code_hashes(code);
        let found = conn
            .query_opt(
                "SELECT store_id, terminal_id, code_hash FROM terminals
                 WHERE code_hash = $1 OR ($2::bytea IS NOT NULL AND code_hash = $2)",
                &[&fresh, &bound],
            )
            .map_err(db)?
            .ok_or(HqError::BadCode)?;
        let (store, terminal, held): (String, String, Vec<u8>) =
            (found.get(0), found.get(1), found.get(2));
        device.check(&store, &terminal)?;
        let token = secret(40);
        // One statement sets the token and binds the code to this device (or spends it),
        // and only if the code is still the one read: of two racing registrations, one wins.
        // The code stays until the token is first used (see `authenticate`).
        let updated = conn
            .execute(
                "UPDATE terminals SET token_hash = $3, code_hash = $4
                 WHERE store_id = $1 AND terminal_id = $2 AND code_hash = $5",
                &[&store, &terminal, &digest(&token), &bound, &held],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(HqError::BadCode);
        }
        Ok(Registered {
            id: TerminalId { store, terminal },
            token,
        })
    }

    fn reissue_code(&self, store: &str, terminal: &str) -> Result<String> {
        let mut conn = self.live()?;
        let code = secret(12);
        let updated = conn
            .execute(
                "UPDATE terminals SET code_hash = $3, token_hash = NULL
                 WHERE store_id = $1 AND terminal_id = $2",
                &[&store, &terminal, &digest(&code)],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(HqError::UnknownTerminal(format!("{store}/{terminal}")));
        }
        Ok(code)
    }

    fn authenticate(&self, token: &str) -> Result<Option<TerminalId>> {
        let row = self
            .live()?
            .query_opt(
                "SELECT store_id, terminal_id, code_hash IS NOT NULL FROM terminals
                 WHERE token_hash = $1",
                &[&digest(token)],
            )
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.get::<_, bool>(2) {
            // The terminal has its token: its registration code is spent now.
            self.live()?
                .execute(
                    "UPDATE terminals SET code_hash = NULL WHERE token_hash = $1 AND code_hash IS NOT NULL",
                    &[&digest(token)],
                )
                .map_err(db)?;
        }
        Ok(Some(TerminalId {
            store: row.get(0),
            terminal: row.get(1),
        }))
    }

    fn member_write(&self, work: &mut dyn FnMut(&mut dyn MemberTx) -> Result<()>) -> Result<()> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        work(&mut tx)?;
        tx.commit().map_err(db)
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
        let mut conn = self.live()?;
        let key = new_member_key();
        let row = conn
            .query_one(
                "INSERT INTO member_keys (key_hex, created_ms) VALUES ($1, $2) RETURNING id",
                &[&key, &now_ms()],
            )
            .map_err(db)?;
        let id: i64 = row.get(0);
        Ok((id.unsigned_abs(), key))
    }

    fn rotate_code_key_from(&self, signs_from_ms: i64) -> Result<CodeSigningKey> {
        let mut conn = self.live()?;
        let secret = new_member_key();
        let mut tx = conn.transaction().map_err(db)?;
        let kid: i64 = tx
            .query_one(
                "INSERT INTO code_keys (secret_hex, created_ms) VALUES ($1, $2) RETURNING kid",
                &[&secret, &now_ms()],
            )
            .map_err(db)?
            .get(0);
        tx.execute(
            "INSERT INTO code_key_rollouts (kid, signs_from_ms) VALUES ($1, $2)",
            &[&kid, &signs_from_ms],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        code_key(kid.unsigned_abs(), &secret)
    }

    fn all_member_keys(&self) -> Result<Vec<MemberKey>> {
        let mut conn = self.live()?;
        let rows = conn
            .query("SELECT key_hex FROM member_keys ORDER BY id DESC", &[])
            .map_err(db)?;
        let rows: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        hex_keys("member key", &rows, MemberKey::parse_hex)
    }

    fn rotate_claim_key(&self, store: &str, terminal: &str) -> Result<ClaimKey> {
        let mut conn = self.live()?;
        let key = new_member_key();
        conn.execute(
            "INSERT INTO claim_keys (store, terminal, key_hex, created_ms)
                 VALUES ($1, $2, $3, $4)",
            &[&store, &terminal, &key, &now_ms()],
        )
        .map_err(db)?;
        hex_keys("claim key", &[key], ClaimKey::parse_hex).map(|mut k| k.remove(0))
    }

    fn member_phone_masked(&self, member_id: &str) -> Result<Option<Option<String>>> {
        let mut conn = self.live()?;
        Ok(conn
            .query_opt(
                "SELECT phone_masked FROM members WHERE member_id = $1",
                &[&member_id],
            )
            .map_err(db)?
            .map(|r| r.get(0)))
    }

    fn put_pass(&self, token_hash: &str, member_id: &str) -> Result<()> {
        let mut conn = self.live()?;
        conn.execute(
            "INSERT INTO member_passes (token_hash, member_id, created_ms) VALUES ($1, $2, $3)",
            &[&token_hash, &member_id, &now_ms()],
        )
        .map_err(db)?;
        Ok(())
    }

    fn pass_member_by_hash(&self, token_hash: &str) -> Result<Option<String>> {
        let mut conn = self.live()?;
        Ok(conn
            .query_opt(
                "SELECT member_id FROM member_passes WHERE token_hash = $1",
                &[&token_hash],
            )
            .map_err(db)?
            .map(|r| r.get(0)))
    }

    fn store_exists(&self, id: &str) -> Result<bool> {
        let mut conn = self.live()?;
        Ok(conn
            .query_opt("SELECT 1 FROM stores WHERE id = $1", &[&id])
            .map_err(db)?
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
        let mut conn = self.live()?;
        conn.execute(
            "INSERT INTO sms_codes (phone_hash, purpose, code_hash, expires_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (phone_hash, purpose) DO UPDATE SET code_hash = excluded.code_hash,
                     attempts = CASE WHEN sms_codes.expires_ms >= $5 AND sms_codes.used = 0
                                     THEN sms_codes.attempts ELSE 0 END,
                     expires_ms = excluded.expires_ms, used = 0",
            &[&phone_hash, &purpose, &code_hash, &expires_ms, &now_ms],
        )
        .map_err(db)?;
        Ok(())
    }

    fn check_sms_code(
        &self,
        phone_hash: &str,
        purpose: &str,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<SmsCodeCheck> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        let row = tx
            .query_opt(
                "SELECT code_hash, expires_ms, attempts, used FROM sms_codes
                 WHERE phone_hash = $1 AND purpose = $2 FOR UPDATE",
                &[&phone_hash, &purpose],
            )
            .map_err(db)?
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get::<_, i64>(3) != 0));
        let outcome = sms_code_outcome(row, code_hash, now_ms);
        let used: i64 = (outcome == SmsCodeCheck::Right).into();
        tx.execute(
            "UPDATE sms_codes SET attempts = attempts + 1, used = greatest(used, $3)
             WHERE phone_hash = $1 AND purpose = $2",
            &[&phone_hash, &purpose, &used],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(outcome)
    }

    fn sale_made_before(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
        before_ms: Option<i64>,
    ) -> Result<bool> {
        let mut conn = self.live()?;
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let before = before_ms.unwrap_or(i64::MAX);
        Ok(conn
            .query_opt(
                "SELECT created_at_ms < $4 FROM sales
                 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &seq, &before],
            )
            .map_err(db)?
            .is_some_and(|r| r.get(0)))
    }

    fn claim_keys(&self, store: &str, terminal: &str) -> Result<Vec<(ClaimKey, i64)>> {
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT key_hex, created_ms FROM claim_keys WHERE store = $1 AND terminal = $2
                 ORDER BY id DESC",
                &[&store, &terminal],
            )
            .map_err(db)?;
        let hexes: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let keys = hex_keys("claim key", &hexes, ClaimKey::parse_hex)?;
        Ok(keys
            .into_iter()
            .zip(rows.iter().map(|r| r.get::<_, i64>(1)))
            .collect())
    }

    fn code_keys_with_start(&self) -> Result<Vec<(CodeSigningKey, i64)>> {
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT k.kid, k.secret_hex, coalesce(r.signs_from_ms, k.created_ms)
                 FROM code_keys k LEFT JOIN code_key_rollouts r ON r.kid = k.kid
                 ORDER BY k.kid DESC LIMIT 2",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let key = code_key(r.get::<_, i64>(0).unsigned_abs(), &r.get::<_, String>(1))?;
                Ok((key, r.get::<_, i64>(2)))
            })
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
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT id, key_hex FROM member_keys ORDER BY id DESC LIMIT 2",
                &[],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0).unsigned_abs(), r.get(1)))
            .collect())
    }

    fn member_delta(&self, since: u64, limit: usize) -> Result<MemberDelta> {
        self.member_delta_impl(since, limit)
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        let mut conn = self.live()?;
        Ok(conn
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .map_err(db)?
            .map(|r| r.get(0)))
    }

    fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        let conn = self.live()?;
        let mut client = conn;
        client
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )
            .map_err(db)?;
        Ok(client
            .query_one("SELECT value FROM settings WHERE key = $1", &[&key])
            .map_err(db)?
            .get(0))
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let mut conn = self.live()?;
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .map_err(db)?;
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

/// The next value of a counter, taken inside the caller's transaction; its row stays locked
/// until that commits, so versions commit in order.
fn next_counter(tx: &mut Transaction<'_>, name: &str) -> Result<i64> {
    Ok(tx
        .query_one(
            "INSERT INTO counters (name, value) VALUES ($1, 1)
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            &[&name],
        )
        .map_err(db)?
        .get(0))
}

fn copy_in(tx: &mut Transaction<'_>, statement: &str, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut writer = tx.copy_in(statement).map_err(db)?;
    writer
        .write_all(data)
        .map_err(|e| HqError::Backend(e.to_string()))?;
    writer.finish().map_err(db)?;
    Ok(())
}

/// A value in `COPY … FROM STDIN` text format: backslash, tab, newline and carriage return
/// escaped, so no field can break a row.
fn copy_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}
