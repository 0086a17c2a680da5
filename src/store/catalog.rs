//! The product catalog: barcode and PLU lookup on the scan path, bulk import and export.

use rustc_hash::FxHashMap as HashMap;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Result, Store};
use till_domain::gtin::display_code;
use till_domain::{Currency, Money, Product};

const PRODUCT_COLUMNS: &str =
    "p.sku, p.name_zh, p.name_en, p.price, p.tax_class, p.department, p.weighed, p.active, p.plu";

fn product_from_row(row: &Row<'_>, currency: Currency) -> rusqlite::Result<Product> {
    product_from_row_at(row, 0, currency)
}

/// Reads [`PRODUCT_COLUMNS`] starting at column `at`.
fn product_from_row_at(row: &Row<'_>, at: usize, currency: Currency) -> rusqlite::Result<Product> {
    Ok(Product {
        sku: row.get(at)?,
        name_zh: row.get(at + 1)?,
        name_en: row.get(at + 2)?,
        price: Money::new(row.get(at + 3)?, currency),
        tax_class: row.get(at + 4)?,
        department: row.get(at + 5)?,
        weighed: row.get(at + 6)?,
        active: row.get(at + 7)?,
        plu: row.get(at + 8)?,
    })
}

/// A 64-bit digest of everything an import can change about a product, barcodes in any order.
/// Equal digests mean the row is unchanged and need not be rewritten; a false match needs a
/// 64-bit SipHash collision between a product's old and new row.
fn fingerprint(product: &Product, codes: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut sorted: Vec<&String> = codes.iter().collect();
    sorted.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        &product.sku,
        &product.name_zh,
        &product.name_en,
        product.price.minor(),
        &product.tax_class,
        &product.department,
        product.weighed,
        product.active,
        &product.plu,
    )
        .hash(&mut hasher);
    sorted.hash(&mut hasher);
    hasher.finish()
}

// Lookups by code use a scalar subquery rather than a join: with the STAT4 planner that the
// bundled SQLite enables, a join on a bound parameter is re-prepared on every execution, which
// made each scan several times slower.

impl Store {
    /// The product a catalog key (normalised GTIN or internal code) belongs to.
    pub fn product_by_code(&self, key: &str) -> Result<Option<Product>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products p
             WHERE p.id = (SELECT product_id FROM barcodes WHERE code = ?1)"
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

    /// Whether `code` names a product by one of its barcodes or internal codes, or by its
    /// PLU (a cashier keys `00042` for loose apples): what the classifier's "internal code in
    /// the catalog" means on this till.
    pub fn is_internal_code(&self, code: &str) -> Result<bool> {
        Ok(self.has_code(code)? || self.product_by_plu(code)?.is_some())
    }

    /// The product a keyed or scanned internal code names: by barcode or internal code first,
    /// then by PLU. See [`Self::is_internal_code`].
    pub fn product_by_internal_code(&self, code: &str) -> Result<Option<Product>> {
        match self.product_by_code(code)? {
            Some(product) => Ok(Some(product)),
            None => self.product_by_plu(code),
        }
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
        // A bulk import touches every index page; a roomy cache keeps it from spilling to the
        // WAL mid-transaction. Imports run on their own connection, so sales are unaffected.
        self.conn.pragma_update(None, "cache_size", -262_144)?;
        let tx = self.conn.transaction()?;
        let mut skus = HashMap::default();
        let mut code_owner = HashMap::default();
        let mut plu_owner = HashMap::default();
        let mut plu_of = HashMap::default();
        {
            let mut codes_of: HashMap<i64, Vec<String>> = HashMap::default();
            let mut codes = tx.prepare("SELECT code, product_id FROM barcodes")?;
            let mut rows = codes.query([])?;
            while let Some(row) = rows.next()? {
                let (code, id): (String, i64) = (row.get(0)?, row.get(1)?);
                codes_of.entry(id).or_default().push(code.clone());
                code_owner.insert(code, id);
            }
            drop(rows);
            let currency = self.currency;
            let mut products =
                tx.prepare(&format!("SELECT p.id, {PRODUCT_COLUMNS} FROM products p"))?;
            let mut rows = products.query([])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let product = product_from_row_at(row, 1, currency)?;
                let codes = codes_of.remove(&id).unwrap_or_default();
                if let Some(plu) = &product.plu {
                    plu_of.insert(id, plu.clone());
                    plu_owner.insert(plu.clone(), id);
                }
                skus.insert(product.sku.clone(), (id, fingerprint(&product, &codes)));
            }
        }
        let next_id = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM products", [], |r| {
            r.get(0)
        })?;
        Ok(CatalogImport {
            tx,
            skus,
            code_owner,
            plu_owner,
            plu_of,
            next_id,
            pending_products: Vec::with_capacity(BATCH),
            pending_codes: Vec::with_capacity(BATCH),
            stats: ImportStats::default(),
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A catalog import in progress. Products are upserted by SKU; a product's barcodes are
/// replaced by the imported ones.
#[derive(Debug)]
pub struct CatalogImport<'s> {
    tx: Transaction<'s>,
    /// The catalog's keys as they were before this import, loaded once so that the hot loop
    /// asks SQLite nothing and only writes. The caller rejects SKUs and codes that repeat
    /// within one file.
    /// SKU → (product ID, fingerprint of the stored row).
    skus: HashMap<String, (i64, u64)>,
    code_owner: HashMap<String, i64>,
    plu_owner: HashMap<String, i64>,
    plu_of: HashMap<i64, String>,
    /// New products get IDs here rather than from SQLite, so their barcodes can be written in
    /// the same batches without asking for each row's ID.
    next_id: i64,
    pending_products: Vec<(i64, Product)>,
    pending_codes: Vec<(String, i64)>,
    stats: ImportStats,
}

/// Rows per multi-row INSERT. SQLite allows 32766 parameters; 64 × 10 is far below that.
const BATCH: usize = 64;

/// `INSERT … VALUES (?, ?), (?, ?)` for `rows` rows of `columns` values.
fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!("{head}{}", vec![row; rows].join(", "))
}

impl CatalogImport<'_> {
    /// Checks a row against the catalog: a barcode or PLU owned by another SKU is a conflict.
    /// Returns the reason, or None when the row can be written.
    pub fn conflict(&self, product: &Product, barcodes: &[String]) -> Result<Option<String>> {
        let this = self.skus.get(&product.sku).map(|(id, _)| *id);
        for code in barcodes {
            let preloaded = self.code_owner.get(code).copied();
            // The preloaded owner may be stale if an earlier row of this import took the code
            // off its product, so a possible conflict is confirmed against the table itself.
            if preloaded.is_some_and(|o| Some(o) != this)
                && let Some(other) = self.current_owner(code)?.filter(|o| Some(*o) != this)
            {
                return Ok(Some(format!(
                    "barcode {} already belongs to SKU {}",
                    display_code(code),
                    self.sku_of(other)?
                )));
            }
        }
        if let Some(plu) = &product.plu
            && let Some(&other) = self.plu_owner.get(plu)
            && Some(other) != this
        {
            return Ok(Some(format!(
                "PLU {plu} already belongs to SKU {}",
                self.sku_of(other)?
            )));
        }
        Ok(None)
    }

    /// Whether the catalog had this SKU before the import began.
    pub fn had_sku(&self, sku: &str) -> bool {
        self.skus.contains_key(sku)
    }

    fn current_owner(&self, code: &str) -> Result<Option<i64>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT product_id FROM barcodes WHERE code = ?1")?;
        Ok(stmt.query_row([code], |r| r.get(0)).optional()?)
    }

    fn sku_of(&self, id: i64) -> Result<String> {
        Ok(self
            .tx
            .query_row("SELECT sku FROM products WHERE id = ?1", [id], |r| r.get(0))?)
    }

    /// Writes one product. Call [`Self::conflict`] first; this assumes the row is valid and
    /// that each SKU appears once per import. New products are buffered and written in
    /// multi-row INSERTs, which cost SQLite far less per row than one statement each.
    pub fn write(&mut self, product: Product, barcodes: Vec<String>) -> Result<()> {
        let Some(&(id, stored)) = self.skus.get(&product.sku) else {
            let id = self.next_id;
            self.next_id += 1;
            self.stats.added += 1;
            self.pending_codes
                .extend(barcodes.into_iter().map(|code| (code, id)));
            self.pending_products.push((id, product));
            if self.pending_products.len() >= BATCH || self.pending_codes.len() >= BATCH {
                self.flush()?;
            }
            return Ok(());
        };
        if stored == fingerprint(&product, &barcodes) {
            // Most rows of a nightly catalog file are unchanged; rewriting them would only
            // churn the indexes.
            self.stats.unchanged += 1;
            return Ok(());
        }
        self.tx
            .prepare_cached(
                "UPDATE products SET name_zh = ?2, name_en = ?3, price = ?4, tax_class = ?5,
                    department = ?6, weighed = ?7, active = ?8, plu = ?9
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                product.name_zh,
                product.name_en,
                product.price.minor(),
                product.tax_class,
                product.department,
                product.weighed,
                product.active,
                product.plu,
            ])?;
        self.stats.updated += 1;
        let mut clear = self
            .tx
            .prepare_cached("DELETE FROM barcodes WHERE product_id = ?1 RETURNING code")?;
        let mut freed = clear.query([id])?;
        while let Some(row) = freed.next()? {
            self.code_owner.remove(&row.get::<_, String>(0)?);
        }
        drop(freed);
        drop(clear);
        if let Some(old) = self.plu_of.remove(&id) {
            self.plu_owner.remove(&old);
        }
        if let Some(plu) = &product.plu {
            self.plu_owner.insert(plu.clone(), id);
            self.plu_of.insert(id, plu.clone());
        }
        // New codes need no entry in `code_owner`: the caller rejects a code that appears twice
        // in one file, so only codes that were in the catalog before can conflict.
        self.pending_codes
            .extend(barcodes.into_iter().map(|code| (code, id)));
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for chunk in self.pending_products.chunks(BATCH) {
            let sql = values_sql(
                "INSERT INTO products (id, sku, name_zh, name_en, price, tax_class, department, weighed, active, plu) VALUES ",
                10,
                chunk.len(),
            );
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 10);
            let prices: Vec<i64> = chunk.iter().map(|(_, p)| p.price.minor()).collect();
            for ((id, p), price) in chunk.iter().zip(&prices) {
                values.extend_from_slice(&[
                    id,
                    &p.sku,
                    &p.name_zh,
                    &p.name_en,
                    price,
                    &p.tax_class,
                    &p.department,
                    &p.weighed,
                    &p.active,
                    &p.plu,
                ]);
            }
            self.tx.prepare_cached(&sql)?.execute(values.as_slice())?;
        }
        for chunk in self.pending_codes.chunks(BATCH) {
            let sql = values_sql(
                "INSERT INTO barcodes (code, product_id) VALUES ",
                2,
                chunk.len(),
            );
            let values: Vec<&dyn rusqlite::ToSql> = chunk
                .iter()
                .flat_map(|(code, id)| [code as &dyn rusqlite::ToSql, id])
                .collect();
            self.tx.prepare_cached(&sql)?.execute(values.as_slice())?;
        }
        self.pending_products.clear();
        self.pending_codes.clear();
        Ok(())
    }

    pub fn commit(mut self) -> Result<ImportStats> {
        self.flush()?;
        self.tx.commit()?;
        Ok(self.stats)
    }
}
