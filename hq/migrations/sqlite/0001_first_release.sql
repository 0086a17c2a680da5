-- Version 1: HQ's schema as its first release created it (before versioned migrations), every
-- statement IF NOT EXISTS, so a database that release made takes this version as it is.
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
-- Member passes: the link a member gets after joining or claiming, to the page that shows
-- their live member code. Only the token's SHA-256 is kept.
CREATE TABLE IF NOT EXISTS member_passes (
    token_hash TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
-- One-time codes sent by SMS to prove a phone on the join and claim pages: by the phone's
-- hash and what the code is for, the code's SHA-256 only, until it expires or is used.
CREATE TABLE IF NOT EXISTS sms_codes (
    phone_hash TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (phone_hash, purpose)
);
-- Each terminal's claim keys, newest last: the newest signs its receipts' claim codes; every
-- one it ever had still verifies them. A reissued terminal gets a new one.
CREATE TABLE IF NOT EXISTS claim_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    store      TEXT NOT NULL,
    terminal   TEXT NOT NULL,
    key_hex    TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS claim_keys_by_terminal ON claim_keys(store, terminal);
-- HQ's member-code keys (Ed25519): the secret (RFC 8032 seed) as 64 hex characters, by key
-- ID. Terminals get only the public halves of the newest two.
CREATE TABLE IF NOT EXISTS code_keys (
    kid        INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hex TEXT NOT NULL UNIQUE,
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
