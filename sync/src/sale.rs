//! The sale record both sides agree on, its canonical bytes, and the journal hash chain.
//!
//! ## Canonical encoding, v1
//!
//! The canonical bytes of a sale are the compact JSON serialisation of [`SaleRecord`]:
//! - no whitespace between tokens;
//! - object keys in exactly the order the structs below declare them (never sorted, never
//!   reordered), so adding a field is a new version `v`;
//! - every amount an integer in minor units, quantities in thousandths, rates in basis points;
//!   there are no floats anywhere;
//! - strings as UTF-8, escaped the way `serde_json` escapes them (only `"`, `\` and control
//!   characters), so Chinese names are stored as their UTF-8 bytes;
//! - an absent optional value is written as `null`.
//!
//! The terminal hashes these bytes into its journal and uploads them as they are, and HQ
//! re-encodes what it receives to check the same hash. That is why this crate, which both
//! sides depend on, owns the encoding.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version written in every new record's `v` field. Version 2 added `loyalty`; records of
/// version 1 (without it) stay valid and keep their bytes.
pub const SALE_RECORD_VERSION: u32 = 2;

/// The `prev_hash` of a terminal's first sale.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleRecord {
    pub v: u32,
    /// UUIDv7, lower-case hyphenated.
    pub sale_id: String,
    pub store: String,
    pub terminal: String,
    /// Gap-free per terminal, starting at 1.
    pub seq: u64,
    /// Milliseconds since the Unix epoch, UTC.
    pub created_at_ms: i64,
    /// The terminal's UTC offset when the sale was made, so HQ can place it in the store's day.
    pub utc_offset_s: i32,
    pub cashier: String,
    /// ISO 4217 code.
    pub currency: String,
    pub attribution: Attribution,
    pub lines: Vec<SaleLine>,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    /// Cash rounding (抹零), negative when the odd fen were dropped.
    pub rounding: i64,
    pub payments: Vec<SalePayment>,
    pub change: i64,
    /// Version 2: the loyalty rule used and the points the sale earned (or, if anonymous,
    /// would earn by a claim). Absent from version-1 records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty: Option<SaleLoyalty>,
}

/// Who the sale belongs to. Every sale has a member or is explicitly anonymous.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Attribution {
    Member {
        member_id: String,
    },
    /// The claim token lets the customer attach the sale to a membership later.
    Anonymous {
        claim_token: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleLine {
    pub line_no: u32,
    pub sku: String,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub tax_class: String,
    pub tax_rate_bp: u32,
    pub unit_price: i64,
    pub qty_milli: i64,
    pub weighed: bool,
    pub price_overridden: bool,
    pub gross: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SalePayment {
    /// `cash`, `card`, `wechat_pay`, `alipay` or `unionpay`.
    pub kind: String,
    /// For cash, what was handed over; change is given back separately.
    pub amount: i64,
    pub reference: Option<String>,
}

/// Why a record's figures do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("unsupported sale record version {0}")]
    Version(u32),
    #[error("a sale has at least one line")]
    NoLines,
    #[error("a version {0} record must carry its loyalty stamp (version 2) or none (version 1)")]
    LoyaltyStamp(u32),
    #[error("a sale cannot earn negative points")]
    NegativePoints,
    #[error("line {0}: negative amount")]
    NegativeLine(u32),
    #[error("line {0}: gross - discount does not match its total")]
    LineMismatch(u32),
    #[error("{field} is {stated} but the lines add up to {computed}")]
    TotalMismatch {
        field: &'static str,
        stated: i64,
        computed: i64,
    },
    #[error("payment {0} is not positive")]
    NonPositivePayment(usize),
    #[error("payments of {paid} do not cover {payable} due")]
    Underpaid { paid: i64, payable: i64 },
    #[error("change is {stated} but payments exceed the amount due by {computed}")]
    ChangeMismatch { stated: i64, computed: i64 },
}

/// What a sale record says it earned: the rule version used and the points it gave. An
/// anonymous sale carries them too: a claim earns what the sale would have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleLoyalty {
    pub rule: u32,
    pub points: i64,
}

impl SaleRecord {
    /// The bytes the journal hashes and the upload carries.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<SaleRecord, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn payable(&self) -> i64 {
        self.total + self.rounding
    }

    /// Checks that every figure follows from the lines and payments, as HQ does on upload and
    /// the terminal does when it verifies its journal.
    pub fn check_consistency(&self) -> Result<(), RecordError> {
        match (self.v, &self.loyalty) {
            (1, None) | (2, Some(_)) => {}
            (1 | 2, _) => return Err(RecordError::LoyaltyStamp(self.v)),
            (v, _) => return Err(RecordError::Version(v)),
        }
        if self.loyalty.is_some_and(|l| l.points < 0) {
            return Err(RecordError::NegativePoints);
        }
        if self.lines.is_empty() {
            return Err(RecordError::NoLines);
        }
        for l in &self.lines {
            if l.gross < 0 || l.discount < 0 || l.tax < 0 || l.total < 0 || l.unit_price < 0 {
                return Err(RecordError::NegativeLine(l.line_no));
            }
            let net = l.gross - l.discount;
            if l.discount > l.gross || (l.total != net && l.total != net + l.tax) {
                return Err(RecordError::LineMismatch(l.line_no));
            }
        }
        let sum = |f: fn(&SaleLine) -> i64| self.lines.iter().map(f).sum::<i64>();
        for (field, stated, computed) in [
            ("subtotal", self.subtotal, sum(|l| l.gross)),
            ("discount", self.discount, sum(|l| l.discount)),
            ("tax", self.tax, sum(|l| l.tax)),
            ("total", self.total, sum(|l| l.total)),
        ] {
            if stated != computed {
                return Err(RecordError::TotalMismatch {
                    field,
                    stated,
                    computed,
                });
            }
        }
        if let Some(i) = self.payments.iter().position(|p| p.amount <= 0) {
            return Err(RecordError::NonPositivePayment(i));
        }
        let paid: i64 = self.payments.iter().map(|p| p.amount).sum();
        let payable = self.payable();
        if paid < payable {
            return Err(RecordError::Underpaid { paid, payable });
        }
        if self.change != paid - payable {
            return Err(RecordError::ChangeMismatch {
                stated: self.change,
                computed: paid - payable,
            });
        }
        Ok(())
    }
}

/// One link of a terminal's journal: `SHA-256(prev_hash ‖ canonical sale bytes)`.
pub fn chain_hash(prev_hash: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical);
    hasher.finalize().into()
}

#[cfg(test)]
pub(crate) mod tests {
    use expect_test::expect;

    use super::*;

    pub(crate) fn sample() -> SaleRecord {
        SaleRecord {
            v: 1,
            sale_id: "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b".into(),
            store: "S001".into(),
            terminal: "T01".into(),
            seq: 42,
            created_at_ms: 1_795_000_000_000,
            utc_offset_s: 28_800,
            cashier: "1001".into(),
            currency: "CNY".into(),
            attribution: Attribution::Anonymous { claim_token: None },
            lines: vec![
                SaleLine {
                    line_no: 1,
                    sku: "100234".into(),
                    code: "6901028075831".into(),
                    name_zh: "农夫山泉 550ml".into(),
                    name_en: "Nongfu Spring 550ml".into(),
                    tax_class: "standard".into(),
                    tax_rate_bp: 1300,
                    unit_price: 200,
                    qty_milli: 3000,
                    weighed: false,
                    price_overridden: false,
                    gross: 600,
                    discount: 0,
                    tax: 69,
                    total: 600,
                },
                SaleLine {
                    line_no: 2,
                    sku: "200042".into(),
                    code: "2200042003566".into(),
                    name_zh: "红富士苹果".into(),
                    name_en: "Fuji apples".into(),
                    tax_class: "food".into(),
                    tax_rate_bp: 900,
                    unit_price: 1298,
                    qty_milli: 356,
                    weighed: true,
                    price_overridden: false,
                    gross: 462,
                    discount: 46,
                    tax: 34,
                    total: 416,
                },
            ],
            subtotal: 1062,
            discount: 46,
            tax: 103,
            total: 1016,
            rounding: -6,
            payments: vec![SalePayment {
                kind: "cash".into(),
                amount: 2000,
                reference: None,
            }],
            change: 990,
            loyalty: None,
        }
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let bytes = sample().canonical_bytes();
        expect![[r#"{"v":1,"sale_id":"0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","store":"S001","terminal":"T01","seq":42,"created_at_ms":1795000000000,"utc_offset_s":28800,"cashier":"1001","currency":"CNY","attribution":{"kind":"anonymous","claim_token":null},"lines":[{"line_no":1,"sku":"100234","code":"6901028075831","name_zh":"农夫山泉 550ml","name_en":"Nongfu Spring 550ml","tax_class":"standard","tax_rate_bp":1300,"unit_price":200,"qty_milli":3000,"weighed":false,"price_overridden":false,"gross":600,"discount":0,"tax":69,"total":600},{"line_no":2,"sku":"200042","code":"2200042003566","name_zh":"红富士苹果","name_en":"Fuji apples","tax_class":"food","tax_rate_bp":900,"unit_price":1298,"qty_milli":356,"weighed":true,"price_overridden":false,"gross":462,"discount":46,"tax":34,"total":416}],"subtotal":1062,"discount":46,"tax":103,"total":1016,"rounding":-6,"payments":[{"kind":"cash","amount":2000,"reference":null}],"change":990}"#]]
        .assert_eq(std::str::from_utf8(&bytes).unwrap());
        let back = SaleRecord::from_canonical_bytes(&bytes).unwrap();
        assert_eq!(
            back.canonical_bytes(),
            bytes,
            "decode then encode gives the same bytes"
        );
    }

    #[test]
    fn version_2_records_end_with_their_loyalty_stamp() {
        let mut record = sample();
        record.v = SALE_RECORD_VERSION;
        record.loyalty = Some(SaleLoyalty {
            rule: 3,
            points: 20,
        });
        record.check_consistency().unwrap();
        let bytes = record.canonical_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        expect![[r#""change":990,"loyalty":{"rule":3,"points":20}}"#]]
            .assert_eq(&text[text.find("\"change\"").unwrap()..]);
        assert_eq!(SaleRecord::from_canonical_bytes(&bytes).unwrap(), record);
        let mut unstamped = record.clone();
        unstamped.loyalty = None;
        assert_eq!(
            unstamped.check_consistency(),
            Err(RecordError::LoyaltyStamp(2))
        );
        let mut stamped_v1 = sample();
        stamped_v1.loyalty = record.loyalty;
        assert_eq!(
            stamped_v1.check_consistency(),
            Err(RecordError::LoyaltyStamp(1))
        );
    }

    #[test]
    fn chain_hash_depends_on_previous_link_and_bytes() {
        let bytes = sample().canonical_bytes();
        let first = chain_hash(&GENESIS_HASH, &bytes);
        expect!["74a1ee94d3f81d214b38c7e49af2e3d79b8b876d6384f7b96ccd1081c61d0e88"]
            .assert_eq(&hex::encode(first));
        assert_ne!(chain_hash(&first, &bytes), first);
    }

    #[test]
    fn consistency_check_catches_figures_that_do_not_add_up() {
        sample().check_consistency().unwrap();
        let mut r = sample();
        r.total += 1;
        assert!(matches!(
            r.check_consistency(),
            Err(RecordError::TotalMismatch { field: "total", .. })
        ));
        let mut r = sample();
        r.change = 1000;
        assert!(matches!(
            r.check_consistency(),
            Err(RecordError::ChangeMismatch { .. })
        ));
        let mut r = sample();
        r.payments[0].amount = 1000;
        assert!(matches!(
            r.check_consistency(),
            Err(RecordError::Underpaid { .. })
        ));
        let mut r = sample();
        r.lines[0].total = -1;
        assert_eq!(r.check_consistency(), Err(RecordError::NegativeLine(1)));
        let mut r = sample();
        r.lines.clear();
        assert_eq!(r.check_consistency(), Err(RecordError::NoLines));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut json: serde_json::Value =
            serde_json::from_slice(&sample().canonical_bytes()).unwrap();
        json["surprise"] = serde_json::json!(1);
        assert!(SaleRecord::from_canonical_bytes(json.to_string().as_bytes()).is_err());
    }
}
