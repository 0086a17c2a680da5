//! The demo's sample catalog: a Chinese convenience store's shelves, with valid EAN-13 codes.
//!
//! The shelves themselves are data, in `src/demo/catalog.toml` (embedded in the binary):
//! families of packaged goods with their sizes and prices, goods sold by weight, and counter
//! goods. This module numbers them, gives them their barcodes and builds the catalog CSV, the
//! demo basket, the quick keys and the demo terminal.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::LazyLock;

use serde::Deserialize;
use till_domain::gtin::check_digit;

/// The sample catalog's data file, embedded in the binary.
const CATALOG_TOML: &str = include_str!("demo/catalog.toml");

/// The sample catalog, parsed from [`CATALOG_TOML`] on first use.
static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::parse(CATALOG_TOML).expect("the embedded demo catalog parses"));

/// `catalog.toml` as written: see the comments in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    /// Lists of sizes (or flavours, or packs) by name, shared by the families that name them.
    sizes: BTreeMap<String, Vec<Size>>,
    shelf: Vec<Shelf>,
    weighed: Vec<Loose>,
    counter: Vec<Counter>,
}

/// One size of a family: its Chinese and English names (none for a family sold under its own
/// name) and its price.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Size {
    #[serde(default)]
    zh: String,
    #[serde(default)]
    en: String,
    price: String,
}

/// A department's families of packaged goods, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shelf {
    department: String,
    families: Vec<Family>,
}

/// A product line, sold in each size of the list named `sizes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Family {
    zh: String,
    en: String,
    tax_class: String,
    sizes: String,
}

/// Fruit, nuts or another good sold by weight, with the scale PLU on its labels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Loose {
    plu: String,
    zh: String,
    en: String,
    price: String,
}

/// A counter good without a barcode, sold from the quick keys by its internal code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counter {
    code: String,
    zh: String,
    en: String,
    price: String,
}

/// A packaged product: one size of a family, with its full names ("农夫山泉 550ml").
#[derive(Debug)]
struct Packaged {
    name_zh: String,
    name_en: String,
    department: String,
    tax_class: String,
    price: String,
}

/// The sample catalog: the packaged products in order (the `n`th, from 1, has the barcode
/// `sample_ean13(n)`), the goods sold by weight and the counter goods.
#[derive(Debug)]
struct Catalog {
    packaged: Vec<Packaged>,
    weighed: Vec<Loose>,
    counter: Vec<Counter>,
}

impl Catalog {
    /// Reads `catalog.toml` and lays every family out in its sizes.
    fn parse(text: &str) -> anyhow::Result<Self> {
        let file: CatalogFile = toml::from_str(text)?;
        let mut packaged = Vec::new();
        for shelf in &file.shelf {
            for family in &shelf.families {
                let sizes = file.sizes.get(&family.sizes).ok_or_else(|| {
                    anyhow::anyhow!("{}: there are no sizes named {:?}", family.zh, family.sizes)
                })?;
                for size in sizes {
                    packaged.push(Packaged {
                        name_zh: with_size(&family.zh, &size.zh),
                        name_en: with_size(&family.en, &size.en),
                        department: shelf.department.clone(),
                        tax_class: family.tax_class.clone(),
                        price: size.price.clone(),
                    });
                }
            }
        }
        for counter in &file.counter {
            // The CSV's SKU is the code after its first character (a letter).
            anyhow::ensure!(
                counter.code.len() > 1 && counter.code.is_ascii(),
                "{}: the counter code {:?} is not a letter and digits",
                counter.zh,
                counter.code
            );
        }
        Ok(Self {
            packaged,
            weighed: file.weighed,
            counter: file.counter,
        })
    }
}

/// A family's name with a size's name after it, or alone if the size has none.
fn with_size(family: &str, size: &str) -> String {
    if size.is_empty() {
        family.to_string()
    } else {
        format!("{family} {size}")
    }
}

/// The demo's staff: (ID, name, PIN). The first is a cashier, the second a manager.
pub const DEMO_CASHIER: (&str, &str, &str) = ("1001", "王芳", "1234");
pub const DEMO_MANAGER: (&str, &str, &str) = ("9001", "李店长", "9999");

/// The member-code public key (key ID, hex) a demo terminal trusts: RFC 8032's test key 1,
/// whose secret is published (`9d61b1…7f60`), so tests and demos can make `TM2` codes for a
/// demo terminal. A real terminal trusts only the keys it pulls from HQ.
pub const DEMO_CODE_KEY: (u64, &str) = (
    1,
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
);

/// A demo member: (ID, name, tier, points, phone, card number, active).
pub type DemoMember = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
    Option<&'static str>,
    bool,
);

pub const DEMO_MEMBERS: &[DemoMember] = &[
    (
        "10086",
        "王小明",
        "金卡",
        1280,
        "13812345678",
        Some("8800010086"),
        true,
    ),
    ("10087", "陈静", "银卡", 320, "13987654321", None, true),
    ("10088", "刘洋", "普通", 0, "13700001111", None, false),
];

/// The demo's quick keys: the counter goods, then four best sellers.
pub fn demo_quick_keys() -> Vec<String> {
    let mut keys: Vec<String> = CATALOG.counter.iter().map(|c| c.code.clone()).collect();
    for name in [
        "农夫山泉 550ml",
        "可口可乐 500ml",
        "康师傅红烧牛肉面 桶装",
        "乐事薯片 原味 70g",
    ] {
        keys.extend(sample_code(name));
    }
    keys
}

/// Sets up a demo terminal in `data_dir` (store S001, terminal T01): config, database, the
/// sample catalog, the demo staff and quick keys, and a shift the manager opened with
/// [`demo_float`], as a till is mid-day. `printer` is a printer address, if any.
pub fn create_terminal(data_dir: &std::path::Path, printer: Option<String>) -> anyhow::Result<()> {
    create_terminal_between_shifts(data_dir, printer)?;
    let mut store = crate::store::Store::open(&data_dir.join(crate::config::DATABASE_FILE))?;
    store.open_shift(DEMO_MANAGER.0, &demo_float())?;
    Ok(())
}

/// The demo's opening float: two ¥100 notes, five ¥10 notes and twenty ¥1 coins (¥270).
pub fn demo_float() -> till_domain::shift::CashCount {
    till_domain::shift::Denominations::for_currency(till_domain::Currency::CNY)
        .count(&[(10_000, 2), (1_000, 5), (100, 20)])
        .expect("the demo's notes are the yuan's")
}

/// [`create_terminal`] with no shift open: the state before a day's first shift (or
/// between two), for tests of opening one.
pub fn create_terminal_between_shifts(
    data_dir: &std::path::Path,
    printer: Option<String>,
) -> anyhow::Result<()> {
    use crate::config::{CONFIG_FILE, Config, DATABASE_FILE, PrinterConfig};
    use crate::store::{Role, StaffMember, Store};
    use till_domain::{Currency, TaxMode};
    let mut config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    config.store_name = "Till 便利店".into();
    config.store_address = "人民广场店 · 上海市黄浦区人民大道 100 号".into();
    config.tax_id = "91310101MA1FP0000X".into();
    config.printer = printer.map(|address| PrinterConfig {
        address,
        baud: 9600,
        columns: 32,
        encoding: "gb18030".into(),
        language: Default::default(),
    });
    config.ui.quick_keys = demo_quick_keys();
    config.scan.member_card_prefix = Some("88".into());
    config.validate()?;
    std::fs::create_dir_all(data_dir)?;
    let mut store = Store::create(&data_dir.join(DATABASE_FILE), "S001", "T01", Currency::CNY)?;
    std::fs::write(data_dir.join(CONFIG_FILE), config.to_toml())?;
    let settings = crate::checkout::CheckoutSettings::from_config(&config)?;
    let rules = crate::catalog::ImportRules::for_terminal(&settings, false, 0);
    let report =
        crate::catalog::import_csv(&mut store, sample_catalog_csv().as_bytes(), &rules, |_| {})?;
    anyhow::ensure!(
        report.committed,
        "the sample catalog did not import: {:?}",
        report.rejected
    );
    for ((id, name, pin), role) in [(DEMO_CASHIER, Role::Cashier), (DEMO_MANAGER, Role::Manager)] {
        let member = StaffMember {
            id: id.into(),
            name: name.into(),
            role,
        };
        store.add_staff(&member, &crate::staff::hash_pin(pin)?)?;
    }
    // A demo-only version-1 key (HQ issues real ones from a CSPRNG): the SHA-256 of a fresh
    // UUIDv7, unique per demo, so phone numbers hash and the claim QR codes work.
    let seed = uuid::Uuid::now_v7();
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()).into();
    store.add_member_key(&till_sync::member::MemberKey::from_bytes(digest))?;
    // And a demo claim key of its own; registering with an HQ replaces it with HQ's.
    let claim: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(digest).into();
    store.set_claim_key(&till_sync::member::ClaimKey::from_bytes(claim))?;
    // And a demo phone pepper; registering with an HQ takes the chain's.
    let pepper: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(claim).into();
    store.set_phone_pepper(&till_sync::member::PhonePepper::from_bytes(pepper), true)?;
    let (kid, public) = DEMO_CODE_KEY;
    store.add_code_key(&till_sync::member::CodePublicKey::parse_hex(kid, public)?)?;
    for (id, name, tier, points, phone, card, active) in DEMO_MEMBERS {
        store.upsert_member(&crate::store::MemberRecord {
            member_id: id.to_string(),
            display_name: name.to_string(),
            tier: tier.to_string(),
            points: *points,
            phone: Some(till_sync::member::Phone::parse(phone)?),
            card_number: card.map(str::to_string),
            active: *active,
        })?;
    }
    Ok(())
}

/// A valid EAN-13 in the 690–695 (China) range, unique per `index`.
pub fn sample_ean13(index: usize) -> String {
    let body = format!("69{}{:09}", index % 6, 123_400_000 + index);
    let body = &body[..12];
    format!("{body}{}", check_digit(body.as_bytes()))
}

/// The sample catalog as a CSV in the import format (over 300 products).
pub fn sample_catalog_csv() -> String {
    let mut csv = String::from(
        "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n",
    );
    for (i, product) in CATALOG.packaged.iter().enumerate() {
        let index = i + 1;
        let Packaged {
            name_zh,
            name_en,
            department,
            tax_class,
            price,
        } = product;
        let _ = writeln!(
            csv,
            "{},{},{name_zh},\"{name_en}\",{price},{tax_class},{department},0,1,",
            100_000 + index,
            sample_ean13(index),
        );
    }
    for Loose { plu, zh, en, price } in &CATALOG.weighed {
        let _ = writeln!(csv, "2{plu},,{zh},{en},{price},food,生鲜 Produce,1,1,{plu}");
    }
    for Counter {
        code,
        zh,
        en,
        price,
    } in &CATALOG.counter
    {
        let _ = writeln!(
            csv,
            "3{},{code},{zh},{en},{price},food,熟食 Counter,0,1,",
            &code[1..]
        );
    }
    csv
}

/// The EAN-13 of the sample product with this exact Chinese name.
pub fn sample_code(name_zh: &str) -> Option<String> {
    let i = CATALOG
        .packaged
        .iter()
        .position(|product| product.name_zh == name_zh)?;
    Some(sample_ean13(i + 1))
}

/// A demo basket: two bottles of water, a cola, crisps, a cup of noodles, and apples weighed
/// on the scale (a prefix-22 label: PLU 00042, 356 g).
pub fn sample_scans() -> Vec<String> {
    let apples = {
        let body = "220004200356";
        format!("{body}{}", check_digit(body.as_bytes()))
    };
    let water = sample_code("农夫山泉 550ml").unwrap_or_default();
    let mut scans = vec![water.clone(), water];
    for name in [
        "可口可乐 500ml",
        "乐事薯片 黄瓜味 70g",
        "康师傅红烧牛肉面 桶装",
    ] {
        scans.extend(sample_code(name));
    }
    scans.push(apples);
    scans
}

#[cfg(test)]
mod tests {
    use super::*;
    use till_domain::Gtin;

    #[test]
    fn sample_catalog_has_over_300_products_with_valid_unique_codes() {
        let csv = sample_catalog_csv();
        let rows = csv.lines().count() - 1;
        assert!(rows >= 300, "{rows} products");
        assert_eq!(sample_scans().len(), 6, "every demo basket item exists");
        let mut codes = std::collections::HashSet::new();
        for i in 1..=rows {
            let code = sample_ean13(i);
            assert!(Gtin::parse(&code).is_ok(), "{code}");
            assert!(codes.insert(code));
        }
    }

    #[test]
    fn embedded_catalog_parses_into_unique_products_the_csv_can_carry() {
        let catalog = Catalog::parse(CATALOG_TOML).expect("the embedded demo catalog parses");
        let products = catalog.packaged.len() + catalog.weighed.len() + catalog.counter.len();
        assert!(products >= 300, "{products} products");
        let mut names = std::collections::HashSet::new();
        for (i, product) in catalog.packaged.iter().enumerate() {
            assert!(names.insert(&product.name_zh), "{} twice", product.name_zh);
            assert_eq!(sample_code(&product.name_zh), Some(sample_ean13(i + 1)));
        }
        // The CSV quotes only the English names of packaged goods, without escaping.
        for line in sample_catalog_csv().lines().skip(1) {
            let quotes = if line.starts_with('1') { 2 } else { 0 };
            assert_eq!(line.matches(',').count(), 9, "{line}");
            assert_eq!(line.matches('"').count(), quotes, "{line}");
        }
        let typo = CATALOG_TOML.replacen("sizes = \"water\"", "sizes = \"waters\"", 1);
        let error = Catalog::parse(&typo).unwrap_err().to_string();
        assert!(error.contains("no sizes named \"waters\""), "{error}");
    }
}
