//! In-store EAN-13 labels with an embedded price or weight (prefixes 20–29), as printed by scales.

use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

/// What the value digits of a weighed-item label mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddedValue {
    /// The label's price in minor units (fen).
    Price,
    /// The weight in grams.
    Weight,
}

/// One configured label layout: `PP` prefix, PLU digits, an optional price check digit, the
/// value digits, then the EAN-13 check digit. The value takes whatever digits remain of the
/// ten between prefix and check digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeighedLayout {
    pub prefix: u8,
    pub plu_digits: u8,
    pub value: EmbeddedValue,
    #[serde(default)]
    pub price_check_digit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("weighed-item prefix must be 20 to 29, not {0}")]
    Prefix(u8),
    #[error("a PLU has 4 to 6 digits, not {0}")]
    PluDigits(u8),
    #[error("layout for prefix {0} leaves fewer than 4 value digits")]
    ValueDigits(u8),
    #[error("two layouts for prefix {0}")]
    DuplicatePrefix(u8),
}

impl WeighedLayout {
    pub fn validate(&self) -> Result<(), LayoutError> {
        if !(20..=29).contains(&self.prefix) {
            return Err(LayoutError::Prefix(self.prefix));
        }
        if !(4..=6).contains(&self.plu_digits) {
            return Err(LayoutError::PluDigits(self.plu_digits));
        }
        if self.value_digits() < 4 {
            return Err(LayoutError::ValueDigits(self.prefix));
        }
        Ok(())
    }

    fn value_digits(&self) -> u8 {
        10u8.saturating_sub(self.plu_digits + u8::from(self.price_check_digit))
    }

    /// The layouts most Chinese scales ship with: `21` is PLU + price, `22` is PLU + weight.
    pub fn defaults() -> Vec<WeighedLayout> {
        vec![
            WeighedLayout {
                prefix: 21,
                plu_digits: 5,
                value: EmbeddedValue::Price,
                price_check_digit: false,
            },
            WeighedLayout {
                prefix: 22,
                plu_digits: 5,
                value: EmbeddedValue::Weight,
                price_check_digit: false,
            },
        ]
    }

    /// Decodes a check-digit-valid EAN-13 (13 ASCII digits) with this layout's prefix.
    pub fn decode(&self, ean13: &[u8]) -> Option<WeighedLabel> {
        if ean13.len() != 13 || ean13[..2] != [b'0' + self.prefix / 10, b'0' + self.prefix % 10] {
            return None;
        }
        let plu_end = 2 + usize::from(self.plu_digits);
        let value_start = plu_end + usize::from(self.price_check_digit);
        let plu = std::str::from_utf8(&ean13[2..plu_end]).ok()?.to_string();
        let value: i64 = std::str::from_utf8(&ean13[value_start..12])
            .ok()?
            .parse()
            .ok()?;
        let value = match self.value {
            EmbeddedValue::Price => LabelValue::PriceMinor(value),
            EmbeddedValue::Weight => LabelValue::Weight(Quantity::grams(value)),
        };
        Some(WeighedLabel { plu, value })
    }
}

/// The weight a price-embedded label stands for: `label_price / unit_price` kg, rounded half
/// up to the gram, and at least one gram. Both prices are minor units (fen, fen per kg). With
/// no unit price (a free item) the label counts as one kilogram.
pub fn weight_for_price(label_price: i64, unit_price: i64) -> Quantity {
    if unit_price <= 0 {
        return Quantity::ONE;
    }
    let grams =
        crate::money::div_round_half_up(i128::from(label_price) * 1000, i128::from(unit_price));
    Quantity::grams(i64::try_from(grams).unwrap_or(i64::MAX).max(1))
}

/// A decoded scale label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeighedLabel {
    pub plu: String,
    pub value: LabelValue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelValue {
    PriceMinor(i64),
    Weight(Quantity),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_price_stands_for_its_weight_to_the_gram() {
        let check = |label_price: i64, unit_price: i64, grams: i64| {
            assert_eq!(
                weight_for_price(label_price, unit_price),
                Quantity::grams(grams),
                "{label_price} at {unit_price}/kg"
            );
        };
        // Apples at ￥12.98/kg, label ￥35.70: 2.750 kg.
        check(3570, 1298, 2750);
        check(1250, 1000, 1250);
        check(1, 999_999, 1);
        check(100, 3, 33_333);
        check(500, 0, 1000);
    }

    #[test]
    fn decodes_price_and_weight_layouts() {
        let [price, weight] = WeighedLayout::defaults()[..] else {
            panic!()
        };
        let label = price.decode(b"2100042012509").unwrap();
        assert_eq!(label.plu, "00042");
        assert_eq!(label.value, LabelValue::PriceMinor(1250));
        let label = weight.decode(b"2200042003566").unwrap();
        assert_eq!(label.value, LabelValue::Weight(Quantity::grams(356)));
        assert_eq!(price.decode(b"2200042003566"), None, "wrong prefix");
        let pcd = WeighedLayout {
            prefix: 23,
            plu_digits: 4,
            value: EmbeddedValue::Price,
            price_check_digit: true,
        };
        pcd.validate().unwrap();
        assert_eq!(
            pcd.decode(b"2312347012348").unwrap().value,
            LabelValue::PriceMinor(1234)
        );
        assert!(WeighedLayout { prefix: 30, ..pcd }.validate().is_err());
        assert!(
            WeighedLayout {
                plu_digits: 7,
                ..pcd
            }
            .validate()
            .is_err()
        );
    }
}
