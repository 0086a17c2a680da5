//! The PostgreSQL backend of [`HqStore`], for a real chain. Same schema and rules as the
//! SQLite one; a batch's transaction first locks its terminal's row, so copies of one batch
//! arriving at several HQ nodes at once are taken one after the other.

use std::collections::BTreeMap;
use till_sync::loyalty::LoyaltyRule;

use postgres::{Client, NoTls, Transaction};
use sha2::{Digest, Sha256};
use till_sync::api::{
    Enrolled, Enrollment, MemberAlias, MemberDelta, MemberEntry, SaleResult, SaleStatus,
    UploadResponse, UploadedSale,
};

use till_sync::catalog::{CatalogDelta, CatalogRow};

use crate::catalog::{Published, changes};
use crate::claims::{Claim, ClaimOutcome};
use crate::db::{
    Device, HqError, HqStore, NewMember, Page, Result, StoreSummary, TerminalStatus,
    accepted_members, chain_status, cut_at_version, delta_page, member_id, new_member_key, secret,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS stores (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS terminals (
    store_id     TEXT NOT NULL REFERENCES stores(id),
    terminal_id  TEXT NOT NULL,
    code_hash    BYTEA,
    token_hash   BYTEA UNIQUE,
    last_sync_ms BIGINT,
    PRIMARY KEY (store_id, terminal_id)
);
CREATE TABLE IF NOT EXISTS sales (
    sale_id       TEXT PRIMARY KEY,
    store_id      TEXT NOT NULL,
    terminal_id   TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    change        BIGINT NOT NULL,
    member_id     TEXT,
    record        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    received_ms   BIGINT NOT NULL,
    UNIQUE (store_id, terminal_id, seq)
);
-- No foreign key: payments are only ever written in their sale's transaction, and a
-- per-row foreign-key trigger would cost bulk ingest more than the rest of the row.
CREATE TABLE IF NOT EXISTS sale_payments (
    sale_id TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    amount  BIGINT NOT NULL,
    PRIMARY KEY (sale_id, idx)
);
CREATE TABLE IF NOT EXISTS points_ledger (
    sale_id    TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL,
    points     BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS points_by_member ON points_ledger(member_id);
CREATE TABLE IF NOT EXISTS member_keys (
    id         BIGSERIAL PRIMARY KEY,
    key_hex    TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog (
    sku     TEXT PRIMARY KEY,
    row     TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_by_version ON catalog(version, sku);
CREATE TABLE IF NOT EXISTS catalog_versions (
    version      BIGINT PRIMARY KEY,
    published_ms BIGINT NOT NULL,
    products     BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    member_id       TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL DEFAULT '',
    tier            TEXT NOT NULL DEFAULT '',
    phone_hash      TEXT UNIQUE,
    phone_masked    TEXT,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    consent_version TEXT,
    consent_at_ms   BIGINT,
    enrolled_store  TEXT,
    enrolled_at_ms  BIGINT,
    version         BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS members_by_version ON members(version);
CREATE TABLE IF NOT EXISTS member_aliases (
    provisional_id TEXT PRIMARY KEY,
    member_id      TEXT NOT NULL REFERENCES members(member_id),
    merged         BOOLEAN NOT NULL,
    version        BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS aliases_by_member ON member_aliases(member_id);
CREATE INDEX IF NOT EXISTS aliases_by_version ON member_aliases(version);
CREATE TABLE IF NOT EXISTS loyalty_rules (
    version         BIGINT PRIMARY KEY CHECK (version > 0),
    points_per_yuan BIGINT NOT NULL CHECK (points_per_yuan BETWEEN 1 AND 100),
    published_ms    BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    store_id    TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    member_id   TEXT NOT NULL REFERENCES members(member_id),
    claimed_ms  BIGINT NOT NULL,
    sale_id     TEXT,
    PRIMARY KEY (store_id, terminal_id, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
    store_id    TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (store_id, terminal_id, key)
);
"#;

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn db(e: postgres::Error) -> HqError {
    HqError::Backend(e.to_string())
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

pub struct PgStore {
    client: Client,
    url: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

impl PgStore {
    /// Connects with a `postgres://…` URL and creates the schema if it is missing.
    pub fn connect(url: &str) -> Result<PgStore> {
        let mut client = open_client(url)?;
        client.batch_execute(SCHEMA).map_err(db)?;
        Ok(PgStore {
            client,
            url: url.to_string(),
        })
    }

    /// The connection, reopened if PostgreSQL dropped it (a restart, a failover), so that an
    /// outage costs the requests made during it and no more.
    fn live(&mut self) -> Result<&mut Client> {
        if self.client.is_closed() {
            tracing::warn!("PostgreSQL connection lost; reconnecting");
            self.client = open_client(&self.url)?;
        }
        Ok(&mut self.client)
    }
}

fn open_client(url: &str) -> Result<Client> {
    let mut client = Client::connect(url, NoTls).map_err(db)?;
    // "relation already exists, skipping" notices are not news on every start.
    client
        .batch_execute("SET client_min_messages TO WARNING")
        .map_err(db)?;
    Ok(client)
}

impl HqStore for PgStore {
    fn add_store(&mut self, store: &str, name: &str) -> Result<()> {
        match self.live()?.execute(
            "INSERT INTO stores (id, name) VALUES ($1, $2)",
            &[&store, &name],
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(HqError::Exists(format!("store {store}"))),
            Err(e) => Err(db(e)),
        }
    }

    fn add_terminal(&mut self, store: &str, terminal: &str) -> Result<String> {
        let exists = !self
            .live()?
            .query("SELECT 1 FROM stores WHERE id = $1", &[&store])
            .map_err(db)?
            .is_empty();
        if !exists {
            return Err(HqError::UnknownStore(store.into()));
        }
        let code = secret(12);
        let inserted = self
            .live()?
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

    fn register(&mut self, code: &str, device: &Device<'_>) -> Result<(String, String, String)> {
        let (fresh, bound) = device.code_hashes(code);
        let found = self
            .live()?
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
        let updated = self
            .live()?
            .execute(
                "UPDATE terminals SET token_hash = $3, code_hash = $4
                 WHERE store_id = $1 AND terminal_id = $2 AND code_hash = $5",
                &[&store, &terminal, &digest(&token), &bound, &held],
            )
            .map_err(db)?;
        if updated == 0 {
            return Err(HqError::BadCode);
        }
        Ok((store, terminal, token))
    }

    fn reissue_code(&mut self, store: &str, terminal: &str) -> Result<String> {
        let code = secret(12);
        let updated = self
            .live()?
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

    fn authenticate(&mut self, token: &str) -> Result<Option<(String, String)>> {
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
        Ok(Some((row.get(0), row.get(1))))
    }

    fn ingest(
        &mut self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse> {
        let mut tx = self.live()?.transaction().map_err(db)?;
        tx.execute(
            "SELECT 1 FROM terminals WHERE store_id = $1 AND terminal_id = $2 FOR UPDATE",
            &[&store, &terminal],
        )
        .map_err(db)?;
        let earlier = tx
            .query_opt(
                "SELECT body_hash, response FROM idempotency WHERE store_id = $1 AND terminal_id = $2 AND key = $3",
                &[&store, &terminal, &key],
            )
            .map_err(db)?;
        if let Some(row) = earlier {
            let (hash, response): (String, String) = (row.get(0), row.get(1));
            if hash != body_hash {
                return Err(HqError::KeyReused);
            }
            return serde_json::from_str(&response).map_err(|e| HqError::Backend(e.to_string()));
        }
        let results = ingest_batch(&mut tx, store, terminal, sales)?;
        let mut touched = accepted_members(sales, &results);
        touched.extend(attribute_waiting_claims(
            &mut tx, store, terminal, sales, &results,
        )?);
        touch_members(&mut tx, &touched)?;
        let response = UploadResponse { results };
        let json = serde_json::to_string(&response).map_err(|e| HqError::Backend(e.to_string()))?;
        tx.execute(
            "INSERT INTO idempotency (store_id, terminal_id, key, body_hash, response, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&store, &terminal, &key, &body_hash, &json, &now_ms()],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE terminals SET last_sync_ms = $3 WHERE store_id = $1 AND terminal_id = $2",
            &[&store, &terminal, &now_ms()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(response)
    }

    fn summaries(&mut self) -> Result<Vec<StoreSummary>> {
        let mut out: BTreeMap<String, StoreSummary> = BTreeMap::new();
        for r in self.live()?
            .query(
                "SELECT store_id, count(*), coalesce(sum(total), 0)::BIGINT, coalesce(sum(change), 0)::BIGINT
                 FROM sales GROUP BY store_id",
                &[],
            )
            .map_err(db)?
        {
            let store: String = r.get(0);
            let sales: i64 = r.get(1);
            out.insert(
                store.clone(),
                StoreSummary { store, sales: sales.unsigned_abs(), total: r.get(2), change: r.get(3), tenders: BTreeMap::new() },
            );
        }
        for r in self.live()?
            .query(
                "SELECT s.store_id, p.kind, sum(p.amount)::BIGINT FROM sale_payments p JOIN sales s ON s.sale_id = p.sale_id
                 GROUP BY s.store_id, p.kind",
                &[],
            )
            .map_err(db)?
        {
            let store: String = r.get(0);
            if let Some(summary) = out.get_mut(&store) {
                summary.tenders.insert(r.get(1), r.get(2));
            }
        }
        Ok(out.into_values().collect())
    }

    fn rotate_member_key(&mut self) -> Result<(u64, String)> {
        let key = new_member_key();
        let row = self
            .live()?
            .query_one(
                "INSERT INTO member_keys (key_hex, created_ms) VALUES ($1, $2) RETURNING id",
                &[&key, &now_ms()],
            )
            .map_err(db)?;
        let id: i64 = row.get(0);
        Ok((id.unsigned_abs(), key))
    }

    fn member_known(&mut self, member_id: &str) -> Result<bool> {
        Ok(self
            .live()?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM members WHERE member_id = $1)
                     OR EXISTS (SELECT 1 FROM member_aliases WHERE provisional_id = $1)",
                &[&member_id],
            )
            .map_err(db)?
            .get(0))
    }

    fn points_ledger(&mut self, member_id: &str) -> Result<Vec<(String, i64)>> {
        let rows = self
            .live()?
            .query(
                "SELECT l.sale_id, l.points FROM points_ledger l JOIN sales s ON s.sale_id = l.sale_id
                 WHERE l.member_id = $1
                    OR l.member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = $1)
                 ORDER BY s.created_at_ms, l.sale_id",
                &[&member_id],
            )
            .map_err(db)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn member_keys(&mut self) -> Result<Vec<(u64, String)>> {
        let rows = self
            .live()?
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

    fn enroll(&mut self, store: &str, enrollments: &[Enrollment]) -> Result<Vec<Enrolled>> {
        let mut tx = self.live()?.transaction().map_err(db)?;
        // Taken first, the version counter's row lock also keeps two tills enrolling the same
        // phone at once from both creating a member: the second waits, then finds the first.
        let version = next_counter(&mut tx, "member_version")?;
        let mut results = Vec::with_capacity(enrollments.len());
        let mut changed = false;
        for e in enrollments {
            let filed = tx
                .query_opt(
                    "SELECT member_id, merged FROM member_aliases WHERE provisional_id = $1",
                    &[&e.provisional_id],
                )
                .map_err(db)?;
            if let Some(row) = filed {
                results.push(Enrolled {
                    provisional_id: e.provisional_id.clone(),
                    member_id: row.get(0),
                    merged: row.get(1),
                });
                continue;
            }
            changed = true;
            let (member_id, merged) = member_for_phone(
                &mut tx,
                &NewMember {
                    phone_hash: &e.phone_hash,
                    phone_masked: &e.phone_masked,
                    consent_version: &e.consent_version,
                    consent_at_ms: e.consent_at_ms,
                    store,
                    enrolled_at_ms: e.enrolled_at_ms,
                },
                version,
            )?;
            tx.execute(
                "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
                 VALUES ($1, $2, $3, $4)",
                &[&e.provisional_id, &member_id, &merged, &version],
            )
            .map_err(db)?;
            results.push(Enrolled {
                provisional_id: e.provisional_id.clone(),
                member_id,
                merged,
            });
        }
        if changed {
            tx.commit().map_err(db)?;
        }
        Ok(results)
    }

    fn member_delta(&mut self, since: u64, limit: usize) -> Result<MemberDelta> {
        let mut tx = self
            .live()?
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db)?;
        let current: i64 = tx
            .query_opt(
                "SELECT value FROM counters WHERE name = 'member_version'",
                &[],
            )
            .map_err(db)?
            .map_or(0, |r| r.get(0));
        let since_v = since as i64;
        let mut query = |low: i64, high: i64, limit: i64| -> Result<Vec<(u64, MemberEntry)>> {
            Ok(tx
                .query(
                    "SELECT version, member_id, display_name, tier, phone_hash, phone_masked, active
                     FROM members WHERE version > $1 AND version <= $2 ORDER BY version, member_id
                     LIMIT $3",
                    &[&low, &high, &limit],
                )
                .map_err(db)?
                .iter()
                .map(|r| {
                    (
                        r.get::<_, i64>(0).unsigned_abs(),
                        MemberEntry {
                            member_id: r.get(1),
                            display_name: r.get(2),
                            tier: r.get(3),
                            points: 0,
                            phone_hash: r.get(4),
                            phone_masked: r.get(5),
                            active: r.get(6),
                        },
                    )
                })
                .collect())
        };
        let (rows, more, version) =
            match cut_at_version(query(since_v, current, limit as i64 + 1)?, limit) {
                Page::Whole(rows) => (rows, false, current.max(since_v)),
                Page::Cut(rows) => {
                    let last = rows.last().map_or(since_v, |(v, _)| *v as i64);
                    (rows, true, last)
                }
                Page::OneVersion(v) => {
                    let v = v as i64;
                    (query(v - 1, v, i64::MAX)?, true, v)
                }
            };
        let mut members: Vec<MemberEntry> = rows.into_iter().map(|(_, m)| m).collect();
        let ids: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
        let balances: std::collections::HashMap<String, i64> = tx
            .query(
                "SELECT coalesce(a.member_id, l.member_id) AS m, sum(l.points)::BIGINT
                 FROM points_ledger l LEFT JOIN member_aliases a ON a.provisional_id = l.member_id
                 WHERE l.member_id = ANY($1) OR a.member_id = ANY($1)
                 GROUP BY m",
                &[&ids],
            )
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for member in &mut members {
            member.points = balances.get(&member.member_id).copied().unwrap_or(0);
        }
        let aliases = tx
            .query(
                "SELECT provisional_id, member_id FROM member_aliases
                 WHERE version > $1 AND version <= $2 ORDER BY version, provisional_id",
                &[&since_v, &version],
            )
            .map_err(db)?
            .iter()
            .map(|r| MemberAlias {
                provisional_id: r.get(0),
                member_id: r.get(1),
            })
            .collect();
        tx.commit().map_err(db)?;
        Ok(MemberDelta {
            version: version.unsigned_abs(),
            members,
            aliases,
            more,
        })
    }

    fn claim(&mut self, claim: &Claim) -> Result<ClaimOutcome> {
        let mut tx = self.live()?.transaction().map_err(db)?;
        // The terminal's row lock, which ingest takes too, orders this claim with a batch that
        // may be bringing the sale in right now: one of them always sees the other's work.
        tx.execute(
            "SELECT 1 FROM terminals WHERE store_id = $1 AND terminal_id = $2 FOR UPDATE",
            &[&claim.store, &claim.terminal],
        )
        .map_err(db)?;
        let version = next_counter(&mut tx, "member_version")?;
        let seq = claim.seq as i64;
        let claimed = tx
            .query_opt(
                "SELECT 1 FROM claims WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&claim.store, &claim.terminal, &seq],
            )
            .map_err(db)?
            .is_some();
        if claimed {
            return Ok(ClaimOutcome::AlreadyClaimed);
        }
        let sale = tx
            .query_opt(
                "SELECT member_id, record FROM sales
                 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&claim.store, &claim.terminal, &seq],
            )
            .map_err(db)?
            .map(|r| (r.get::<_, Option<String>>(0), r.get::<_, String>(1)));
        if matches!(sale, Some((Some(_), _))) {
            return Ok(ClaimOutcome::MemberSale);
        }
        let (member_id, _) = member_for_phone(
            &mut tx,
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
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &claim.store,
                &claim.terminal,
                &seq,
                &member_id,
                &claim.at_ms,
            ],
        )
        .map_err(db)?;
        let outcome = match sale {
            Some((_, record)) => {
                let record = till_sync::SaleRecord::from_canonical_bytes(record.as_bytes())
                    .map_err(|e| HqError::Backend(e.to_string()))?;
                let points =
                    attribute(&mut tx, &claim.store, &claim.terminal, &record, &member_id)?;
                tx.execute(
                    "UPDATE members SET version = $2 WHERE member_id = $1",
                    &[&member_id, &version],
                )
                .map_err(db)?;
                ClaimOutcome::Attributed { member_id, points }
            }
            None => ClaimOutcome::Waiting { member_id },
        };
        tx.commit().map_err(db)?;
        Ok(outcome)
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .live()?
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .map_err(db)?
            .map(|r| r.get(0)))
    }

    fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.live()?
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .map_err(db)?;
        Ok(())
    }

    fn loyalty_rules(&mut self) -> Result<Vec<LoyaltyRule>> {
        let rows = self
            .live()?
            .query(
                "SELECT version, points_per_yuan FROM loyalty_rules ORDER BY version",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let version = u32::try_from(r.get::<_, i64>(0))
                    .map_err(|_| HqError::Backend("a loyalty rule version out of range".into()))?;
                Ok(LoyaltyRule::new(version, r.get::<_, i64>(1))?)
            })
            .collect()
    }

    fn publish_loyalty(&mut self, points_per_yuan: i64) -> Result<LoyaltyRule> {
        LoyaltyRule::new(1, points_per_yuan)?;
        let mut tx = self.live()?.transaction().map_err(db)?;
        // Two publishes at once take turns: each gets its own next version.
        tx.batch_execute("LOCK TABLE loyalty_rules IN SHARE ROW EXCLUSIVE MODE")
            .map_err(db)?;
        let version: i64 = tx
            .query_one(
                "INSERT INTO loyalty_rules (version, points_per_yuan, published_ms)
                 SELECT coalesce(max(version), 0) + 1, $1, $2 FROM loyalty_rules
                 RETURNING version",
                &[&points_per_yuan, &now_ms()],
            )
            .map_err(db)?
            .get(0);
        tx.commit().map_err(db)?;
        let version = u32::try_from(version)
            .map_err(|_| HqError::Backend("a loyalty rule version out of range".into()))?;
        Ok(LoyaltyRule::new(version, points_per_yuan)?)
    }

    fn join(&mut self, new: &NewMember<'_>) -> Result<(String, bool)> {
        let mut tx = self.live()?.transaction().map_err(db)?;
        let version = next_counter(&mut tx, "member_version")?;
        let joined = member_for_phone(&mut tx, new, version)?;
        tx.commit().map_err(db)?;
        Ok(joined)
    }

    fn claimed(&mut self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        Ok(self
            .live()?
            .query_opt(
                "SELECT 1 FROM claims WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &(seq as i64)],
            )
            .map_err(db)?
            .is_some())
    }

    fn publish_catalog(&mut self, rows: &[CatalogRow]) -> Result<Published> {
        let mut tx = self.live()?.transaction().map_err(db)?;
        // One publisher at a time, wherever it runs: each version is computed from the last.
        tx.batch_execute("LOCK TABLE catalog_versions IN EXCLUSIVE MODE")
            .map_err(db)?;
        let current: std::collections::HashMap<String, String> = tx
            .query("SELECT sku, row FROM catalog", &[])
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let version: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM catalog_versions",
                &[],
            )
            .map_err(db)?
            .get(0);
        let (changed, mut published) = changes(&current, rows);
        published.version = version.unsigned_abs();
        if changed.is_empty() {
            return Ok(published);
        }
        let next = version + 1;
        published.version = next.unsigned_abs();
        tx.batch_execute("CREATE TEMP TABLE catalog_staging (sku TEXT, row TEXT) ON COMMIT DROP")
            .map_err(db)?;
        let mut data = String::new();
        for (sku, json) in &changed {
            data.push_str(&format!("{}\t{}\n", copy_text(sku), copy_text(json)));
        }
        copy_in(
            &mut tx,
            "COPY catalog_staging (sku, row) FROM STDIN",
            data.as_bytes(),
        )?;
        tx.execute(
            "INSERT INTO catalog (sku, row, version) SELECT sku, row, $1 FROM catalog_staging
             ON CONFLICT (sku) DO UPDATE SET row = excluded.row, version = excluded.version",
            &[&next],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO catalog_versions (version, published_ms, products) VALUES ($1, $2, $3)",
            &[&next, &now_ms(), &(rows.len() as i64)],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(published)
    }

    fn catalog_delta(
        &mut self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta> {
        let client = self.live()?;
        let upto = match upto {
            Some(v) => v as i64,
            None => client
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM catalog_versions",
                    &[],
                )
                .map_err(db)?
                .get(0),
        };
        let rows = client
            .query(
                "SELECT row FROM catalog WHERE version > $1 AND version <= $2 AND sku > $3
                 ORDER BY sku LIMIT $4",
                &[&(since as i64), &upto, &after, &(limit as i64 + 1)],
            )
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        delta_page(upto.unsigned_abs(), rows, limit)
    }

    fn terminals(&mut self) -> Result<Vec<TerminalStatus>> {
        let rows = self.live()?
            .query(
                "SELECT store_id, terminal_id, token_hash IS NOT NULL, last_sync_ms FROM terminals ORDER BY store_id, terminal_id",
                &[],
            )
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (store, terminal): (String, String) = (r.get(0), r.get(1));
            let links: Vec<(u64, String, String)> = self.live()?
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

/// The member who has this phone, or a new one at `version`; true if they existed.
fn member_for_phone(
    tx: &mut Transaction<'_>,
    new: &NewMember<'_>,
    version: i64,
) -> Result<(String, bool)> {
    let existing: Option<String> = tx
        .query_opt(
            "SELECT member_id FROM members WHERE phone_hash = $1",
            &[&new.phone_hash],
        )
        .map_err(db)?
        .map(|r| r.get(0));
    if let Some(id) = existing {
        return Ok((id, true));
    }
    let id = member_id(next_counter(tx, "member_id")?.unsigned_abs());
    tx.execute(
        "INSERT INTO members (member_id, phone_hash, phone_masked, consent_version,
             consent_at_ms, enrolled_store, enrolled_at_ms, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &id,
            &new.phone_hash,
            &new.phone_masked,
            &new.consent_version,
            &new.consent_at_ms,
            &new.store,
            &new.enrolled_at_ms,
            &version,
        ],
    )
    .map_err(db)?;
    Ok((id, false))
}

/// Makes an anonymous sale a claimant's: the claim records the sale, the sale the member, and
/// the ledger the points, keyed by sale ID so nothing can count twice. Returns the points.
fn attribute(
    tx: &mut Transaction<'_>,
    store: &str,
    terminal: &str,
    record: &till_sync::SaleRecord,
    member_id: &str,
) -> Result<i64> {
    let points = crate::paid_points(record);
    tx.execute(
        "UPDATE claims SET sale_id = $4 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
        &[&store, &terminal, &(record.seq as i64), &record.sale_id],
    )
    .map_err(db)?;
    tx.execute(
        "UPDATE sales SET member_id = $2 WHERE sale_id = $1",
        &[&record.sale_id, &member_id],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
         VALUES ($1, $2, $3, $4) ON CONFLICT (sale_id) DO NOTHING",
        &[&record.sale_id, &member_id, &points, &now_ms()],
    )
    .map_err(db)?;
    Ok(points)
}

/// Gives claims that were waiting for these newly accepted anonymous sales their sale, with
/// one lookup for the batch. Returns the members whose points changed.
fn attribute_waiting_claims(
    tx: &mut Transaction<'_>,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
    results: &[SaleResult],
) -> Result<Vec<String>> {
    let fresh: Vec<&till_sync::SaleRecord> = sales
        .iter()
        .zip(results)
        .filter(|(s, r)| {
            r.status == SaleStatus::Accepted
                && matches!(
                    s.record.attribution,
                    till_sync::Attribution::Anonymous { .. }
                )
        })
        .map(|(s, _)| &s.record)
        .collect();
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = fresh.iter().map(|r| r.seq as i64).collect();
    let waiting: std::collections::HashMap<i64, String> = tx
        .query(
            "SELECT seq, member_id FROM claims
             WHERE store_id = $1 AND terminal_id = $2 AND seq = ANY($3) AND sale_id IS NULL",
            &[&store, &terminal, &seqs],
        )
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut members = Vec::new();
    for record in fresh {
        if let Some(member_id) = waiting.get(&(record.seq as i64)) {
            attribute(tx, store, terminal, record, member_id)?;
            members.push(member_id.clone());
        }
    }
    Ok(members)
}

/// Gives the members of newly accepted sales (by their own or a provisional ID) a new version,
/// so tills pull their new points balance.
fn touch_members(tx: &mut Transaction<'_>, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let known: Vec<String> = tx
        .query(
            "SELECT member_id FROM members WHERE member_id = ANY($1)
             UNION SELECT member_id FROM member_aliases WHERE provisional_id = ANY($1)",
            &[&ids],
        )
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if known.is_empty() {
        return Ok(());
    }
    let version = next_counter(tx, "member_version")?;
    tx.execute(
        "UPDATE members SET version = $1 WHERE member_id = ANY($2)",
        &[&version, &known],
    )
    .map_err(db)?;
    Ok(())
}

/// Answers every sale of a batch with two lookups, then writes the new ones with `COPY`, which
/// costs PostgreSQL far less per row than one `INSERT` round trip each. The terminal's row lock
/// taken by the caller keeps another copy of the batch out meanwhile.
fn ingest_batch(
    tx: &mut Transaction<'_>,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
) -> Result<Vec<SaleResult>> {
    // One round trip answers both questions: which of these sale IDs HQ has, and which of
    // this terminal's sequence numbers in the batch's range are taken. A batch's sequence
    // numbers are nearly always one run, so a range scan of the unique index finds them.
    let ids: Vec<&str> = sales.iter().map(|s| s.record.sale_id.as_str()).collect();
    let seqs = sales
        .iter()
        .filter_map(|s| i64::try_from(s.record.seq).ok());
    let (low, high) = seqs.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let mut known_ids = std::collections::HashMap::new();
    let mut known_seqs = std::collections::HashMap::new();
    for r in tx
        .query(
            "SELECT true, sale_id, hash, 0::BIGINT FROM sales WHERE sale_id = ANY($1)
             UNION ALL
             SELECT false, sale_id, '', seq FROM sales
             WHERE store_id = $2 AND terminal_id = $3 AND seq BETWEEN $4 AND $5",
            &[&ids, &store, &terminal, &low, &high],
        )
        .map_err(db)?
    {
        if r.get::<_, bool>(0) {
            known_ids.insert(r.get::<_, String>(1), r.get::<_, String>(2));
        } else {
            known_seqs.insert(r.get::<_, i64>(3), r.get::<_, String>(1));
        }
    }
    let mut results = Vec::with_capacity(sales.len());
    let mut fresh: Vec<&UploadedSale> = Vec::new();
    let mut taken_ids = std::collections::HashSet::new();
    let mut taken_seqs = std::collections::HashSet::new();
    for sale in sales {
        let record = &sale.record;
        let result = |status, reason: Option<String>| SaleResult {
            seq: record.seq,
            sale_id: record.sale_id.clone(),
            status,
            reason,
        };
        let seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
        if let Some(hash) = known_ids.get(&record.sale_id) {
            results.push(if *hash == sale.hash {
                result(SaleStatus::Duplicate, None)
            } else {
                result(
                    SaleStatus::Rejected,
                    Some("sale id already belongs to a different sale".into()),
                )
            });
        } else if let Some(other) = known_seqs.get(&seq) {
            results.push(result(
                SaleStatus::Rejected,
                Some(format!(
                    "sequence {} already belongs to sale {other}",
                    record.seq
                )),
            ));
        } else if !taken_ids.insert(record.sale_id.as_str()) || !taken_seqs.insert(seq) {
            // The same sale or sequence twice in one batch: the first one stands.
            results.push(result(SaleStatus::Duplicate, None));
        } else {
            fresh.push(sale);
            results.push(result(SaleStatus::Accepted, None));
        }
    }
    if fresh.is_empty() {
        return Ok(results);
    }
    let received = now_ms();
    let mut rows = String::new();
    let mut payments = String::new();
    let mut points = String::new();
    for sale in &fresh {
        let r = &sale.record;
        let member = match &r.attribution {
            till_sync::Attribution::Member { member_id } => copy_text(member_id),
            till_sync::Attribution::Anonymous { .. } => "\\N".to_string(),
        };
        let canonical = String::from_utf8_lossy(&r.canonical_bytes()).into_owned();
        rows += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{member}\t{}\t{}\t{}\t{received}\n",
            copy_text(&r.sale_id),
            copy_text(store),
            copy_text(terminal),
            r.seq,
            r.created_at_ms,
            r.total,
            r.change,
            copy_text(&canonical),
            copy_text(&sale.prev_hash),
            copy_text(&sale.hash),
        );
        if let Some((member_id, earned)) = crate::points_for(r) {
            points += &format!(
                "{}\t{}\t{earned}\t{received}\n",
                copy_text(&r.sale_id),
                copy_text(&member_id)
            );
        }
        for (i, p) in r.payments.iter().enumerate() {
            payments += &format!(
                "{}\t{i}\t{}\t{}\n",
                copy_text(&r.sale_id),
                copy_text(&p.kind),
                p.amount
            );
        }
    }
    copy_in(
        tx,
        "COPY sales (sale_id, store_id, terminal_id, seq, created_at_ms, total, change, member_id, record, prev_hash, hash, received_ms) FROM STDIN",
        rows.as_bytes(),
    )?;
    copy_in(
        tx,
        "COPY sale_payments (sale_id, idx, kind, amount) FROM STDIN",
        payments.as_bytes(),
    )?;
    // Only sales new to HQ reach here, so each ledger row is written exactly once; the
    // primary key on sale_id would refuse a second one anyway.
    copy_in(
        tx,
        "COPY points_ledger (sale_id, member_id, points, created_ms) FROM STDIN",
        points.as_bytes(),
    )?;
    Ok(results)
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
