//! PostgreSQL: what HQ publishes to terminals, the catalog and the points rules.

use till_sync::catalog::{CatalogDelta, CatalogRow};
use till_sync::loyalty::LoyaltyRule;

use crate::catalog::{Published, changes};
use crate::db::{HqError, Result, delta_page};

use super::{PgStore, copy_in, copy_text, db, now_ms};

impl PgStore {
    pub(super) fn loyalty_rules_impl(&self) -> Result<Vec<LoyaltyRule>> {
        let mut conn = self.live()?;
        let rows = conn
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

    pub(super) fn publish_loyalty_impl(&self, points_per_yuan: i64) -> Result<LoyaltyRule> {
        let mut conn = self.live()?;
        LoyaltyRule::new(1, points_per_yuan)?;
        let mut tx = conn.transaction().map_err(db)?;
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

    pub(super) fn publish_catalog_impl(&self, rows: &[CatalogRow]) -> Result<Published> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
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

    pub(super) fn catalog_delta_impl(
        &self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta> {
        let conn = self.live()?;
        let mut client = conn;
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
}
