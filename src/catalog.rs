//! Catalog CSV import and export: the file format store managers and HQ exchange.
//!
//! Columns, by header name, in any order (the first five are required):
//!
//! | column | meaning |
//! | --- | --- |
//! | `sku` | the product's unique ID |
//! | `barcodes` | GTINs or internal codes, separated by `\|`; may be empty |
//! | `name_zh` | Chinese name |
//! | `price` | in major units, e.g. `12.50`; per kg for weighed products |
//! | `tax_class` | one of the configured tax classes |
//! | `name_en` | English name |
//! | `department` | free text |
//! | `weighed` | `1`/`0`, `true`/`false`, `yes`/`no`; default no |
//! | `active` | as above; default yes |
//! | `plu` | 4–6 digit scale PLU, for weighed-item labels |

use std::collections::BTreeMap;
use std::io::{Read, Write};

use rustc_hash::FxHashMap as HashMap;

use crate::domain::gtin::display_code;
use crate::domain::scan::{ProductCode, Scan, ScanConfig, classify};
use crate::domain::{Currency, Money, Product, TaxRate};
use crate::store::{ImportStats, Store, StoreError};

pub const COLUMNS: [&str; 10] = [
    "sku",
    "barcodes",
    "name_zh",
    "name_en",
    "price",
    "tax_class",
    "department",
    "weighed",
    "active",
    "plu",
];
const REQUIRED: [&str; 5] = ["sku", "barcodes", "name_zh", "price", "tax_class"];

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
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let read_err = |e: csv::Error| ImportError::Read(e.to_string());
    if !reader.read_byte_record(&mut record).map_err(read_err)? {
        return Err(ImportError::Header("the file is empty".into()));
    }
    let columns = Columns::from_header(&record)?;
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
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).map_err(read_err)? {
        rows += 1;
        let line = record.position().map_or(rows + 1, |p| p.line());
        if rows.is_multiple_of(8192) {
            progress(record.position().map_or(0, |p| p.byte()));
        }
        let row = match columns.parse(&record, rules) {
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

/// Where each known column is in this file.
struct Columns {
    index: [Option<usize>; COLUMNS.len()],
    width: usize,
}

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Columns, ImportError> {
        let mut index = [None; COLUMNS.len()];
        for (i, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| ImportError::Header(format!("column {} is not UTF-8", i + 1)))?
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase();
            let Some(known) = COLUMNS.iter().position(|c| *c == name) else {
                return Err(ImportError::Header(format!(
                    "unknown column {name:?}; the columns are {}",
                    COLUMNS.join(", ")
                )));
            };
            if index[known].replace(i).is_some() {
                return Err(ImportError::Header(format!(
                    "column {name:?} appears twice"
                )));
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| index[column(c)].is_none())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::Header(format!(
                "missing column {}",
                missing.join(", ")
            )));
        }
        Ok(Columns {
            index,
            width: header.len(),
        })
    }

    fn parse(
        &self,
        record: &csv::ByteRecord,
        rules: &ImportRules<'_>,
    ) -> Result<ParsedRow, String> {
        if record.len() != self.width {
            return Err(format!(
                "expected {} columns, found {}",
                self.width,
                record.len()
            ));
        }
        let field = |name: &str| -> Result<&str, String> {
            match self.index[column(name)] {
                None => Ok(""),
                Some(i) => std::str::from_utf8(&record[i])
                    .map(str::trim)
                    .map_err(|_| format!("{name} is not valid UTF-8")),
            }
        };
        let sku = field("sku")?;
        if sku.is_empty() || sku.len() > 64 || sku.chars().any(char::is_control) {
            return Err(format!("SKU {sku:?} must be 1–64 printable characters"));
        }
        let (name_zh, name_en) = (field("name_zh")?, field("name_en")?);
        if name_zh.is_empty() && name_en.is_empty() {
            return Err("a product needs a Chinese or English name".into());
        }
        let price =
            Money::parse(field("price")?, rules.currency).map_err(|e| format!("price: {e}"))?;
        if price.is_negative() {
            return Err(format!("negative price {}", field("price")?));
        }
        let tax_class = field("tax_class")?;
        if !rules.tax_classes.contains_key(tax_class) {
            let known: Vec<&str> = rules.tax_classes.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown tax class {tax_class:?} (known: {})",
                known.join(", ")
            ));
        }
        let weighed = flag(field("weighed")?, false).ok_or("weighed must be yes or no")?;
        let active = flag(field("active")?, true).ok_or("active must be yes or no")?;
        let plu = field("plu")?;
        let plu_ok = (4..=6).contains(&plu.len()) && plu.bytes().all(|b| b.is_ascii_digit());
        if !plu.is_empty() && !plu_ok {
            return Err(format!("PLU {plu:?} must be 4 to 6 digits"));
        }
        let mut barcodes = Vec::new();
        for code in field("barcodes")?
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            barcodes.push(catalog_key(code, rules.scan)?);
        }
        Ok(ParsedRow {
            product: Product {
                sku: sku.to_string(),
                name_zh: name_zh.to_string(),
                name_en: name_en.to_string(),
                price,
                tax_class: tax_class.to_string(),
                department: field("department")?.to_string(),
                weighed,
                active,
                plu: (!plu.is_empty()).then(|| plu.to_string()),
            },
            barcodes,
        })
    }
}

fn column(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

fn flag(value: &str, default: bool) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "" => Some(default),
        "1" | "true" | "yes" | "y" => Some(true),
        "0" | "false" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// The catalog key of a barcode column entry. A code is accepted only if the scan classifier
/// would route it to the catalog, so every imported code can really be scanned.
fn catalog_key(code: &str, scan: &ScanConfig) -> Result<String, String> {
    let internal_shape = code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
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
    use crate::domain::TaxMode;
    use crate::domain::weighed::WeighedLayout;

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
