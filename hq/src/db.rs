//! HQ's storage: one trait, [`HqStore`], over the databases HQ runs on. This is the embedded
//! SQLite backend; ingest runs in one transaction per batch, so a batch is stored whole or not
//! at all, and sales are unique by sale ID and by (store, terminal, sequence).

use std::collections::BTreeMap;
use std::path::Path;
use till_sync::loyalty::LoyaltyRule;

use rand::Rng;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use till_sync::api::{
    Enrolled, Enrollment, MemberAlias, MemberDelta, MemberEntry, SaleResult, SaleStatus,
    UploadResponse, UploadedSale,
};
use till_sync::catalog::{CatalogDelta, CatalogRow};

use crate::catalog::{Published, changes};
use crate::claims::{Claim, ClaimOutcome};

#[derive(Debug, thiserror::Error)]
pub enum HqError {
    #[error("store {0} does not exist")]
    UnknownStore(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("registration code is unknown or already used")]
    BadCode,
    #[error("terminal {0} does not exist")]
    UnknownTerminal(String),
    #[error("that code is for terminal {code_for}, but this is terminal {asked_by}")]
    OtherTerminal { code_for: String, asked_by: String },
    #[error("idempotency key was used before with a different body")]
    KeyReused,
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Backend(String),
    #[error(transparent)]
    Loyalty(#[from] till_sync::loyalty::LoyaltyError),
}

pub type Result<T, E = HqError> = std::result::Result<T, E>;

/// Who asks to register with a code ([`HqStore::register`]): the terminal's own random device
/// value, if it sent one, and the store and terminal it says it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Device<'a> {
    pub device: Option<&'a str>,
    pub store: Option<&'a str>,
    pub terminal: Option<&'a str>,
}

impl Device<'_> {
    /// The hashes a code may be stored under for this device: the fresh code, or the code
    /// bound to this device by an earlier registration whose answer was lost.
    pub fn code_hashes(&self, code: &str) -> (Vec<u8>, Option<Vec<u8>>) {
        let code = code.trim();
        (
            digest(code),
            self.device
                .map(|device| digest(&format!("{code}\n{device}"))),
        )
    }

    /// Refuses a code that belongs to another terminal than the one asking.
    pub fn check(&self, store: &str, terminal: &str) -> Result<()> {
        match (self.store, self.terminal) {
            (Some(s), Some(t)) if (s, t) != (store, terminal) => Err(HqError::OtherTerminal {
                code_for: format!("{store}/{terminal}"),
                asked_by: format!("{s}/{t}"),
            }),
            _ => Ok(()),
        }
    }
}

/// Sales and money per store, for `till-hq sales` and reconciliation tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSummary {
    pub store: String,
    pub sales: u64,
    pub total: i64,
    /// Tender kind → amount taken (cash as handed over, before change).
    pub tenders: BTreeMap<String, i64>,
    pub change: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TerminalStatus {
    pub store: String,
    pub terminal: String,
    pub registered: bool,
    pub last_seq: u64,
    pub sales: u64,
    /// Sequence numbers missing below the last one.
    pub gaps: Vec<u64>,
    /// Sequence numbers whose `prev_hash` does not match the sale before them.
    pub breaks: Vec<u64>,
    pub last_sync_ms: Option<i64>,
}

/// What HQ needs from a database. Every backend runs the same conformance tests.
pub trait HqStore: Send {
    fn add_store(&mut self, store: &str, name: &str) -> Result<()>;
    /// Adds a terminal and returns its one-time registration code.
    fn add_terminal(&mut self, store: &str, terminal: &str) -> Result<String>;
    /// Registers the terminal a code belongs to; returns (store, terminal, bearer token).
    ///
    /// The code stays good until the terminal first uses a token it gave: if the answer was
    /// lost on the way, the terminal retries the same code and gets a new token (the unused
    /// one stops working). Its first authenticated request spends the code.
    fn register(&mut self, code: &str, device: &Device<'_>) -> Result<(String, String, String)>;
    /// Gives a terminal a new one-time registration code and revokes its token, for a
    /// terminal that was replaced or lost its token. Errors: the terminal does not exist.
    fn reissue_code(&mut self, store: &str, terminal: &str) -> Result<String>;
    fn authenticate(&mut self, token: &str) -> Result<Option<(String, String)>>;
    /// Stores a checked batch for one terminal, exactly once per sale, answering per sale.
    fn ingest(
        &mut self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse>;
    fn summaries(&mut self) -> Result<Vec<StoreSummary>>;
    /// Makes a new random member key current; the one before stays valid as the previous key.
    /// Returns its number and hex.
    fn rotate_member_key(&mut self) -> Result<(u64, String)>;
    /// The current member key, then the previous one.
    fn member_keys(&mut self) -> Result<Vec<(u64, String)>>;
    /// A member's points ledger, one entry per sale, oldest first. Entries are keyed by sale
    /// ID and written with the sale, so no retry or duplicate upload can count a sale twice.
    fn points_ledger(&mut self, member_id: &str) -> Result<Vec<(String, i64)>>;
    /// Whether HQ knows `member_id` as a member, or as a provisional ID it mapped to one.
    fn member_known(&mut self, member_id: &str) -> Result<bool>;
    fn terminals(&mut self) -> Result<Vec<TerminalStatus>>;
    /// Files members enrolled at `store`'s tills, in one transaction: each provisional ID gets
    /// a final member ID, joining the member who already has that phone hash if there is one.
    /// Filing an enrollment again returns the first answer.
    fn enroll(&mut self, store: &str, enrollments: &[Enrollment]) -> Result<Vec<Enrolled>>;
    /// Members changed after version `since`, oldest change first, and the provisional IDs
    /// mapped meanwhile; about `limit` members a page.
    fn member_delta(&mut self, since: u64, limit: usize) -> Result<MemberDelta>;
    /// Records a claim in one transaction: the phone's member (created if new) gets the sale
    /// and its points if HQ has it, or as soon as it arrives.
    fn claim(&mut self, claim: &Claim) -> Result<ClaimOutcome>;
    /// A customer joins on HQ's page (the customer display's join code): the phone's member,
    /// created if new. Returns their ID and whether they were a member already.
    fn join(&mut self, new: &NewMember<'_>) -> Result<(String, bool)>;
    /// A chain-wide setting, such as `public_url`.
    fn setting(&mut self, key: &str) -> Result<Option<String>>;
    fn set_setting(&mut self, key: &str, value: &str) -> Result<()>;
    /// Whether a sale has been claimed already.
    fn claimed(&mut self, store: &str, terminal: &str, seq: u64) -> Result<bool>;
    /// Publishes a whole catalog as the chain's next version: new and changed products get
    /// that version, products left out are withdrawn. A file that changes nothing publishes
    /// no version.
    fn publish_catalog(&mut self, rows: &[CatalogRow]) -> Result<Published>;
    /// Products changed after version `since`, up to version `upto` (the current one if
    /// None), by SKU after `after`, at most `limit` of them.
    fn catalog_delta(
        &mut self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta>;

    /// Every points rule HQ has published, oldest first (PRODUCT.md "Loyalty"). Version 0,
    /// [`LoyaltyRule::LEGACY`], is built in and not listed.
    fn loyalty_rules(&mut self) -> Result<Vec<LoyaltyRule>>;

    /// Publishes `points_per_yuan` as the next rule version, in one transaction, so two
    /// publishes at once get two versions; terminals take it at their next sync. Every
    /// earlier version stays, so records stamped with one keep verifying. Errors: a rate of
    /// 0, negative or over [`till_sync::loyalty::MAX_POINTS_PER_YUAN`].
    fn publish_loyalty(&mut self, points_per_yuan: i64) -> Result<LoyaltyRule>;

    /// The rule terminals stamp new sales with: the newest published, or the legacy rule.
    fn current_loyalty_rule(&mut self) -> Result<LoyaltyRule> {
        Ok(self
            .loyalty_rules()?
            .last()
            .copied()
            .unwrap_or(LoyaltyRule::LEGACY))
    }
}

/// The member IDs of the accepted sales of a batch, whose members' points changed.
pub(crate) fn accepted_members(sales: &[UploadedSale], results: &[SaleResult]) -> Vec<String> {
    let mut ids: Vec<String> = sales
        .iter()
        .zip(results)
        .filter(|(_, r)| r.status == SaleStatus::Accepted)
        .filter_map(|(s, _)| match &s.record.attribution {
            till_sync::Attribution::Member { member_id } => Some(member_id.clone()),
            till_sync::Attribution::Anonymous { .. } => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A final member ID as HQ issues it: never a dot, never mistaken for a provisional one.
pub(crate) fn member_id(n: u64) -> String {
    format!("M{n:08}")
}

/// A page of (version, member) rows, oldest first, fetched with `limit + 1`.
pub(crate) enum Page<T> {
    /// Every change there is.
    Whole(Vec<(u64, T)>),
    /// Cut at a version boundary, so no change is split across pages; more follow.
    Cut(Vec<(u64, T)>),
    /// One change alone touched more than `limit` members: fetch all of that version.
    OneVersion(u64),
}

pub(crate) fn cut_at_version<T>(mut rows: Vec<(u64, T)>, limit: usize) -> Page<T> {
    if rows.len() <= limit {
        return Page::Whole(rows);
    }
    let boundary = rows[limit].0;
    rows.truncate(limit);
    rows.retain(|(v, _)| *v < boundary);
    if rows.is_empty() {
        Page::OneVersion(boundary)
    } else {
        Page::Cut(rows)
    }
}

/// A page of a delta from the rows a query returned (one more than `limit` if more follow).
pub(crate) fn delta_page(version: u64, rows: Vec<String>, limit: usize) -> Result<CatalogDelta> {
    let more = rows.len() > limit;
    let rows = rows
        .iter()
        .take(limit)
        .map(|json| serde_json::from_str(json).map_err(|e| HqError::Backend(e.to_string())))
        .collect::<Result<_>>()?;
    Ok(CatalogDelta {
        version,
        rows,
        more,
    })
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS stores (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS terminals (
    store_id     TEXT NOT NULL REFERENCES stores(id),
    terminal_id  TEXT NOT NULL,
    code_hash    BLOB,
    token_hash   BLOB UNIQUE,
    last_sync_ms INTEGER,
    PRIMARY KEY (store_id, terminal_id)
);
CREATE TABLE IF NOT EXISTS sales (
    sale_id       TEXT PRIMARY KEY,
    store_id      TEXT NOT NULL,
    terminal_id   TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    change        INTEGER NOT NULL,
    member_id     TEXT,
    record        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    received_ms   INTEGER NOT NULL,
    UNIQUE (store_id, terminal_id, seq)
);
CREATE TABLE IF NOT EXISTS sale_payments (
    sale_id TEXT NOT NULL REFERENCES sales(sale_id),
    idx     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    amount  INTEGER NOT NULL,
    PRIMARY KEY (sale_id, idx)
);
CREATE TABLE IF NOT EXISTS points_ledger (
    sale_id    TEXT PRIMARY KEY REFERENCES sales(sale_id),
    member_id  TEXT NOT NULL,
    points     INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS points_by_member ON points_ledger(member_id);
CREATE TABLE IF NOT EXISTS member_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hex    TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);
-- The chain's catalog: each product's newest published row (JSON) and the version that last
-- changed it, so a terminal at version V pulls only rows with a higher version.
CREATE TABLE IF NOT EXISTS catalog (
    sku     TEXT PRIMARY KEY,
    row     TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_by_version ON catalog(version, sku);
CREATE TABLE IF NOT EXISTS catalog_versions (
    version      INTEGER PRIMARY KEY,
    published_ms INTEGER NOT NULL,
    products     INTEGER NOT NULL
);
-- Monotonic counters: `member_version` orders member changes for terminals' deltas (its row
-- lock also orders the transactions that take it), `member_id` numbers new members.
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- Members: only a keyed hash of the phone number and its masked form, as terminals keep them.
CREATE TABLE IF NOT EXISTS members (
    member_id       TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL DEFAULT '',
    tier            TEXT NOT NULL DEFAULT '',
    phone_hash      TEXT UNIQUE,
    phone_masked    TEXT,
    active          INTEGER NOT NULL DEFAULT 1,
    consent_version TEXT,
    consent_at_ms   INTEGER,
    enrolled_store  TEXT,
    enrolled_at_ms  INTEGER,
    version         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS members_by_version ON members(version);
CREATE TABLE IF NOT EXISTS member_aliases (
    provisional_id TEXT PRIMARY KEY,
    member_id      TEXT NOT NULL REFERENCES members(member_id),
    merged         INTEGER NOT NULL,
    version        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS aliases_by_member ON member_aliases(member_id);
CREATE INDEX IF NOT EXISTS aliases_by_version ON member_aliases(version);
-- The chain's points rules, one row per published version (version 0 is built in).
CREATE TABLE IF NOT EXISTS loyalty_rules (
    version         INTEGER PRIMARY KEY CHECK (version > 0),
    points_per_yuan INTEGER NOT NULL CHECK (points_per_yuan BETWEEN 1 AND 100),
    published_ms    INTEGER NOT NULL
);
-- Chain-wide settings every HQ node reads, such as the public address customers reach.
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Claims of anonymous sales by their receipt's QR code; sale_id is set once the sale is at HQ.
CREATE TABLE IF NOT EXISTS claims (
    store_id    TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    member_id   TEXT NOT NULL REFERENCES members(member_id),
    claimed_ms  INTEGER NOT NULL,
    sale_id     TEXT,
    PRIMARY KEY (store_id, terminal_id, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
    store_id    TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (store_id, terminal_id, key)
);
"#;

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }
}

/// A new member key: 32 bytes from the operating system's CSPRNG (through `rand`'s
/// ChaCha-based thread RNG, reseeded from the OS), as 64 lower-case hex characters.
pub(crate) fn new_member_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    hex::encode(key)
}

/// A random secret of `len` characters from an unambiguous alphabet (no 0/O, 1/I).
pub(crate) fn secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

impl HqStore for SqliteStore {
    fn add_store(&mut self, store: &str, name: &str) -> Result<()> {
        match self.conn.execute(
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

    fn add_terminal(&mut self, store: &str, terminal: &str) -> Result<String> {
        let exists: bool = self
            .conn
            .prepare("SELECT 1 FROM stores WHERE id = ?1")?
            .exists([store])?;
        if !exists {
            return Err(HqError::UnknownStore(store.into()));
        }
        let code = secret(12);
        let inserted = self.conn.execute(
            "INSERT INTO terminals (store_id, terminal_id, code_hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (store_id, terminal_id) DO NOTHING",
            params![store, terminal, digest(&code)],
        )?;
        if inserted == 0 {
            return Err(HqError::Exists(format!("terminal {store}/{terminal}")));
        }
        Ok(code)
    }

    fn register(&mut self, code: &str, device: &Device<'_>) -> Result<(String, String, String)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        Ok((store, terminal, token))
    }

    fn reissue_code(&mut self, store: &str, terminal: &str) -> Result<String> {
        let code = secret(12);
        let updated = self.conn.execute(
            "UPDATE terminals SET code_hash = ?3, token_hash = NULL
             WHERE store_id = ?1 AND terminal_id = ?2",
            params![store, terminal, digest(&code)],
        )?;
        if updated == 0 {
            return Err(HqError::UnknownTerminal(format!("{store}/{terminal}")));
        }
        Ok(code)
    }

    fn authenticate(&mut self, token: &str) -> Result<Option<(String, String)>> {
        let found: Option<(String, String, bool)> = self
            .conn
            .prepare_cached(
                "SELECT store_id, terminal_id, code_hash IS NOT NULL FROM terminals WHERE token_hash = ?1",
            )?
            .query_row([digest(token)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((store, terminal, code_unspent)) = found else {
            return Ok(None);
        };
        if code_unspent {
            // The terminal has its token: its registration code is spent now.
            self.conn.execute(
                "UPDATE terminals SET code_hash = NULL WHERE token_hash = ?1 AND code_hash IS NOT NULL",
                [digest(token)],
            )?;
        }
        Ok(Some((store, terminal)))
    }

    fn ingest(
        &mut self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse> {
        // IMMEDIATE: two copies of one batch arriving together are taken one after the other,
        // and the second finds the first's answer.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let earlier: Option<(String, String)> = tx
            .query_row(
                "SELECT body_hash, response FROM idempotency WHERE store_id = ?1 AND terminal_id = ?2 AND key = ?3",
                params![store, terminal, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((hash, response)) = earlier {
            if hash != body_hash {
                return Err(HqError::KeyReused);
            }
            return serde_json::from_str(&response)
                .map_err(|e| HqError::Database(rusqlite::Error::ToSqlConversionFailure(e.into())));
        }
        let mut results = Vec::with_capacity(sales.len());
        for sale in sales {
            results.push(ingest_one(&tx, store, terminal, sale)?);
        }
        let mut touched = accepted_members(sales, &results);
        touched.extend(attribute_waiting_claims(
            &tx, store, terminal, sales, &results,
        )?);
        touch_members(&tx, &touched)?;
        let response = UploadResponse { results };
        tx.execute(
            "INSERT INTO idempotency (store_id, terminal_id, key, body_hash, response, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![store, terminal, key, body_hash, serde_json::to_string(&response).unwrap_or_default(), now_ms()],
        )?;
        tx.execute(
            "UPDATE terminals SET last_sync_ms = ?3 WHERE store_id = ?1 AND terminal_id = ?2",
            params![store, terminal, now_ms()],
        )?;
        tx.commit()?;
        Ok(response)
    }

    fn summaries(&mut self) -> Result<Vec<StoreSummary>> {
        let mut out: BTreeMap<String, StoreSummary> = BTreeMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT store_id, count(*), coalesce(sum(total), 0), coalesce(sum(change), 0) FROM sales GROUP BY store_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let store: String = r.get(0)?;
            out.insert(
                store.clone(),
                StoreSummary {
                    store,
                    sales: r.get(1)?,
                    total: r.get(2)?,
                    change: r.get(3)?,
                    tenders: BTreeMap::new(),
                },
            );
        }
        let mut stmt = self.conn.prepare(
            "SELECT s.store_id, p.kind, sum(p.amount) FROM sale_payments p JOIN sales s ON s.sale_id = p.sale_id
             GROUP BY s.store_id, p.kind",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let store: String = r.get(0)?;
            if let Some(summary) = out.get_mut(&store) {
                summary.tenders.insert(r.get(1)?, r.get(2)?);
            }
        }
        Ok(out.into_values().collect())
    }

    fn rotate_member_key(&mut self) -> Result<(u64, String)> {
        let key = new_member_key();
        self.conn.execute(
            "INSERT INTO member_keys (key_hex, created_ms) VALUES (?1, ?2)",
            params![key, now_ms()],
        )?;
        Ok((
            u64::try_from(self.conn.last_insert_rowid()).unwrap_or(0),
            key,
        ))
    }

    fn member_known(&mut self, member_id: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM members WHERE member_id = ?1)
                 OR EXISTS (SELECT 1 FROM member_aliases WHERE provisional_id = ?1)",
            [member_id],
            |r| r.get(0),
        )?)
    }

    fn points_ledger(&mut self, member_id: &str) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT l.sale_id, l.points FROM points_ledger l JOIN sales s ON s.sale_id = l.sale_id
             WHERE l.member_id = ?1
                OR l.member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = ?1)
             ORDER BY s.created_at_ms, l.sale_id",
        )?;
        let rows = stmt
            .query_map([member_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn member_keys(&mut self) -> Result<Vec<(u64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, key_hex FROM member_keys ORDER BY id DESC LIMIT 2")?;
        let keys = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    fn enroll(&mut self, store: &str, enrollments: &[Enrollment]) -> Result<Vec<Enrolled>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut version = None;
        let mut results = Vec::with_capacity(enrollments.len());
        for e in enrollments {
            let filed: Option<(String, bool)> = tx
                .prepare_cached(
                    "SELECT member_id, merged FROM member_aliases WHERE provisional_id = ?1",
                )?
                .query_row([&e.provisional_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((member_id, merged)) = filed {
                results.push(Enrolled {
                    provisional_id: e.provisional_id.clone(),
                    member_id,
                    merged,
                });
                continue;
            }
            let v = match version {
                Some(v) => v,
                None => *version.insert(next_counter(&tx, "member_version")?),
            };
            let (member_id, merged) = member_for_phone(
                &tx,
                &NewMember {
                    phone_hash: &e.phone_hash,
                    phone_masked: &e.phone_masked,
                    consent_version: &e.consent_version,
                    consent_at_ms: e.consent_at_ms,
                    store,
                    enrolled_at_ms: e.enrolled_at_ms,
                },
                v,
            )?;
            tx.prepare_cached(
                "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![e.provisional_id, member_id, merged, v])?;
            results.push(Enrolled {
                provisional_id: e.provisional_id.clone(),
                member_id,
                merged,
            });
        }
        tx.commit()?;
        Ok(results)
    }

    fn member_delta(&mut self, since: u64, limit: usize) -> Result<MemberDelta> {
        let tx = self.conn.transaction()?;
        let current: u64 = tx
            .query_row(
                "SELECT value FROM counters WHERE name = 'member_version'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let query = |low: u64, high: u64, limit: u64| -> Result<Vec<(u64, MemberEntry)>> {
            Ok(tx
            .prepare_cached(
                "SELECT version, member_id, display_name, tier, phone_hash, phone_masked, active
                 FROM members WHERE version > ?1 AND version <= ?2 ORDER BY version, member_id
                 LIMIT ?3",
            )?
            .query_map(params![low, high, limit], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    MemberEntry {
                        member_id: r.get(1)?,
                        display_name: r.get(2)?,
                        tier: r.get(3)?,
                        points: 0,
                        phone_hash: r.get(4)?,
                        phone_masked: r.get(5)?,
                        active: r.get(6)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let (rows, more, version) =
            match cut_at_version(query(since, current, limit as u64 + 1)?, limit) {
                Page::Whole(rows) => (rows, false, current.max(since)),
                Page::Cut(rows) => {
                    let last = rows.last().map_or(since, |(v, _)| *v);
                    (rows, true, last)
                }
                Page::OneVersion(v) => (query(v - 1, v, u64::MAX >> 1)?, true, v),
            };
        let mut members = Vec::with_capacity(rows.len());
        let mut points = tx.prepare(
            "SELECT coalesce(sum(points), 0) FROM points_ledger WHERE member_id = ?1
                OR member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = ?1)",
        )?;
        for (_, mut member) in rows {
            member.points = points.query_row([&member.member_id], |r| r.get(0))?;
            members.push(member);
        }
        let aliases = tx
            .prepare(
                "SELECT provisional_id, member_id FROM member_aliases
                 WHERE version > ?1 AND version <= ?2 ORDER BY version, provisional_id",
            )?
            .query_map(params![since, version], |r| {
                Ok(MemberAlias {
                    provisional_id: r.get(0)?,
                    member_id: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(MemberDelta {
            version,
            members,
            aliases,
            more,
        })
    }

    fn claim(&mut self, claim: &Claim) -> Result<ClaimOutcome> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed: bool = tx.query_row(
            "SELECT count(*) FROM claims WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            params![claim.store, claim.terminal, claim.seq],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if claimed {
            return Ok(ClaimOutcome::AlreadyClaimed);
        }
        let sale: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT member_id, record FROM sales
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
                params![claim.store, claim.terminal, claim.seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if matches!(sale, Some((Some(_), _))) {
            return Ok(ClaimOutcome::MemberSale);
        }
        let version = next_counter(&tx, "member_version")?;
        let (member_id, _) = member_for_phone(
            &tx,
            &NewMember {
                phone_hash: &claim.phone_hash,
                phone_masked: &claim.phone_masked,
                consent_version: &claim.consent_version,
                consent_at_ms: claim.at_ms,
                store: &claim.store,
                enrolled_at_ms: claim.at_ms,
            },
            version,
        )?;
        tx.execute(
            "INSERT INTO claims (store_id, terminal_id, seq, member_id, claimed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                claim.store,
                claim.terminal,
                claim.seq,
                member_id,
                claim.at_ms
            ],
        )?;
        let outcome = match sale {
            Some((_, record)) => {
                let record = till_sync::SaleRecord::from_canonical_bytes(record.as_bytes())
                    .map_err(|e| HqError::Backend(e.to_string()))?;
                let points = attribute(&tx, &claim.store, &claim.terminal, &record, &member_id)?;
                tx.execute(
                    "UPDATE members SET version = ?2 WHERE member_id = ?1",
                    params![member_id, version],
                )?;
                ClaimOutcome::Attributed { member_id, points }
            }
            None => ClaimOutcome::Waiting { member_id },
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn loyalty_rules(&mut self) -> Result<Vec<LoyaltyRule>> {
        let mut stmt = self
            .conn
            .prepare("SELECT version, points_per_yuan FROM loyalty_rules ORDER BY version")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(version, rate)| Ok(LoyaltyRule::new(version, rate)?))
            .collect()
    }

    fn publish_loyalty(&mut self, points_per_yuan: i64) -> Result<LoyaltyRule> {
        // Checked before anything is written; the next version is taken inside the insert,
        // under SQLite's write lock.
        LoyaltyRule::new(1, points_per_yuan)?;
        let version: u32 = self.conn.query_row(
            "INSERT INTO loyalty_rules (version, points_per_yuan, published_ms)
             SELECT coalesce(max(version), 0) + 1, ?1, ?2 FROM loyalty_rules
             RETURNING version",
            params![points_per_yuan, now_ms()],
            |r| r.get(0),
        )?;
        Ok(LoyaltyRule::new(version, points_per_yuan)?)
    }

    fn join(&mut self, new: &NewMember<'_>) -> Result<(String, bool)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = next_counter(&tx, "member_version")?;
        let joined = member_for_phone(&tx, new, version)?;
        tx.commit()?;
        Ok(joined)
    }

    fn claimed(&mut self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM claims WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            params![store, terminal, seq],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    fn publish_catalog(&mut self, rows: &[CatalogRow]) -> Result<Published> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: std::collections::HashMap<String, String> = tx
            .prepare("SELECT sku, row FROM catalog")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let version: u64 = tx.query_row(
            "SELECT coalesce(max(version), 0) FROM catalog_versions",
            [],
            |r| r.get(0),
        )?;
        let (changed, mut published) = changes(&current, rows);
        published.version = version;
        if changed.is_empty() {
            return Ok(published);
        }
        published.version = version + 1;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO catalog (sku, row, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sku) DO UPDATE SET row = excluded.row, version = excluded.version",
            )?;
            for (sku, json) in &changed {
                upsert.execute(params![sku, json, published.version])?;
            }
        }
        tx.execute(
            "INSERT INTO catalog_versions (version, published_ms, products) VALUES (?1, ?2, ?3)",
            params![published.version, now_ms(), rows.len() as u64],
        )?;
        tx.commit()?;
        Ok(published)
    }

    fn catalog_delta(
        &mut self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta> {
        let upto = match upto {
            Some(v) => v,
            None => self.conn.query_row(
                "SELECT coalesce(max(version), 0) FROM catalog_versions",
                [],
                |r| r.get(0),
            )?,
        };
        let rows = self
            .conn
            .prepare(
                "SELECT row FROM catalog WHERE version > ?1 AND version <= ?2 AND sku > ?3
                 ORDER BY sku LIMIT ?4",
            )?
            .query_map(params![since, upto, after, limit as u64 + 1], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        delta_page(upto, rows, limit)
    }

    fn terminals(&mut self) -> Result<Vec<TerminalStatus>> {
        let mut stmt = self.conn.prepare(
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
            let mut stmt = self.conn.prepare(
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

/// Gaps, breaks, last sequence and count of one terminal's sales, given (seq, prev_hash, hash)
/// in sequence order. Shared by every backend so they judge a chain alike.
pub(crate) fn chain_status(links: &[(u64, String, String)]) -> TerminalStatus {
    let mut status = TerminalStatus::default();
    let mut expected = 1u64;
    let mut previous: Option<&str> = None;
    for (seq, prev_hash, hash) in links {
        status.gaps.extend(expected..*seq);
        let first_ok = *seq == 1 && *prev_hash == hex::encode(till_sync::GENESIS_HASH);
        let linked = previous.is_some_and(|p| p == prev_hash);
        if *seq == expected && !(first_ok || linked) {
            status.breaks.push(*seq);
        }
        previous = Some(hash);
        expected = seq + 1;
        status.last_seq = *seq;
        status.sales += 1;
    }
    status
}

/// A member as an enrollment, a claim or the join page introduces them.
#[derive(Debug)]
pub struct NewMember<'a> {
    pub phone_hash: &'a str,
    pub phone_masked: &'a str,
    pub consent_version: &'a str,
    pub consent_at_ms: i64,
    pub store: &'a str,
    pub enrolled_at_ms: i64,
}

/// The member who has this phone, or a new one at `version`; true if they existed.
fn member_for_phone(
    tx: &Transaction<'_>,
    new: &NewMember<'_>,
    version: u64,
) -> Result<(String, bool)> {
    let existing: Option<String> = tx
        .prepare_cached("SELECT member_id FROM members WHERE phone_hash = ?1")?
        .query_row([new.phone_hash], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok((id, true));
    }
    let id = member_id(next_counter(tx, "member_id")?);
    tx.prepare_cached(
        "INSERT INTO members (member_id, phone_hash, phone_masked, consent_version,
             consent_at_ms, enrolled_store, enrolled_at_ms, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id,
        new.phone_hash,
        new.phone_masked,
        new.consent_version,
        new.consent_at_ms,
        new.store,
        new.enrolled_at_ms,
        version
    ])?;
    Ok((id, false))
}

/// Makes an anonymous sale a claimant's: the claim records the sale, the sale the member, and
/// the ledger the points, keyed by sale ID so nothing can count twice. Returns the points.
fn attribute(
    tx: &Transaction<'_>,
    store: &str,
    terminal: &str,
    record: &till_sync::SaleRecord,
    member_id: &str,
) -> Result<i64> {
    let points = crate::paid_points(record);
    tx.prepare_cached(
        "UPDATE claims SET sale_id = ?4 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
    )?
    .execute(params![store, terminal, record.seq, record.sale_id])?;
    tx.prepare_cached("UPDATE sales SET member_id = ?2 WHERE sale_id = ?1")?
        .execute(params![record.sale_id, member_id])?;
    tx.prepare_cached(
        "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sale_id) DO NOTHING",
    )?
    .execute(params![record.sale_id, member_id, points, now_ms()])?;
    Ok(points)
}

/// Gives claims that were waiting for these newly accepted anonymous sales their sale.
/// Returns the members whose points changed.
fn attribute_waiting_claims(
    tx: &Transaction<'_>,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
    results: &[SaleResult],
) -> Result<Vec<String>> {
    let mut members = Vec::new();
    for (sale, result) in sales.iter().zip(results) {
        let anonymous = matches!(
            sale.record.attribution,
            till_sync::Attribution::Anonymous { .. }
        );
        if result.status != SaleStatus::Accepted || !anonymous {
            continue;
        }
        let waiting: Option<String> = tx
            .prepare_cached(
                "SELECT member_id FROM claims
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3 AND sale_id IS NULL",
            )?
            .query_row(params![store, terminal, sale.record.seq], |r| r.get(0))
            .optional()?;
        if let Some(member_id) = waiting {
            attribute(tx, store, terminal, &sale.record, &member_id)?;
            members.push(member_id);
        }
    }
    Ok(members)
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

/// Gives the members of newly accepted sales (by their own or a provisional ID) a new version,
/// so tills pull their new points balance.
fn touch_members(tx: &Transaction<'_>, ids: &[String]) -> Result<()> {
    let mut known = Vec::new();
    for id in ids {
        let found: Option<String> = tx
            .prepare_cached(
                "SELECT member_id FROM members WHERE member_id = ?1
                 UNION SELECT member_id FROM member_aliases WHERE provisional_id = ?1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?;
        known.extend(found);
    }
    if known.is_empty() {
        return Ok(());
    }
    let version = next_counter(tx, "member_version")?;
    for id in known {
        tx.prepare_cached("UPDATE members SET version = ?2 WHERE member_id = ?1")?
            .execute(params![id, version])?;
    }
    Ok(())
}

fn ingest_one(
    tx: &Transaction<'_>,
    store: &str,
    terminal: &str,
    sale: &UploadedSale,
) -> Result<SaleResult> {
    let record = &sale.record;
    let result = |status, reason: Option<String>| SaleResult {
        seq: record.seq,
        sale_id: record.sale_id.clone(),
        status,
        reason,
    };
    let by_id: Option<String> = tx
        .prepare_cached("SELECT hash FROM sales WHERE sale_id = ?1")?
        .query_row([&record.sale_id], |r| r.get(0))
        .optional()?;
    if let Some(hash) = by_id {
        return Ok(if hash == sale.hash {
            result(SaleStatus::Duplicate, None)
        } else {
            result(
                SaleStatus::Rejected,
                Some("sale id already belongs to a different sale".into()),
            )
        });
    }
    let by_seq: Option<String> = tx
        .prepare_cached(
            "SELECT sale_id FROM sales WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
        )?
        .query_row(params![store, terminal, record.seq], |r| r.get(0))
        .optional()?;
    if let Some(other) = by_seq {
        return Ok(result(
            SaleStatus::Rejected,
            Some(format!(
                "sequence {} already belongs to sale {other}",
                record.seq
            )),
        ));
    }
    let member = match &record.attribution {
        till_sync::Attribution::Member { member_id } => Some(member_id.clone()),
        till_sync::Attribution::Anonymous { .. } => None,
    };
    tx.prepare_cached(
        "INSERT INTO sales (sale_id, store_id, terminal_id, seq, created_at_ms, total, change, member_id, record, prev_hash, hash, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        record.sale_id,
        store,
        terminal,
        record.seq,
        record.created_at_ms,
        record.total,
        record.change,
        member,
        String::from_utf8_lossy(&record.canonical_bytes()),
        sale.prev_hash,
        sale.hash,
        now_ms()
    ])?;
    let mut payment = tx.prepare_cached(
        "INSERT INTO sale_payments (sale_id, idx, kind, amount) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, p) in record.payments.iter().enumerate() {
        payment.execute(params![record.sale_id, i, p.kind, p.amount])?;
    }
    if let Some((member_id, points)) = crate::points_for(record) {
        tx.prepare_cached(
            "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sale_id) DO NOTHING",
        )?
        .execute(params![record.sale_id, member_id, points, now_ms()])?;
    }
    Ok(result(SaleStatus::Accepted, None))
}
