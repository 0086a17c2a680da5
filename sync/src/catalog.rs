//! The catalog file format (CSV) that store managers and HQ exchange, and the catalog rows HQ
//! publishes to terminals. Both sides read a row's shape here, so a file HQ accepts is a file a
//! terminal accepts; each side then adds its own checks (a terminal its tax classes and its
//! scan rules, HQ uniqueness across the chain's catalog).
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

use serde::{Deserialize, Serialize};

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
pub const REQUIRED: [&str; 5] = ["sku", "barcodes", "name_zh", "price", "tax_class"];

/// Where each known column is in one file.
#[derive(Clone, Debug)]
pub struct Columns {
    index: [Option<usize>; COLUMNS.len()],
    width: usize,
}

/// One row's fields after the checks every reader makes. The price and the barcodes are
/// left as text: what they must look like depends on the reader's currency and scan rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowFields<'r> {
    pub sku: &'r str,
    pub name_zh: &'r str,
    pub name_en: &'r str,
    pub price: &'r str,
    pub tax_class: &'r str,
    pub department: &'r str,
    pub weighed: bool,
    pub active: bool,
    pub plu: Option<&'r str>,
    barcodes: &'r str,
}

impl<'r> RowFields<'r> {
    /// The barcode column's codes, trimmed, empty entries left out.
    pub fn barcodes(&self) -> impl Iterator<Item = &'r str> + use<'r> {
        self.barcodes
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

impl Columns {
    /// Reads the header row: every column must be known and appear once, and the required
    /// ones must be there.
    pub fn from_header(header: &csv::ByteRecord) -> Result<Columns, String> {
        let mut index = [None; COLUMNS.len()];
        for (i, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| format!("column {} is not UTF-8", i + 1))?
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase();
            let Some(known) = COLUMNS.iter().position(|c| *c == name) else {
                return Err(format!(
                    "unknown column {name:?}; the columns are {}",
                    COLUMNS.join(", ")
                ));
            };
            if index[known].replace(i).is_some() {
                return Err(format!("column {name:?} appears twice"));
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| index[column(c)].is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!("missing column {}", missing.join(", ")));
        }
        Ok(Columns {
            index,
            width: header.len(),
        })
    }

    /// Reads one row, or says what is wrong with it.
    pub fn row<'r>(&self, record: &'r csv::ByteRecord) -> Result<RowFields<'r>, String> {
        if record.len() != self.width {
            return Err(format!(
                "expected {} columns, found {}",
                self.width,
                record.len()
            ));
        }
        let field = |name: &str| -> Result<&'r str, String> {
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
        let weighed = flag(field("weighed")?, false).ok_or("weighed must be yes or no")?;
        let active = flag(field("active")?, true).ok_or("active must be yes or no")?;
        let plu = field("plu")?;
        let plu_ok = (4..=6).contains(&plu.len()) && plu.bytes().all(|b| b.is_ascii_digit());
        if !plu.is_empty() && !plu_ok {
            return Err(format!("PLU {plu:?} must be 4 to 6 digits"));
        }
        Ok(RowFields {
            sku,
            name_zh,
            name_en,
            price: field("price")?,
            tax_class: field("tax_class")?,
            department: field("department")?,
            weighed,
            active,
            plu: (!plu.is_empty()).then_some(plu),
            barcodes: field("barcodes")?,
        })
    }
}

/// Whether `code` has the shape every product code in a catalog must have: 1 to 32 ASCII
/// letters, digits, `-` or `_`. This is the "internal code" rule both sides apply: HQ refuses
/// a file with any other code, and a terminal routes a code of this shape that is not a GTIN
/// to its catalog as an internal code.
pub fn is_product_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a catalog file could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The bytes are not CSV.
    Read(String),
    /// The header row is missing or wrong.
    Header(String),
}

/// Opens a catalog file: reads and checks its header row, and returns the reader positioned
/// at the first product row, with where each column is. Rows may differ in width, so a short
/// row is reported as that row's problem rather than ending the read.
pub fn open<R: std::io::Read>(input: R) -> Result<(csv::Reader<R>, Columns), OpenError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(input);
    let mut header = csv::ByteRecord::new();
    if !reader
        .read_byte_record(&mut header)
        .map_err(|e| OpenError::Read(e.to_string()))?
    {
        return Err(OpenError::Header("the file is empty".into()));
    }
    let columns = Columns::from_header(&header).map_err(OpenError::Header)?;
    Ok((reader, columns))
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

/// One product as HQ publishes it. The price is in minor units of the chain's currency;
/// barcodes are as written in the catalog file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CatalogRow {
    pub sku: String,
    pub barcodes: Vec<String>,
    pub name_zh: String,
    pub name_en: String,
    pub price: i64,
    pub tax_class: String,
    pub department: String,
    pub weighed: bool,
    pub active: bool,
    pub plu: Option<String>,
}

/// Products changed after catalog version `since` up to `version`, by SKU. A product that a
/// newer catalog file left out comes back inactive, so it stops selling everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CatalogDelta {
    /// The version this delta brings a terminal up to, once every page is applied.
    pub version: u64,
    pub rows: Vec<CatalogRow>,
    /// More rows follow: ask again with `after` set to the last row's SKU.
    pub more: bool,
}

/// A price in major units (`12.50`) as minor units with `decimals` digits after the point.
/// Negative prices are refused.
pub fn parse_price(text: &str, decimals: u32) -> Result<i64, String> {
    let bad = || format!("price {text:?} is not an amount like 12.50");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if text.starts_with('-') {
        return Err(format!("negative price {text}"));
    }
    if (whole.is_empty() && frac.is_empty())
        || !digits(whole)
        || !digits(frac)
        || text.ends_with('.')
    {
        return Err(bad());
    }
    if frac.len() > decimals as usize {
        return Err(format!(
            "price {text} has more than {decimals} decimal places"
        ));
    }
    let scale = 10i64.pow(decimals);
    let frac_minor = format!("{frac:0<width$}", width = decimals as usize);
    let frac_minor: i64 = if frac_minor.is_empty() {
        0
    } else {
        frac_minor.parse().map_err(|_| bad())?
    };
    let whole = if whole.is_empty() { "0" } else { whole };
    whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(scale))
        .and_then(|w| w.checked_add(frac_minor))
        .ok_or_else(|| format!("price {text} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_codes_are_short_letters_digits_dashes_and_underscores() {
        for good in ["6901234567892", "A-100", "tea_01", &"9".repeat(32)] {
            assert!(is_product_code(good), "{good}");
        }
        for bad in ["", "A 100", "A.100", "苹果", "TM1.10086", &"9".repeat(33)] {
            assert!(!is_product_code(bad), "{bad}");
        }
    }

    fn check(text: &str, expected: Result<i64, &str>) {
        assert_eq!(
            parse_price(text, 2),
            expected.map_err(str::to_string),
            "{text}"
        );
    }

    #[test]
    fn prices_are_whole_minor_units() {
        check("12.50", Ok(1250));
        check("12.5", Ok(1250));
        check("3", Ok(300));
        check("0.01", Ok(1));
        check("-1.00", Err("negative price -1.00"));
        check("1.001", Err("price 1.001 has more than 2 decimal places"));
        check("abc", Err("price \"abc\" is not an amount like 12.50"));
        check("", Err("price \"\" is not an amount like 12.50"));
        check("1.", Err("price \"1.\" is not an amount like 12.50"));
        check(".5", Ok(50));
        check(
            "99999999999999999999",
            Err("price 99999999999999999999 is too large"),
        );
    }

    #[test]
    fn rows_are_read_by_header_name_and_checked() {
        let header =
            csv::ByteRecord::from(vec!["price", "sku", "name_zh", "barcodes", "tax_class"]);
        let columns = Columns::from_header(&header).unwrap();
        let record = csv::ByteRecord::from(vec!["2.00", "1001", "水", "690 | | X1", "food"]);
        let row = columns.row(&record).unwrap();
        assert_eq!(
            (row.sku, row.price, row.active, row.weighed),
            ("1001", "2.00", true, false)
        );
        assert_eq!(row.barcodes().collect::<Vec<_>>(), ["690", "X1"]);
        let short = csv::ByteRecord::from(vec!["2.00", "1001"]);
        assert_eq!(
            columns.row(&short).unwrap_err(),
            "expected 5 columns, found 2"
        );
        let bad = csv::ByteRecord::from(vec!["sku", "barcodes", "name_zh", "price"]);
        assert_eq!(
            Columns::from_header(&bad).unwrap_err(),
            "missing column tax_class"
        );
    }
}
