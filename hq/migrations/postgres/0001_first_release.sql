-- Version 1: HQ's schema as its first release created it (before versioned migrations), every
-- statement IF NOT EXISTS, so a database that release made takes this version as it is.
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
-- Member passes: the link a member gets after joining or claiming, to the page that shows
-- their live member code. Only the token's SHA-256 is kept.
CREATE TABLE IF NOT EXISTS member_passes (
    token_hash TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
-- One-time codes sent by SMS to prove a phone on the join and claim pages: by the phone's
-- hash and what the code is for, the code's SHA-256 only, until it expires or is used.
CREATE TABLE IF NOT EXISTS sms_codes (
    phone_hash TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    used       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (phone_hash, purpose)
);
-- Each terminal's claim keys, newest last: the newest signs its receipts' claim codes; every
-- one it ever had still verifies them. A reissued terminal gets a new one.
CREATE TABLE IF NOT EXISTS claim_keys (
    id         BIGSERIAL PRIMARY KEY,
    store      TEXT NOT NULL,
    terminal   TEXT NOT NULL,
    key_hex    TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS claim_keys_by_terminal ON claim_keys(store, terminal);
-- HQ's member-code keys (Ed25519): the secret (RFC 8032 seed) as 64 hex characters, by key
-- ID. Terminals get only the public halves of the newest two.
CREATE TABLE IF NOT EXISTS code_keys (
    kid        BIGSERIAL PRIMARY KEY,
    secret_hex TEXT NOT NULL UNIQUE,
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
