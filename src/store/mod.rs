//! The terminal's local store: one SQLite file, WAL with `synchronous=FULL`, versioned schema.
//!
//! Invariant: a sale is committed in one transaction holding its lines, payments, journal link
//! and outbox row, or not at all. Nothing here knows about the UI.

mod catalog;
mod journal;
mod members;
mod outbox;
mod parked;
mod print_jobs;
mod returns;
pub(crate) mod sales;
mod schema;
mod shifts;
mod staff;

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use till_domain::{Currency, Money};

pub use catalog::{CatalogImport, ImportStats};
pub use journal::{JournalProblem, JournalReport};
pub use members::{
    CodeUse, EnrollmentState, HashedPhone, Member, MemberCodeSpend, MemberListing, MemberRecord,
    PhoneHasher,
};
pub use parked::{OpenTicket, ParkedTicket};
pub use print_jobs::PrintJob;
pub use returns::{CommittedReturn, ReturnRequest, ReturnableLine};
pub use sales::{CommittedSale, DaySummary, SaleExtras, SaleMeta, SaleSummary};
pub use shifts::{ClosedShift, OpsProblem, OpsReport, Shift};
pub use staff::{Role, StaffMember};

/// How long a command waits for another connection's write to finish before it reports the
/// database busy. A sync's longest transaction (a 5,000-product catalog page) takes well under
/// a second.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Marks a SQLite file as Till's (`PRAGMA application_id`), ASCII "TILL".
pub const APPLICATION_ID: i32 = 0x5449_4C4C;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} does not exist; run `till init` first")]
    Missing(String),
    #[error("{0} is not a Till database; nothing was changed")]
    NotTill(String),
    #[error("{path} was written by a newer Till (schema {found}, this build knows {known})")]
    NewerSchema {
        path: String,
        found: i32,
        known: i32,
    },
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("this database belongs to store {store} terminal {terminal}, not the configured one")]
    WrongTerminal { store: String, terminal: String },
    #[error("sale #{0} not found")]
    SaleNotFound(u64),
    #[error("parked ticket {0} not found")]
    ParkedNotFound(i64),
    #[error("staff member {0} already exists")]
    StaffExists(String),
    #[error("no active staff member {0}")]
    StaffNotFound(String),
    #[error("no member key on this till: import one with `till member key import FILE`")]
    NoMemberKey,
    /// HQ sent a different public key under a key ID this till already holds.
    #[error(
        "HQ's member-code key {0} differs from the one this till holds: HQ's database may have been replaced"
    )]
    CodeKeyChanged(u64),
    /// HQ sent a phone pepper other than the one this till holds: every phone hash here would
    /// stop matching.
    #[error(
        "HQ's phone pepper differs from the one this till holds: HQ's database may have been replaced; re-register this till"
    )]
    PepperChanged,
    #[error("a member with this phone number already exists")]
    MemberExists,
    /// A member code on the sale was used by another sale within its window.
    #[error("member code already used on another sale: ask for a fresh one")]
    MemberCodeUsed,
    #[error("shift {0} is open: close it before opening another")]
    ShiftOpen(u64),
    #[error(
        "no shift is open: open one with its float counted (`till shift open --count 100=2 …`, \
         or Menu → Open shift on the touchscreen)"
    )]
    NoOpenShift,
    #[error("shift {0} not found")]
    ShiftNotFound(u64),
    #[error("shift {0} is still open: it has no Z report until it closes")]
    ShiftNotClosed(u64),
    #[error("operation #{0} not found")]
    OpNotFound(u64),
    #[error("{0}")]
    InvalidCount(String),
    #[error("{0} is not an amount of cash to move: it must be more than zero")]
    InvalidAmount(String),
    /// A paid out more than the drawer should hold.
    #[error("cannot pay out {asked}: the drawer should hold only {drawer}")]
    NotEnoughCash { asked: Money, drawer: Money },
    #[error(transparent)]
    Return(#[from] till_domain::returns::ReturnError),
    #[error("line {0} is picked twice: pick each line once, with its quantity")]
    LinePickedTwice(u32),
    /// The return policy reserves this return for a manager, and none approved it.
    #[error("a manager must approve this return")]
    ReturnNeedsManager(till_domain::returns::ManagerReason),
    #[error("sale refused: {0}")]
    InvalidSale(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open connection to the terminal's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    currency: Currency,
    /// (store ID, terminal ID), read once at open: every commit needs them.
    identity: (String, String),
}

impl Store {
    /// Creates a new database for a terminal. Refuses if the file exists.
    pub fn create(
        path: &Path,
        store_id: &str,
        terminal_id: &str,
        currency: Currency,
    ) -> Result<Store> {
        if path.exists() {
            return Err(StoreError::AlreadyExists(path.display().to_string()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        let mut store = Store::configure(conn)?;
        schema::migrate(&mut store.conn)?;
        store.set_setting("store_id", store_id)?;
        store.set_setting("terminal_id", terminal_id)?;
        store.set_setting("currency", currency.code())?;
        store.currency = currency;
        store.identity = (store_id.to_string(), terminal_id.to_string());
        Ok(store)
    }

    /// Opens an existing Till database, migrating it forward. A file that is not Till's is
    /// refused before anything is written to it.
    pub fn open(path: &Path) -> Result<Store> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(StoreError::Missing(shown));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        // Reading the header is the first thing that touches the file: a non-SQLite file fails
        // here, and a foreign SQLite file is recognised before WAL mode would rewrite it.
        let app_id: i32 = match conn.pragma_query_value(None, "application_id", |r| r.get(0)) {
            Ok(id) => id,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                return Err(StoreError::NotTill(shown));
            }
            Err(e) => return Err(e.into()),
        };
        if app_id != APPLICATION_ID {
            return Err(StoreError::NotTill(shown));
        }
        let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > schema::VERSION {
            return Err(StoreError::NewerSchema {
                path: shown,
                found: version,
                known: schema::VERSION,
            });
        }
        let mut store = Store::configure(conn)?;
        schema::migrate(&mut store.conn)?;
        let currency = store.setting("currency")?.unwrap_or_default();
        store.currency = currency
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown currency {currency:?}")))?;
        store.identity = store.stored_identity()?;
        Ok(store)
    }

    /// Copies committed pages from the WAL into the database without waiting for readers,
    /// so the WAL stays small. Call it off the selling path, when the till is idle.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// How long this connection waits for another writer ([`BUSY_TIMEOUT`] unless set).
    /// The touchscreen's own connection, on the UI thread, waits briefly and reports a busy
    /// database instead of freezing the screen.
    pub fn set_busy_timeout(&self, wait: std::time::Duration) -> Result<()> {
        self.conn.busy_timeout(wait)?;
        Ok(())
    }

    /// The currency every amount in this database is in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    fn configure(mut conn: Connection) -> Result<Store> {
        // Another connection (the sales worker, the print queue, a second `till sync`) may be
        // writing: wait for it rather than fail. Every transaction takes the write lock when
        // it begins (IMMEDIATE), because a transaction that read first and then writes cannot
        // wait: SQLite fails it at once with "database is locked" if anyone wrote meanwhile.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed sale survives power loss, not just a process crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // No automatic checkpoints: one would land on whichever sale's commit crossed the
        // threshold and make that customer wait. The till checkpoints while it is idle
        // (`Store::checkpoint`), and SQLite checkpoints when the last connection closes.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Store {
            conn,
            currency: Currency::CNY,
            identity: Default::default(),
        })
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// The store and terminal this database's journal belongs to.
    pub fn identity(&self) -> (String, String) {
        self.identity.clone()
    }

    fn stored_identity(&self) -> Result<(String, String)> {
        let get = |k: &str| {
            self.setting(k)?
                .ok_or_else(|| StoreError::Corrupt(format!("setting {k} is missing")))
        };
        Ok((get("store_id")?, get("terminal_id")?))
    }

    /// Refuses to run a terminal whose config names a different store or terminal than the
    /// journal, since that would mix two terminals' sequences.
    pub fn check_identity(&self, store_id: &str, terminal_id: &str) -> Result<()> {
        let (store, terminal) = self.identity();
        if store != store_id || terminal != terminal_id {
            return Err(StoreError::WrongTerminal { store, terminal });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.db");
        std::fs::write(
            &text,
            b"this is not a database, just some text that is long enough",
        )
        .unwrap();
        let before = std::fs::read(&text).unwrap();
        assert!(matches!(Store::open(&text), Err(StoreError::NotTill(_))));
        assert_eq!(std::fs::read(&text).unwrap(), before);

        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(conn);
        let before = std::fs::read(&other).unwrap();
        assert!(matches!(Store::open(&other), Err(StoreError::NotTill(_))));
        assert_eq!(std::fs::read(&other).unwrap(), before);
        assert!(!dir.path().join("other.db-wal").exists());
    }

    #[test]
    fn create_then_open_keeps_identity_and_durability_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("till.db");
        Store::create(&path, "S001", "T01", Currency::CNY).unwrap();
        assert!(matches!(
            Store::create(&path, "S001", "T01", Currency::CNY),
            Err(StoreError::AlreadyExists(_))
        ));
        let store = Store::open(&path).unwrap();
        assert_eq!(store.identity(), ("S001".into(), "T01".into()));
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
        assert!(matches!(
            store.check_identity("S002", "T01"),
            Err(StoreError::WrongTerminal { .. })
        ));
    }
}
