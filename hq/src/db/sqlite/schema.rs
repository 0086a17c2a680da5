//! The SQLite backend's schema: versioned migrations (`hq/migrations/sqlite/`), applied in
//! order, each once, in one transaction when the store opens.

use rusqlite::{Connection, TransactionBehavior, params};

use crate::db::{Migration, Result, now_ms, pending};

/// Every migration, oldest first, numbered from 1 without gaps.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "first release",
        sql: include_str!("../../../migrations/sqlite/0001_first_release.sql"),
    },
    Migration {
        version: 2,
        name: "code key rollouts and phone checks",
        sql: include_str!("../../../migrations/sqlite/0002_code_key_rollouts_and_phone_checks.sql"),
    },
    Migration {
        version: 3,
        name: "operations and Z reports",
        sql: include_str!("../../../migrations/sqlite/0003_operations_and_z_reports.sql"),
    },
];

/// Brings the database up to the newest version; the write lock, taken first, keeps two
/// processes opening one file from both migrating it. Errors: the database is newer than
/// this build, or a migration failed (nothing of it stays).
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_ms INTEGER NOT NULL
         )",
    )?;
    let applied: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for migration in pending(applied, MIGRATIONS)? {
        tx.execute_batch(migration.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?1, ?2, ?3)",
            params![migration.version, migration.name, now_ms()],
        )?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "HQ's SQLite schema migrated"
        );
    }
    tx.commit()?;
    Ok(())
}
