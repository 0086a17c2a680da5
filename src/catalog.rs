//! Catalog CSV import and export: the file format store managers and HQ exchange (its columns
//! are described in [`till_sync::catalog`]), and applying the catalog HQ publishes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::store::{ImportStats, Store, StoreError};
use till_domain::gtin::display_code;
use till_domain::scan::{ProductCode, Scan, ScanConfig, classify};
use till_domain::{Currency, Money, Product, TaxRate};

pub use till_sync::catalog::COLUMNS;
use till_sync::catalog::{CatalogRow, OpenError, RowFields};

/// A rejected row: its 1-based line number in the file and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the CSV: {0}")]
    Read(String),
    #[error("bad header: {0}")]
    Header(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u64,
    pub stats: ImportStats,
    pub rejected: Vec<RowError>,
    /// Imported products whose names have characters the touchscreen's bundled font cannot
    /// show (they would be blank on a till without a font of its own), with those characters.
    pub unshowable: Vec<(u64, String, Vec<char>)>,
    /// False when bad rows made the import write nothing.
    pub committed: bool,
}

/// What a row is checked against.
#[derive(Debug)]
pub struct ImportRules<'a> {
    pub currency: Currency,
    pub tax_classes: &'a BTreeMap<String, TaxRate>,
    pub scan: &'a ScanConfig,
    /// Import the good rows even when some are bad.
    pub skip_invalid: bool,
    /// The input's size in bytes if known (0 if not), to size the duplicate checks up front.
    pub expected_bytes: u64,
}

impl<'a> ImportRules<'a> {
    /// The rules a terminal's own settings give.
    pub fn for_terminal(
        settings: &'a crate::checkout::CheckoutSettings,
        skip_invalid: bool,
        expected_bytes: u64,
    ) -> ImportRules<'a> {
        ImportRules {
            currency: settings.currency,
            tax_classes: &settings.tax_classes,
            scan: &settings.scan,
            skip_invalid,
            expected_bytes,
        }
    }
}

/// Imports a catalog CSV in one transaction. By default one bad row means nothing is imported;
/// either way every bad row is reported with its line number. `progress` is called now and
/// then with the number of bytes read so far.
pub fn import_csv(
    store: &mut Store,
    input: impl Read,
    rules: &ImportRules<'_>,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let (mut reader, columns) = till_sync::catalog::open(input).map_err(|e| match e {
        OpenError::Read(e) => ImportError::Read(e),
        OpenError::Header(e) => ImportError::Header(e),
    })?;
    let mut record = csv::ByteRecord::new();
    let read_err = |e: csv::Error| ImportError::Read(e.to_string());
    let mut import = store.begin_import()?;
    // A catalog row is rarely under 40 bytes, so this is room for every row's SKU and first
    // barcode without rehashing.
    let rows_hint = usize::try_from(rules.expected_bytes / 40)
        .unwrap_or(0)
        .min(10_000_000);
    let mut seen_skus = FirstSeen::with_capacity(rows_hint);
    let mut seen_codes = FirstSeen::with_capacity(rows_hint);
    let mut seen_plus = FirstSeen::with_capacity(0);
    let mut rejected = Vec::new();
    let mut unshowable = Vec::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).map_err(read_err)? {
        rows += 1;
        let line = record.position().map_or(rows + 1, |p| p.line());
        if rows.is_multiple_of(8192) {
            progress(record.position().map_or(0, |p| p.byte()));
        }
        let row = match columns
            .row(&record)
            .and_then(|fields| parse_row(&fields, rules))
        {
            Ok(row) => row,
            Err(reason) => {
                rejected.push(RowError { line, reason });
                continue;
            }
        };
        let repeated = |row: &ParsedRow| -> Option<String> {
            if let Some(first) = seen_skus.first(&row.product.sku) {
                return Some(format!("SKU {} already on line {first}", row.product.sku));
            }
            if let Some(plu) = &row.product.plu
                && let Some(first) = seen_plus.first(plu)
            {
                return Some(format!("duplicate PLU {plu}, already on line {first}"));
            }
            for (i, code) in row.barcodes.iter().enumerate() {
                let first = seen_codes
                    .first(code)
                    .or(row.barcodes[..i].contains(code).then_some(line));
                if let Some(first) = first {
                    return Some(format!(
                        "duplicate barcode {}, already on line {first}",
                        display_code(code)
                    ));
                }
            }
            None
        };
        if let Some(reason) = repeated(&row) {
            rejected.push(RowError { line, reason });
            continue;
        }
        if let Some(reason) = import.conflict(&row.product, &row.barcodes)? {
            rejected.push(RowError { line, reason });
            continue;
        }
        // Only accepted rows claim their keys, so a rejected row never blocks a later one.
        seen_skus.insert(&row.product.sku, line);
        for code in &row.barcodes {
            seen_codes.insert(code, line);
        }
        if let Some(plu) = &row.product.plu {
            seen_plus.insert(plu, line);
        }
        if rejected.is_empty() || rules.skip_invalid {
            let mut missing = crate::fonts::unshowable(&row.product.name_zh);
            for ch in crate::fonts::unshowable(&row.product.name_en) {
                if !missing.contains(&ch) {
                    missing.push(ch);
                }
            }
            if !missing.is_empty() {
                unshowable.push((line, row.product.sku.clone(), missing));
            }
            import.write(row.product, row.barcodes)?;
        }
    }
    progress(record.position().map_or(0, |p| p.byte()));
    let committed = rejected.is_empty() || rules.skip_invalid;
    let stats = if committed {
        import.commit()?
    } else {
        ImportStats::default()
    };
    Ok(ImportReport {
        rows,
        stats,
        rejected,
        unshowable,
        committed,
    })
}

/// The line on which each key (a SKU, barcode or PLU) first appeared in a file, exactly.
/// Numeric keys, which most SKUs and every GTIN are, are stored as integers: a 1M-row import
/// then clones no strings and its tables stay small enough to be quick.
struct FirstSeen {
    numeric: HashMap<u64, u64>,
    text: HashMap<String, u64>,
}

impl FirstSeen {
    fn with_capacity(rows: usize) -> FirstSeen {
        FirstSeen {
            numeric: HashMap::with_capacity_and_hasher(rows, Default::default()),
            text: HashMap::default(),
        }
    }

    /// Up to 17 digits as (length, value), so `00042` and `42` stay different keys. The
    /// length goes in the top bits: the hasher's low bits then vary with the value.
    fn numeric_key(key: &str) -> Option<u64> {
        let digits = (1..=17).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| {
                key.parse::<u64>()
                    .ok()
                    .map(|v| ((key.len() as u64) << 57) | v)
            })
            .flatten()
    }

    fn first(&self, key: &str) -> Option<u64> {
        match Self::numeric_key(key) {
            Some(n) => self.numeric.get(&n).copied(),
            None => self.text.get(key).copied(),
        }
    }

    fn insert(&mut self, key: &str, line: u64) {
        match Self::numeric_key(key) {
            Some(n) => self.numeric.entry(n).or_insert(line),
            None => self.text.entry(key.to_string()).or_insert(line),
        };
    }
}

struct ParsedRow {
    product: Product,
    barcodes: Vec<String>,
}

/// A row's product and catalog keys, once the terminal's own rules accept it: its currency,
/// its tax classes and its scan classifier.
fn parse_row(fields: &RowFields<'_>, rules: &ImportRules<'_>) -> Result<ParsedRow, String> {
    let price = Money::parse(fields.price, rules.currency).map_err(|e| format!("price: {e}"))?;
    let barcodes = fields
        .barcodes()
        .map(|code| catalog_key(code, rules.scan))
        .collect::<Result<Vec<_>, _>>()?;
    product(
        Product {
            sku: fields.sku.to_string(),
            name_zh: fields.name_zh.to_string(),
            name_en: fields.name_en.to_string(),
            price,
            tax_class: fields.tax_class.to_string(),
            department: fields.department.to_string(),
            weighed: fields.weighed,
            active: fields.active,
            plu: fields.plu.map(str::to_string),
        },
        barcodes,
        rules,
    )
}

/// The checks a product gets whether it came from a file or from HQ.
fn product(
    product: Product,
    barcodes: Vec<String>,
    rules: &ImportRules<'_>,
) -> Result<ParsedRow, String> {
    if product.price.is_negative() {
        return Err(format!(
            "negative price {}",
            product.price.to_decimal_string()
        ));
    }
    if !rules.tax_classes.contains_key(&product.tax_class) {
        let known: Vec<&str> = rules.tax_classes.keys().map(String::as_str).collect();
        return Err(format!(
            "unknown tax class {:?} (known: {})",
            product.tax_class,
            known.join(", ")
        ));
    }
    Ok(ParsedRow { product, barcodes })
}

/// The catalog key of a barcode column entry. A code is accepted only if the scan classifier
/// would route it to the catalog, so every imported code can really be scanned.
fn catalog_key(code: &str, scan: &ScanConfig) -> Result<String, String> {
    let internal_shape = till_sync::catalog::is_product_code(code);
    match classify(code, scan, &|_| internal_shape) {
        Scan::Product(ProductCode::Gtin(g)) => Ok(g.as_str().to_string()),
        Scan::Product(ProductCode::Internal(c)) => Ok(c),
        Scan::Unknown(reason) => Err(format!("barcode {reason}")),
        Scan::Weighed { .. } => Err(format!(
            "barcode {code} is a scale-label code; give the product a PLU instead"
        )),
        other => Err(format!(
            "barcode {code} would scan as a {}",
            other.to_string().split(':').next().unwrap_or("other code")
        )),
    }
}

/// Applies products HQ published, in one transaction: either every one is taken or, if any is
/// refused by this terminal's rules (an unknown tax class, a code that would not scan as a
/// product, a barcode another SKU owns), none is, and each refused row is reported by its
/// position and SKU. Tickets already open keep the prices they were rung up at.
pub fn apply_published(
    store: &mut Store,
    rows: Vec<CatalogRow>,
    rules: &ImportRules<'_>,
) -> Result<ImportReport, ImportError> {
    let mut import = store.begin_import()?;
    let mut rejected = Vec::new();
    let mut skus = HashSet::default();
    let mut codes = HashSet::default();
    let count = rows.len() as u64;
    for (index, row) in rows.into_iter().enumerate() {
        let line = index as u64 + 1;
        // A product withdrawn before this till ever had it needs nothing here, whatever it
        // looks like.
        if !row.active && !import.had_sku(&row.sku) {
            continue;
        }
        let sku = row.sku.clone();
        let parsed = row
            .barcodes
            .iter()
            .map(|code| catalog_key(code, rules.scan))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|barcodes| {
                product(
                    Product {
                        sku: row.sku,
                        name_zh: row.name_zh,
                        name_en: row.name_en,
                        price: Money::new(row.price, rules.currency),
                        tax_class: row.tax_class,
                        department: row.department,
                        weighed: row.weighed,
                        active: row.active,
                        plu: row.plu,
                    },
                    barcodes,
                    rules,
                )
            });
        let parsed = match parsed {
            Ok(_) if !skus.insert(sku.clone()) => Err(format!("SKU {sku} sent twice")),
            Ok(parsed) => match parsed.barcodes.iter().find(|c| !codes.insert((*c).clone())) {
                Some(code) => Err(format!("barcode {} sent twice", display_code(code))),
                None => Ok(parsed),
            },
            Err(reason) => Err(reason),
        };
        let reason = match parsed {
            Ok(parsed) => match import.conflict(&parsed.product, &parsed.barcodes)? {
                Some(reason) => reason,
                None => {
                    import.write(parsed.product, parsed.barcodes)?;
                    continue;
                }
            },
            Err(reason) => reason,
        };
        rejected.push(RowError {
            line,
            reason: format!("SKU {sku}: {reason}"),
        });
    }
    let committed = rejected.is_empty();
    let stats = if committed {
        import.commit()?
    } else {
        ImportStats::default()
    };
    Ok(ImportReport {
        rows: count,
        stats,
        rejected,
        unshowable: Vec::new(),
        committed,
    })
}

/// Writes the whole catalog in the import format, so an export re-imports unchanged.
pub fn export_csv(store: &Store, output: impl Write) -> Result<u64, ImportError> {
    let mut writer = csv::Writer::from_writer(output);
    let io = |e: csv::Error| ImportError::Read(e.to_string());
    writer.write_record(COLUMNS).map_err(io)?;
    let mut count = 0u64;
    let mut failure = None;
    store.for_each_product(|p, codes| {
        if failure.is_some() {
            return;
        }
        let codes: Vec<&str> = codes.iter().map(|c| display_code(c)).collect();
        let price = p.price.to_decimal_string();
        let yes_no = |b: bool| if b { "1" } else { "0" };
        let row = [
            p.sku.as_str(),
            &codes.join("|"),
            &p.name_zh,
            &p.name_en,
            &price,
            &p.tax_class,
            &p.department,
            yes_no(p.weighed),
            yes_no(p.active),
            p.plu.as_deref().unwrap_or(""),
        ];
        match writer.write_record(row) {
            Ok(()) => count += 1,
            Err(e) => failure = Some(e),
        }
    })?;
    if let Some(e) = failure {
        return Err(io(e));
    }
    writer
        .flush()
        .map_err(|e| ImportError::Read(e.to_string()))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use till_domain::TaxMode;
    use till_domain::weighed::WeighedLayout;

    const HEADER: &str =
        "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n";
    const GOOD: &str = "1001,6901028075831,农夫山泉,Nongfu Spring,2.00,food,饮料,0,1,\n";

    fn import(
        store: &mut Store,
        csv: &[u8],
        skip_invalid: bool,
    ) -> Result<ImportReport, ImportError> {
        let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
        let tax_classes: BTreeMap<String, TaxRate> = config
            .tax_classes
            .keys()
            .map(|k| (k.clone(), config.tax_rate(k).unwrap()))
            .collect();
        let scan = ScanConfig {
            member_card_prefix: Some("88".into()),
            weighed_layouts: WeighedLayout::defaults(),
        };
        let rules = ImportRules {
            currency: Currency::CNY,
            tax_classes: &tax_classes,
            scan: &scan,
            skip_invalid,
            expected_bytes: 0,
        };
        import_csv(store, csv, &rules, |_| {})
    }

    /// Imports GOOD plus one bad row, and checks the bad row is reported on line 3 with
    /// `reason`, and that nothing at all was imported.
    fn check(bad_row: &[u8], reason: &str) {
        let (_dir, mut store) = crate::store::sales::tests::store();
        let mut csv = format!("{HEADER}{GOOD}").into_bytes();
        csv.extend_from_slice(bad_row);
        let report = import(&mut store, &csv, false).unwrap();
        assert!(!report.committed, "{reason}");
        assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
        assert_eq!(report.rejected[0].line, 3, "{:?}", report.rejected);
        assert!(
            report.rejected[0].reason.contains(reason),
            "{:?} lacks {reason:?}",
            report.rejected[0].reason
        );
        assert_eq!(
            store.product_count().unwrap(),
            0,
            "a bad row must import nothing"
        );
    }

    #[test]
    fn bad_rows_are_listed_and_nothing_is_imported() {
        check(
            b"1002,4006381333932,x,x,1.00,standard,,0,1,\n",
            "wrong check digit: expected 1, found 2",
        );
        check(
            b"1002,6901028075831,x,x,1.00,standard,,0,1,\n",
            "duplicate barcode 6901028075831, already on line 2",
        );
        check(
            b"1002,4006381333931,x,x,-1.00,standard,,0,1,\n",
            "negative price -1.00",
        );
        check(
            b"1002,4006381333931,x,x,1.00,standard\n",
            "expected 10 columns, found 6",
        );
        check(
            b"1002,4006381333931,\xff\xfe,x,1.00,standard,,0,1,\n",
            "name_zh is not valid UTF-8",
        );
        check(
            b"1002,4006381333931,x,x,1.00,luxury,,0,1,\n",
            "unknown tax class \"luxury\" (known: food, services, standard, zero)",
        );
        check(
            b"1001,4006381333931,x,x,1.00,standard,,0,1,\n",
            "SKU 1001 already on line 2",
        );
        check(
            b"1002,4006381333931,x,x,1.005,standard,,0,1,\n",
            "more than 2 decimal places",
        );
        check(
            b"1002,4006381333931,x,x,abc,standard,,0,1,\n",
            "is not an amount",
        );
        check(
            b"1002,134567890123456789,x,x,1.00,standard,,0,1,\n",
            "would scan as a payment code",
        );
        check(
            b"1002,2100042012509,x,x,1.00,standard,,0,1,\n",
            "scale-label code",
        );
        check(
            b"1002,4006381333931,,,1.00,standard,,0,1,\n",
            "needs a Chinese or English name",
        );
        check(
            b"1002,4006381333931,x,x,1.00,standard,,maybe,1,\n",
            "weighed must be yes or no",
        );
        check(
            b"1002,4006381333931,x,x,1.00,standard,,1,1,12\n",
            "PLU \"12\" must be 4 to 6 digits",
        );
    }

    #[test]
    fn skip_invalid_imports_the_good_rows_and_still_lists_the_bad() {
        let (_dir, mut store) = crate::store::sales::tests::store();
        let csv = format!(
            "{HEADER}{GOOD}1002,4006381333932,x,x,1.00,standard,,0,1,\n1003,73513537,薯片,Chips,7.50,standard,,0,1,\n"
        );
        let report = import(&mut store, csv.as_bytes(), true).unwrap();
        assert!(report.committed);
        assert_eq!(
            report.stats,
            ImportStats {
                added: 2,
                updated: 0,
                unchanged: 0
            }
        );
        assert_eq!(
            report.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![3]
        );
        assert!(store.product_by_code("00000073513537").unwrap().is_some());
        assert!(store.product_by_code("04006381333932").unwrap().is_none());
    }

    #[test]
    fn bad_headers_are_refused_whole() {
        let (_dir, mut store) = crate::store::sales::tests::store();
        for (csv, message) in [
            ("sku,barcodes,name_zh,price\n", "missing column tax_class"),
            (
                "sku,barcodes,name_zh,price,tax_class,colour\n",
                "unknown column \"colour\"",
            ),
            (
                "sku,sku,barcodes,name_zh,price,tax_class\n",
                "appears twice",
            ),
            ("", "empty"),
        ] {
            let error = import(&mut store, csv.as_bytes(), true).unwrap_err();
            assert!(error.to_string().contains(message), "{error}");
        }
    }

    #[test]
    fn reimport_updates_by_sku_and_export_round_trips() {
        let (_dir, mut store) = crate::store::sales::tests::store();
        let csv = format!(
            "{HEADER}{GOOD}1002,036000291452|04252614|COLA-L,可乐,Cola,3.50,standard,饮料,0,1,\n\
             1003,73513537,薯片,\"Chips, salted\",7.50,standard,,0,0,\n2042,,苹果,Apples,12.98,food,生鲜,1,1,00042\n"
        );
        let first = import(&mut store, csv.as_bytes(), false).unwrap();
        assert_eq!(
            first.stats,
            ImportStats {
                added: 4,
                updated: 0,
                unchanged: 0
            }
        );
        let mut exported = Vec::new();
        assert_eq!(export_csv(&store, &mut exported).unwrap(), 4);
        let exported = String::from_utf8(exported).unwrap();
        assert!(
            exported.contains("1002,036000291452|042100005264|COLA-L,可乐,Cola,3.50"),
            "{exported}"
        );
        assert!(
            exported.contains("1003,73513537,薯片,\"Chips, salted\",7.50,standard,,0,0,"),
            "{exported}"
        );

        // Re-importing the export changes nothing; a price change updates in place.
        let second = import(&mut store, exported.as_bytes(), false).unwrap();
        assert_eq!(
            second.stats,
            ImportStats {
                added: 0,
                updated: 0,
                unchanged: 4
            }
        );
        let mut again = Vec::new();
        export_csv(&store, &mut again).unwrap();
        assert_eq!(String::from_utf8(again).unwrap(), exported);

        // A changed price and a moved barcode are updates; the other rows stay untouched.
        let changed = exported
            .replace(
                "1002,036000291452|042100005264|COLA-L,可乐,Cola,3.50",
                "1002,036000291452|042100005264,可乐,Cola,3.80",
            )
            .replace("1003,73513537,", "1003,73513537|COLA-L,");
        let third = import(&mut store, changed.as_bytes(), false).unwrap();
        assert_eq!(third.rejected, vec![]);
        assert_eq!(
            third.stats,
            ImportStats {
                added: 0,
                updated: 2,
                unchanged: 2
            }
        );
        assert_eq!(
            store.product_by_code("COLA-L").unwrap().unwrap().sku,
            "1003"
        );
        assert_eq!(
            store
                .product_by_code("00036000291452")
                .unwrap()
                .unwrap()
                .price
                .minor(),
            380
        );

        // A barcode that already belongs to another SKU is a conflict, not a silent move.
        let steal = format!("{HEADER}1009,6901028075831,x,x,1.00,standard,,0,1,\n");
        let report = import(&mut store, steal.as_bytes(), false).unwrap();
        assert_eq!(
            report.rejected[0].reason,
            "barcode 6901028075831 already belongs to SKU 1001"
        );
        assert_eq!(store.product_count().unwrap(), 4);
    }
}
