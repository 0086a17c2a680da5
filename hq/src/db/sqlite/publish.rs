//! SQLite: what HQ publishes to terminals, the catalog and the points rules.

use rusqlite::{TransactionBehavior, params};
use till_sync::catalog::{CatalogDelta, CatalogRow};
use till_sync::loyalty::LoyaltyRule;

use crate::catalog::{Published, changes};
use crate::db::{Result, delta_page};

use super::{SqliteStore, now_ms};

impl SqliteStore {
    pub(super) fn loyalty_rules_impl(&self) -> Result<Vec<LoyaltyRule>> {
        let conn = self.r()?;
        let mut stmt =
            conn.prepare("SELECT version, points_per_yuan FROM loyalty_rules ORDER BY version")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(version, rate)| Ok(LoyaltyRule::new(version, rate)?))
            .collect()
    }

    pub(super) fn publish_loyalty_impl(&self, points_per_yuan: i64) -> Result<LoyaltyRule> {
        let conn = self.w();
        // Checked before anything is written; the next version is taken inside the insert,
        // under SQLite's write lock.
        LoyaltyRule::new(1, points_per_yuan)?;
        let version: u32 = conn.query_row(
            "INSERT INTO loyalty_rules (version, points_per_yuan, published_ms)
             SELECT coalesce(max(version), 0) + 1, ?1, ?2 FROM loyalty_rules
             RETURNING version",
            params![points_per_yuan, now_ms()],
            |r| r.get(0),
        )?;
        Ok(LoyaltyRule::new(version, points_per_yuan)?)
    }

    pub(super) fn publish_catalog_impl(&self, rows: &[CatalogRow]) -> Result<Published> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

    pub(super) fn catalog_delta_impl(
        &self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta> {
        let conn = self.r()?;
        let upto = match upto {
            Some(v) => v,
            None => conn.query_row(
                "SELECT coalesce(max(version), 0) FROM catalog_versions",
                [],
                |r| r.get(0),
            )?,
        };
        let rows = conn
            .prepare(
                "SELECT row FROM catalog WHERE version > ?1 AND version <= ?2 AND sku > ?3
                 ORDER BY sku LIMIT ?4",
            )?
            .query_map(params![since, upto, after, limit as u64 + 1], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        delta_page(upto, rows, limit)
    }
}
