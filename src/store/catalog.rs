//! The product catalog: barcode and PLU lookup on the scan path, bulk import and export.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, Store};
use crate::domain::{Currency, Money, Product};

const PRODUCT_COLUMNS: &str =
    "p.sku, p.name_zh, p.name_en, p.price, p.tax_class, p.department, p.weighed, p.active, p.plu";

fn product_from_row(row: &Row<'_>, currency: Currency) -> rusqlite::Result<Product> {
    Ok(Product {
        sku: row.get(0)?,
        name_zh: row.get(1)?,
        name_en: row.get(2)?,
        price: Money::new(row.get(3)?, currency),
        tax_class: row.get(4)?,
        department: row.get(5)?,
        weighed: row.get(6)?,
        active: row.get(7)?,
        plu: row.get(8)?,
    })
}

impl Store {
    /// The product a catalog key (normalised GTIN or internal code) belongs to.
    pub fn product_by_code(&self, key: &str) -> Result<Option<Product>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM barcodes b JOIN products p ON p.id = b.product_id
             WHERE b.code = ?1"
        ))?;
        Ok(stmt
            .query_row([key], |r| product_from_row(r, self.currency))
            .optional()?)
    }

    pub fn product_by_plu(&self, plu: &str) -> Result<Option<Product>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.plu = ?1"
        ))?;
        Ok(stmt
            .query_row([plu], |r| product_from_row(r, self.currency))
            .optional()?)
    }

    pub fn has_code(&self, key: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM barcodes WHERE code = ?1")?;
        Ok(stmt.exists([key])?)
    }

    pub fn product_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM products", [], |r| r.get(0))?)
    }

    /// Calls `each` with every product and its barcodes, in SKU order.
    pub fn for_each_product(&self, mut each: impl FnMut(&Product, &[String])) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PRODUCT_COLUMNS},
                    (SELECT group_concat(code, '|') FROM
                        (SELECT code FROM barcodes b WHERE b.product_id = p.id ORDER BY code))
             FROM products p ORDER BY p.sku"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let product = product_from_row(row, self.currency)?;
            let codes: Option<String> = row.get(9)?;
            let codes: Vec<String> = codes
                .map(|c| c.split('|').map(str::to_string).collect())
                .unwrap_or_default();
            each(&product, &codes);
        }
        Ok(())
    }

    /// Starts a catalog import in one transaction. Dropping the import without
    /// [`CatalogImport::commit`] rolls everything back.
    pub fn begin_import(&mut self) -> Result<CatalogImport<'_>> {
        let tx = self.conn.transaction()?;
        let was_empty: bool = !tx.prepare("SELECT 1 FROM products LIMIT 1")?.exists([])?;
        Ok(CatalogImport {
            tx,
            was_empty,
            stats: ImportStats::default(),
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub added: u64,
    pub updated: u64,
}

/// A catalog import in progress. Products are upserted by SKU; a product's barcodes are
/// replaced by the imported ones.
#[derive(Debug)]
pub struct CatalogImport<'s> {
    tx: Transaction<'s>,
    /// On a first import nothing can conflict with the existing catalog, which lets the hot
    /// loop skip the per-row ownership queries.
    was_empty: bool,
    stats: ImportStats,
}

impl CatalogImport<'_> {
    /// Checks a row against the catalog already stored: a barcode or PLU owned by another SKU
    /// is a conflict. Returns the reason, or None when the row can be written.
    pub fn conflict(&self, product: &Product, barcodes: &[String]) -> Result<Option<String>> {
        if self.was_empty {
            return Ok(None);
        }
        let mut owner = self.tx.prepare_cached(
            "SELECT p.sku FROM barcodes b JOIN products p ON p.id = b.product_id WHERE b.code = ?1",
        )?;
        for code in barcodes {
            let sku: Option<String> = owner.query_row([code], |r| r.get(0)).optional()?;
            if let Some(sku) = sku.filter(|s| *s != product.sku) {
                return Ok(Some(format!(
                    "barcode {} already belongs to SKU {sku}",
                    crate::domain::gtin::display_code(code)
                )));
            }
        }
        if let Some(plu) = &product.plu {
            let mut by_plu = self
                .tx
                .prepare_cached("SELECT sku FROM products WHERE plu = ?1")?;
            let sku: Option<String> = by_plu.query_row([plu], |r| r.get(0)).optional()?;
            if let Some(sku) = sku.filter(|s| *s != product.sku) {
                return Ok(Some(format!("PLU {plu} already belongs to SKU {sku}")));
            }
        }
        Ok(None)
    }

    /// Writes one product. Call [`Self::conflict`] first; this assumes the row is valid and
    /// that each SKU appears once per import.
    pub fn write(&mut self, product: &Product, barcodes: &[String]) -> Result<()> {
        let existing: Option<i64> = if self.was_empty {
            None
        } else {
            let mut find = self
                .tx
                .prepare_cached("SELECT id FROM products WHERE sku = ?1")?;
            find.query_row([&product.sku], |r| r.get(0)).optional()?
        };
        let mut upsert = self.tx.prepare_cached(
            "INSERT INTO products (sku, name_zh, name_en, price, tax_class, department, weighed, active, plu)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(sku) DO UPDATE SET
                name_zh = excluded.name_zh, name_en = excluded.name_en, price = excluded.price,
                tax_class = excluded.tax_class, department = excluded.department,
                weighed = excluded.weighed, active = excluded.active, plu = excluded.plu
             RETURNING id",
        )?;
        let id: i64 = upsert.query_row(
            params![
                product.sku,
                product.name_zh,
                product.name_en,
                product.price.minor(),
                product.tax_class,
                product.department,
                product.weighed,
                product.active,
                product.plu,
            ],
            |r| r.get(0),
        )?;
        if existing.is_some() {
            self.stats.updated += 1;
            let mut clear = self
                .tx
                .prepare_cached("DELETE FROM barcodes WHERE product_id = ?1")?;
            clear.execute([id])?;
        } else {
            self.stats.added += 1;
        }
        let mut insert = self
            .tx
            .prepare_cached("INSERT INTO barcodes (code, product_id) VALUES (?1, ?2)")?;
        for code in barcodes {
            insert.execute(params![code, id])?;
        }
        Ok(())
    }

    pub fn commit(self) -> Result<ImportStats> {
        self.tx.commit()?;
        Ok(self.stats)
    }
}
