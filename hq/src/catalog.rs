//! The chain's catalog at HQ: reading a catalog file for publishing, and working out which
//! products a new version changes, so terminals pull only those.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use till_sync::catalog::{CatalogRow, OpenError, parse_price};

/// The chain's prices are in yuan with two decimals (fen).
pub const PRICE_DECIMALS: u32 = 2;

/// Rows per page of a catalog delta: small enough for one response, large enough that a
/// whole first catalog takes few round trips.
pub const DELTA_PAGE: usize = 5000;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogFileError {
    #[error("cannot read the CSV: {0}")]
    Read(String),
    #[error("bad header: {0}")]
    Header(String),
    /// Every bad row with its 1-based line number; nothing was published.
    #[error("{} bad rows; nothing was published", .0.len())]
    Rows(Vec<(u64, String)>),
}

/// A GTIN as terminals key it (14 digits), so `06901028075831` and `6901028075831` are seen as
/// the same code; other codes as written.
fn code_key(code: &str) -> String {
    let gtin_length = matches!(code.len(), 8 | 12 | 13 | 14);
    if gtin_length && code.bytes().all(|b| b.is_ascii_digit()) {
        format!("{code:0>14}")
    } else {
        code.to_string()
    }
}

/// Reads a whole catalog file. One bad row refuses the file: a half-published catalog would
/// leave stores selling a mix of old and new prices.
pub fn read_catalog(input: impl Read) -> Result<Vec<CatalogRow>, CatalogFileError> {
    let (mut reader, columns) = till_sync::catalog::open(input).map_err(|e| match e {
        OpenError::Read(e) => CatalogFileError::Read(e),
        OpenError::Header(e) => CatalogFileError::Header(e),
    })?;
    let mut record = csv::ByteRecord::new();
    let read_err = |e: csv::Error| CatalogFileError::Read(e.to_string());
    let (mut skus, mut codes, mut plus) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    while reader.read_byte_record(&mut record).map_err(read_err)? {
        let line = record.position().map_or(0, |p| p.line());
        let row = columns.row(&record).and_then(|fields| {
            let price = parse_price(fields.price, PRICE_DECIMALS)?;
            if fields.tax_class.is_empty() {
                return Err("a product needs a tax class".to_string());
            }
            let barcodes: Vec<String> = fields.barcodes().map(str::to_string).collect();
            for code in &barcodes {
                if !till_sync::catalog::is_product_code(code) {
                    return Err(format!(
                        "barcode {code:?} must be up to 32 letters, digits, - or _"
                    ));
                }
            }
            Ok(CatalogRow {
                sku: fields.sku.to_string(),
                barcodes,
                name_zh: fields.name_zh.to_string(),
                name_en: fields.name_en.to_string(),
                price,
                tax_class: fields.tax_class.to_string(),
                department: fields.department.to_string(),
                weighed: fields.weighed,
                active: fields.active,
                plu: fields.plu.map(str::to_string),
            })
        });
        let row = match row {
            Ok(row) => row,
            Err(reason) => {
                bad.push((line, reason));
                continue;
            }
        };
        let repeated = if let Some(first) = skus.get(&row.sku) {
            Some(format!("SKU {} already on line {first}", row.sku))
        } else if let Some(first) = row.plu.as_ref().and_then(|p| plus.get(p)) {
            Some(format!(
                "PLU {} already on line {first}",
                row.plu.as_deref().unwrap_or("")
            ))
        } else {
            let mut within = HashSet::new();
            row.barcodes.iter().find_map(|code| {
                let key = code_key(code);
                let first = codes.get(&key).copied();
                let again = !within.insert(key);
                (first.is_some() || again)
                    .then(|| format!("barcode {code} already on line {}", first.unwrap_or(line)))
            })
        };
        if let Some(reason) = repeated {
            bad.push((line, reason));
            continue;
        }
        skus.insert(row.sku.clone(), line);
        if let Some(plu) = &row.plu {
            plus.insert(plu.clone(), line);
        }
        for code in &row.barcodes {
            codes.insert(code_key(code), line);
        }
        rows.push(row);
    }
    if bad.is_empty() {
        Ok(rows)
    } else {
        Err(CatalogFileError::Rows(bad))
    }
}

/// What publishing a catalog file did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// The chain's catalog version after publishing; unchanged if the file changed nothing.
    pub version: u64,
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Products the file left out, now inactive.
    pub withdrawn: u64,
}

/// The rows a new catalog file changes, as (SKU, row JSON), given the current rows by SKU.
/// Products it leaves out are withdrawn (made inactive) rather than deleted, so a terminal
/// that has them stops selling them.
pub fn changes(
    current: &HashMap<String, String>,
    rows: &[CatalogRow],
) -> (Vec<(String, String)>, Published) {
    let mut out = Vec::new();
    let mut published = Published::default();
    let mut listed = HashSet::with_capacity(rows.len());
    for row in rows {
        listed.insert(row.sku.as_str());
        let json = serde_json::to_string(row).unwrap_or_default();
        match current.get(&row.sku) {
            Some(old) if *old == json => published.unchanged += 1,
            Some(_) => {
                published.changed += 1;
                out.push((row.sku.clone(), json));
            }
            None => {
                published.added += 1;
                out.push((row.sku.clone(), json));
            }
        }
    }
    let mut left_out: Vec<(&String, &String)> = current
        .iter()
        .filter(|(sku, _)| !listed.contains(sku.as_str()))
        .collect();
    left_out.sort();
    for (sku, json) in left_out {
        let Ok(mut row) = serde_json::from_str::<CatalogRow>(json) else {
            continue;
        };
        if row.active {
            row.active = false;
            published.withdrawn += 1;
            out.push((sku.clone(), serde_json::to_string(&row).unwrap_or_default()));
        }
    }
    (out, published)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "sku,barcodes,name_zh,price,tax_class\n";

    fn check(body: &str, expected: Result<usize, Vec<(u64, &str)>>) {
        let got = read_catalog(format!("{HEADER}{body}").as_bytes());
        match expected {
            Ok(n) => assert_eq!(got.map(|rows| rows.len()), Ok(n), "{body}"),
            Err(bad) => assert_eq!(
                got,
                Err(CatalogFileError::Rows(
                    bad.into_iter().map(|(l, r)| (l, r.to_string())).collect()
                )),
                "{body}"
            ),
        }
    }

    #[test]
    fn a_file_with_any_bad_row_is_refused_with_every_reason() {
        check("1,6901028075831,水,2.00,food\n2,,面包,5,food\n", Ok(2));
        check(
            "1,690,水,-2.00,food\n",
            Err(vec![(2, "negative price -2.00")]),
        );
        check(
            "1,6901028075831,水,2.00,food\n2,06901028075831,水,2.00,food\n1,,面包,1,food\n",
            Err(vec![
                (3, "barcode 06901028075831 already on line 2"),
                (4, "SKU 1 already on line 2"),
            ]),
        );
        check(
            "1,a b,水,2.00,food\n2,,水,2.00,\n3,,,1,food\n",
            Err(vec![
                (
                    2,
                    "barcode \"a b\" must be up to 32 letters, digits, - or _",
                ),
                (3, "a product needs a tax class"),
                (4, "a product needs a Chinese or English name"),
            ]),
        );
        assert_eq!(
            read_catalog("sku,name\n".as_bytes()),
            Err(CatalogFileError::Header(
                "unknown column \"name\"; the columns are sku, barcodes, name_zh, name_en, price, tax_class, department, weighed, active, plu".into()
            ))
        );
    }

    #[test]
    fn a_new_version_carries_only_what_changed_and_withdraws_what_was_left_out() {
        let first = read_catalog(
            format!("{HEADER}1,690,水,2.00,food\n2,,面包,5,food\n3,,糖,1,food\n").as_bytes(),
        )
        .unwrap();
        let (rows, published) = changes(&HashMap::new(), &first);
        assert_eq!((rows.len(), published.added), (3, 3));
        let current: HashMap<String, String> = rows.into_iter().collect();
        let second =
            read_catalog(format!("{HEADER}1,690,水,2.50,food\n2,,面包,5,food\n").as_bytes())
                .unwrap();
        let (rows, published) = changes(&current, &second);
        assert_eq!(
            (published.changed, published.unchanged, published.withdrawn),
            (1, 1, 1)
        );
        let skus: Vec<&str> = rows.iter().map(|(sku, _)| sku.as_str()).collect();
        assert_eq!(skus, ["1", "3"]);
        assert!(rows[0].1.contains("\"price\":250"), "{}", rows[0].1);
        assert!(rows[1].1.contains("\"active\":false"), "{}", rows[1].1);
    }
}
