//! The PostgreSQL backend's schema: versioned migrations (`hq/migrations/postgres/`), applied
//! in order, each once, in one transaction when the store connects.

use postgres::Client;

use crate::db::{HqError, Migration, Result, now_ms, pending};

use super::db;

/// Every migration, oldest first, numbered from 1 without gaps, as SQLite's are.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "first release",
        sql: include_str!("../../migrations/postgres/0001_first_release.sql"),
    },
    Migration {
        version: 2,
        name: "code key rollouts and phone checks",
        sql: include_str!("../../migrations/postgres/0002_code_key_rollouts_and_phone_checks.sql"),
    },
    Migration {
        version: 3,
        name: "operations and Z reports",
        sql: include_str!("../../migrations/postgres/0003_operations_and_z_reports.sql"),
    },
];

/// The advisory lock HQ nodes take to migrate: one node migrates, the others wait and find
/// the work done.
const MIGRATION_LOCK: i64 = 0x0074_696c_6c5f_6871; // "till_hq" in ASCII

/// Brings the database up to the newest version. Errors: the database is newer than this
/// build, or a migration failed (nothing of it stays: PostgreSQL's DDL is transactional).
pub(super) fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_ms BIGINT NOT NULL
         )",
    )
    .map_err(db)?;
    let applied: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(db)?
        .get(0);
    for migration in pending(applied, MIGRATIONS)? {
        tx.batch_execute(migration.sql).map_err(db)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &now_ms()],
        )
        .map_err(db)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "HQ's PostgreSQL schema migrated"
        );
    }
    tx.commit().map_err(db)?;
    Ok(())
}

/// Checks, without changing anything, that a read replica's schema is this build's: what
/// `--analytics-db` connects to. Errors: [`HqError::ReplicaBehind`] for an older schema (or
/// none: not a replica of an HQ database), [`HqError::SchemaTooNew`] for a newer one.
pub(super) fn check_replica(client: &mut Client) -> Result<()> {
    // Two statements: PostgreSQL resolves every table a statement names before it runs it.
    let has_table: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .map_err(db)?
        .get(0);
    let version: i64 = if has_table {
        client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .map_err(db)?
            .get(0)
    } else {
        0
    };
    let known = MIGRATIONS.len() as i64;
    match version.cmp(&known) {
        std::cmp::Ordering::Less => Err(HqError::ReplicaBehind {
            database: version,
            known,
        }),
        std::cmp::Ordering::Greater => Err(HqError::SchemaTooNew {
            database: version,
            known,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}
