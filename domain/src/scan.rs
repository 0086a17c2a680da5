//! The one scan classifier: every scanned or typed code becomes exactly one [`Scan`].
//!
//! Order, from PRODUCT.md: member code, payment code, receipt code, weighed item, product,
//! unknown. The first kind whose shape matches wins, so a configured member-card prefix beats a
//! payment code of the same digits. Classification is pure: whether an internal code exists in
//! the catalog is asked through a closure.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::gtin::{Gtin, GtinError};
use crate::weighed::{LabelValue, WeighedLabel, WeighedLayout};

/// Longest input the classifier looks at. Real codes are under 100 characters; anything longer
/// is a stuck scanner or pasted junk.
pub const MAX_SCAN_LEN: usize = 256;

/// Prefix of the version-2 dynamic member QR code,
/// `TM2.<member_id>.<step>.<kid>.<Ed25519 signature, base32>` (PRODUCT.md, "Member codes").
pub const MEMBER_CODE_PREFIX: &str = "TM2.";
/// Prefix of the version-1 dynamic member QR code, `TM1.<member_id>.<step>.<mac>`, accepted
/// only while a chain migrates.
pub const TM1_CODE_PREFIX: &str = "TM1.";
/// Characters of a `TM2` signature: 64 bytes in unpadded base32.
pub const TM2_SIGNATURE_LEN: usize = 103;
/// Prefix of the receipt barcode, `TR1.<store>.<terminal>.<seq>`.
pub const RECEIPT_CODE_PREFIX: &str = "TR1.";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanConfig {
    /// Static member cards start with this prefix, for example `88`. None: no static cards.
    pub member_card_prefix: Option<String>,
    pub weighed_layouts: Vec<WeighedLayout>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scan {
    Member(MemberCode),
    Payment(PaymentCode),
    Receipt(ReceiptCode),
    Weighed { code: Gtin, label: WeighedLabel },
    Product(ProductCode),
    Unknown(UnknownReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberCode {
    /// A version-2 dynamic QR code (`TM2`); its Ed25519 signature is checked later against
    /// HQ's public key `kid`.
    Tm2 {
        member_id: String,
        /// `floor(unix_seconds / 30)` when the code was made.
        step: u64,
        /// The ID of HQ's member-code key that signed it.
        kid: u64,
        /// 103 characters of base32 (64 bytes).
        signature: String,
    },
    /// A version-1 dynamic QR code (`TM1`); its MAC is checked later against the chain's
    /// version-1 key, where the till still accepts them.
    Tm1 {
        member_id: String,
        step: u64,
        mac: String,
    },
    /// A static member card number.
    Card(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    WeChatPay,
    Alipay,
    UnionPay,
}

impl fmt::Display for PaymentProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaymentProvider::WeChatPay => "WeChat Pay",
            PaymentProvider::Alipay => "Alipay",
            PaymentProvider::UnionPay => "UnionPay",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentCode {
    pub provider: PaymentProvider,
    pub code: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptCode {
    pub store: String,
    pub terminal: String,
    pub seq: u64,
}

impl ReceiptCode {
    /// The receipt code `code` is (`TR1.<store>.<terminal>.<seq>`), if it is one.
    pub fn parse(code: &str) -> Option<ReceiptCode> {
        receipt_code(code)
    }

    /// The text the receipt's Code 128 barcode carries.
    pub fn encode(&self) -> String {
        format!(
            "{RECEIPT_CODE_PREFIX}{}.{}.{}",
            self.store, self.terminal, self.seq
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductCode {
    Gtin(Gtin),
    /// A store-internal code that the catalog knows.
    Internal(String),
}

impl ProductCode {
    /// The key this code has in the catalog's barcode table.
    pub fn catalog_key(&self) -> &str {
        match self {
            ProductCode::Gtin(g) => g.as_str(),
            ProductCode::Internal(s) => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnknownReason {
    #[error("empty scan")]
    Empty,
    #[error("scan of {0} characters is too long (at most {MAX_SCAN_LEN})")]
    TooLong(usize),
    #[error("scan contains control characters")]
    ControlCharacters,
    #[error("{code}: {error}")]
    BadGtin { code: String, error: GtinError },
    #[error("{0}: not a barcode this till knows")]
    NotRecognised(String),
    /// Starts like a dynamic member code but does not read as one (cut short, a character
    /// changed in transit): the customer's code, damaged, rather than an unknown barcode.
    #[error("{0}: a damaged member code: ask for a fresh one")]
    DamagedMemberCode(String),
}

/// A store or terminal ID: 1–16 ASCII letters and digits, so it is safe inside receipt codes,
/// claim tokens and file names.
pub fn is_valid_site_id(id: &str) -> bool {
    (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A member ID as HQ issues it: letters, digits, `-` and `_`, never a dot.
pub fn is_valid_member_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Classifies one raw scan. Leading and trailing whitespace (scanner suffixes) is ignored.
pub fn classify(raw: &str, config: &ScanConfig, is_internal_code: &dyn Fn(&str) -> bool) -> Scan {
    if raw.len() > MAX_SCAN_LEN {
        return Scan::Unknown(UnknownReason::TooLong(raw.chars().count()));
    }
    let code = raw.trim();
    if code.is_empty() {
        return Scan::Unknown(UnknownReason::Empty);
    }
    if code.chars().any(char::is_control) {
        return Scan::Unknown(UnknownReason::ControlCharacters);
    }
    if let Some(member) = member_code(code, config) {
        return Scan::Member(member);
    }
    if let Some(payment) = payment_code(code) {
        return Scan::Payment(payment);
    }
    if let Some(receipt) = receipt_code(code) {
        return Scan::Receipt(receipt);
    }
    let all_digits = code.bytes().all(|b| b.is_ascii_digit());
    if all_digits && matches!(code.len(), 8 | 12 | 13 | 14) {
        return match Gtin::parse(code) {
            Ok(gtin) => match weighed_label(code, config) {
                Some(label) => Scan::Weighed { code: gtin, label },
                None => Scan::Product(ProductCode::Gtin(gtin)),
            },
            Err(error) => Scan::Unknown(UnknownReason::BadGtin {
                code: code.to_string(),
                error,
            }),
        };
    }
    if is_internal_code(code) {
        return Scan::Product(ProductCode::Internal(code.to_string()));
    }
    if code.starts_with(MEMBER_CODE_PREFIX) || code.starts_with(TM1_CODE_PREFIX) {
        return Scan::Unknown(UnknownReason::DamagedMemberCode(code.to_string()));
    }
    Scan::Unknown(UnknownReason::NotRecognised(code.to_string()))
}

/// Whether `text` is unpadded upper-case RFC 4648 base32 of `len` characters.
fn is_base32(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

/// Whether `text` is a decimal number of 1 to `max` digits.
fn is_decimal(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

fn member_code(code: &str, config: &ScanConfig) -> Option<MemberCode> {
    if let Some(rest) = code.strip_prefix(MEMBER_CODE_PREFIX) {
        let mut parts = rest.split('.');
        let (member_id, step, kid, signature) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let shape_ok = parts.next().is_none()
            && is_valid_member_id(member_id)
            && is_decimal(step, 12)
            && is_decimal(kid, 9)
            && is_base32(signature, TM2_SIGNATURE_LEN);
        return shape_ok.then(|| MemberCode::Tm2 {
            member_id: member_id.to_string(),
            step: step.parse().unwrap_or_default(),
            kid: kid.parse().unwrap_or_default(),
            signature: signature.to_string(),
        });
    }
    if let Some(rest) = code.strip_prefix(TM1_CODE_PREFIX) {
        let mut parts = rest.split('.');
        let (member_id, step, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let shape_ok = parts.next().is_none()
            && is_valid_member_id(member_id)
            && is_decimal(step, 12)
            && is_base32(mac, 16);
        return shape_ok.then(|| MemberCode::Tm1 {
            member_id: member_id.to_string(),
            step: step.parse().unwrap_or_default(),
            mac: mac.to_string(),
        });
    }
    let prefix = config
        .member_card_prefix
        .as_deref()
        .filter(|p| !p.is_empty())?;
    let number = code.strip_prefix(prefix)?;
    let shape_ok = (4..=32).contains(&code.len())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_alphanumeric());
    shape_ok.then(|| MemberCode::Card(code.to_string()))
}

fn payment_code(code: &str) -> Option<PaymentCode> {
    if !code.bytes().all(|b| b.is_ascii_digit()) || code.len() < 16 {
        return None;
    }
    let prefix: u8 = code[..2].parse().ok()?;
    let provider = match (code.len(), prefix) {
        (18, 10..=15) => PaymentProvider::WeChatPay,
        (16..=24, 25..=30) => PaymentProvider::Alipay,
        (19, 62) => PaymentProvider::UnionPay,
        _ => return None,
    };
    Some(PaymentCode {
        provider,
        code: code.to_string(),
    })
}

fn receipt_code(code: &str) -> Option<ReceiptCode> {
    let rest = code.strip_prefix(RECEIPT_CODE_PREFIX)?;
    let mut parts = rest.split('.');
    let (store, terminal, seq) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_valid_site_id(store) || !is_valid_site_id(terminal) {
        return None;
    }
    if seq.is_empty() || seq.len() > 12 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ReceiptCode {
        store: store.to_string(),
        terminal: terminal.to_string(),
        seq: seq.parse().ok().filter(|s| *s > 0)?,
    })
}

fn weighed_label(code: &str, config: &ScanConfig) -> Option<WeighedLabel> {
    if code.len() != 13 {
        return None;
    }
    let prefix: u8 = code[..2].parse().ok()?;
    config
        .weighed_layouts
        .iter()
        .find(|l| l.prefix == prefix)
        .and_then(|l| l.decode(code.as_bytes()))
}

impl fmt::Display for Scan {
    /// The one-line description `till scan classify` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scan::Member(MemberCode::Tm2 {
                member_id,
                step,
                kid,
                ..
            }) => {
                write!(
                    f,
                    "member code: dynamic QR for member {member_id}, time step {step}, key {kid}"
                )
            }
            Scan::Member(MemberCode::Tm1 {
                member_id, step, ..
            }) => {
                write!(
                    f,
                    "member code: version-1 dynamic QR for member {member_id}, time step {step}"
                )
            }
            Scan::Member(MemberCode::Card(n)) => write!(f, "member code: static card {n}"),
            Scan::Payment(p) => write!(f, "payment code: {} ({} digits)", p.provider, p.code.len()),
            Scan::Receipt(r) => {
                write!(
                    f,
                    "receipt code: store {} terminal {} sale #{}",
                    r.store, r.terminal, r.seq
                )
            }
            Scan::Weighed { code, label } => match label.value {
                LabelValue::PriceMinor(p) => {
                    write!(
                        f,
                        "weighed item: {code}, PLU {}, price {p} minor units",
                        label.plu
                    )
                }
                LabelValue::Weight(q) => {
                    write!(
                        f,
                        "weighed item: {code}, PLU {}, weight {} g",
                        label.plu,
                        q.milli()
                    )
                }
            },
            Scan::Product(ProductCode::Gtin(g)) => write!(f, "product: {} {g}", g.format()),
            Scan::Product(ProductCode::Internal(c)) => write!(f, "product: internal code {c}"),
            Scan::Unknown(reason) => write!(f, "unknown: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::Quantity;

    /// What a case expects, compared by kind and the one detail that matters for it.
    #[derive(Debug, PartialEq)]
    enum Want {
        Member(&'static str),
        Tm1(&'static str),
        Card,
        Pay(PaymentProvider),
        Receipt(&'static str, &'static str, u64),
        WeighedPrice(&'static str, i64),
        WeighedGrams(&'static str, i64),
        Gtin(&'static str),
        Internal,
        Unknown,
        DamagedMember,
    }

    fn config() -> ScanConfig {
        ScanConfig {
            member_card_prefix: Some("88".into()),
            weighed_layouts: WeighedLayout::defaults(),
        }
    }

    fn check(code: &str, want: Want) {
        let internal = |c: &str| c == "COFFEE-L" || c == "PLU42";
        let got = match classify(code, &config(), &internal) {
            Scan::Member(MemberCode::Tm2 { member_id, .. }) => {
                Want::Member(Box::leak(member_id.into_boxed_str()))
            }
            Scan::Member(MemberCode::Tm1 { member_id, .. }) => {
                Want::Tm1(Box::leak(member_id.into_boxed_str()))
            }
            Scan::Member(MemberCode::Card(_)) => Want::Card,
            Scan::Payment(p) => Want::Pay(p.provider),
            Scan::Receipt(r) => Want::Receipt(
                Box::leak(r.store.into_boxed_str()),
                Box::leak(r.terminal.into_boxed_str()),
                r.seq,
            ),
            Scan::Weighed { label, .. } => match label.value {
                LabelValue::PriceMinor(p) => {
                    Want::WeighedPrice(Box::leak(label.plu.into_boxed_str()), p)
                }
                LabelValue::Weight(q) => {
                    Want::WeighedGrams(Box::leak(label.plu.into_boxed_str()), q.milli())
                }
            },
            Scan::Product(ProductCode::Gtin(g)) => {
                Want::Gtin(Box::leak(g.as_str().to_string().into_boxed_str()))
            }
            Scan::Product(ProductCode::Internal(_)) => Want::Internal,
            Scan::Unknown(UnknownReason::DamagedMemberCode(_)) => Want::DamagedMember,
            Scan::Unknown(_) => Want::Unknown,
        };
        assert_eq!(got, want, "classifying {code:?}");
    }

    #[test]
    fn classifies_the_table() {
        use PaymentProvider::*;
        use Want::*;
        // Real GS1 examples and each GTIN format.
        check("4006381333931", Gtin("04006381333931"));
        check("036000291452", Gtin("00036000291452"));
        check("73513537", Gtin("00000073513537"));
        check("04252614", Gtin("00042100005264"));
        check("10012345678902", Gtin("10012345678902"));
        check("6901028075831", Gtin("06901028075831"));
        check("6920202888883", Gtin("06920202888883"));
        check(" 4006381333931\r\n", Gtin("04006381333931"));
        // Wrong check digits are unknown, never a guess.
        check("4006381333932", Unknown);
        check("036000291453", Unknown);
        check("73513538", Unknown);
        check("10012345678903", Unknown);
        check("6901028075832", Unknown);
        // Weighed labels: configured prefixes decode; unconfigured 20–29 are plain products.
        check("2100042012509", WeighedPrice("00042", 1250));
        check("2200042003566", WeighedGrams("00042", 356));
        check("2000042012502", Gtin("02000042012502"));
        check("2100042012508", Unknown);
        // WeChat Pay: 18 digits, prefix 10–15.
        check("100000000000000000", Pay(WeChatPay));
        check("134567890123456789", Pay(WeChatPay));
        check("159999999999999999", Pay(WeChatPay));
        check("13456789012345678", Unknown);
        check("1345678901234567890", Unknown);
        check("164567890123456789", Unknown);
        check("094567890123456789", Unknown);
        // Alipay: 16–24 digits, prefix 25–30.
        check("2500000000000000", Pay(Alipay));
        check("286543210987654321", Pay(Alipay));
        check("300000000000000000000000", Pay(Alipay));
        check("250000000000000", Unknown);
        check("3000000000000000000000000", Unknown);
        check("3100000000000000", Unknown);
        check("2400000000000000", Unknown);
        // UnionPay: prefix 62, 19 digits.
        check("6212345678901234567", Pay(UnionPay));
        check("621234567890123456", Unknown);
        check("62123456789012345678", Unknown);
        // Member codes: dynamic QR and static cards with the configured prefix.
        let sig = "A".repeat(103);
        check(&format!("TM2.10086.59372011.1.{sig}"), Member("10086"));
        check(&format!("TM2.M-2024_x.1.42.{sig}"), Member("M-2024_x"));
        check("TM1.10086.59372011.ABCDEFGHIJ234567", Tm1("10086"));
        check("TM1.M-2024_x.1.AAAAAAAAAAAAAAAA", Tm1("M-2024_x"));
        // A TM2 code of the wrong shape: short, lower case, not base32, no kid, junk of the
        // right length, a member ID with a dot.
        check(
            &format!("TM2.10086.59372011.1.{}", &sig[1..]),
            DamagedMember,
        );
        check(
            &format!("TM2.10086.59372011.1.{}", sig.to_lowercase()),
            DamagedMember,
        );
        check(
            &format!("TM2.10086.59372011.1.{}1", &sig[1..]),
            DamagedMember,
        );
        check(&format!("TM2.10086.59372011.{sig}"), DamagedMember);
        check(&format!("TM2.10086.59372011.x.{sig}"), DamagedMember);
        check(
            &format!("TM2.10086.59372011.1.{}", "!".repeat(103)),
            DamagedMember,
        );
        check(&format!("TM2.10.086.59372011.1.{sig}"), DamagedMember);
        // Damaged member codes say so, rather than "not a barcode".
        check("TM1.10086.59372011.abcdefghij234567", DamagedMember);
        check("TM1.10086.59372011.ABCDEFGHIJ23456", DamagedMember);
        check("TM1.10086.5937x011.ABCDEFGHIJ234567", DamagedMember);
        check("TM1.10.086.59372011.ABCDEFGHIJ234567", DamagedMember);
        check("TM1.10086.59372011", DamagedMember);
        check("8800012345", Card);
        check("88", Unknown);
        // Receipt codes.
        check("TR1.S001.T01.42", Receipt("S001", "T01", 42));
        check("TR1.S001.T01.0", Unknown);
        check("TR1.S-01.T01.42", Unknown);
        // Internal catalog codes, and junk.
        check("COFFEE-L", Internal);
        check("PLU42", Internal);
        check("TEA-M", Unknown);
        check("", Unknown);
        check("   ", Unknown);
        check("4006381\u{7}333931", Unknown);
        check(&"7".repeat(10 * 1024), Unknown);
        check("12345", Unknown);
    }

    #[test]
    fn over_length_input_says_how_long_it_was() {
        let scan = classify(&"x".repeat(10_240), &config(), &|_| true);
        assert_eq!(scan, Scan::Unknown(UnknownReason::TooLong(10_240)));
        assert_eq!(
            scan.to_string(),
            "unknown: scan of 10240 characters is too long (at most 256)"
        );
    }

    #[test]
    fn weight_label_quantity_is_grams() {
        let Scan::Weighed { label, .. } = classify("2200042003566", &config(), &|_| false) else {
            panic!("not weighed")
        };
        assert_eq!(label.value, LabelValue::Weight(Quantity::from_milli(356)));
    }
}
