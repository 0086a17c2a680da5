//! Quantities as integer thousandths, so that 0.356 kg of apples or 3 bottles are both exact.

use std::fmt;

/// A quantity in thousandths of a unit: `1000` is one item, `356` is 0.356 kg (356 g).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Quantity(i64);

impl Quantity {
    pub const ONE: Quantity = Quantity(1000);
    /// The largest quantity one line may hold: a typo guard, since nobody sells 10,000 of a thing.
    pub const MAX: Quantity = Quantity(9_999_000);

    pub const fn from_milli(milli: i64) -> Quantity {
        Quantity(milli)
    }

    pub const fn units(units: i64) -> Quantity {
        Quantity(units * 1000)
    }

    /// A weight in grams, as a quantity of kilograms.
    pub const fn grams(grams: i64) -> Quantity {
        Quantity(grams)
    }

    pub fn milli(&self) -> i64 {
        self.0
    }

    pub fn is_whole(&self) -> bool {
        self.0 % 1000 == 0
    }

    /// Parses "3", "0.356" or "1.5" exactly into thousandths.
    pub fn parse(input: &str) -> Option<Quantity> {
        let s = input.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() && frac.is_empty()
            || frac.len() > 3
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut frac_milli: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..3 {
            frac_milli *= 10;
        }
        whole
            .checked_mul(1000)?
            .checked_add(frac_milli)
            .map(Quantity)
    }
}

impl fmt::Display for Quantity {
    /// Whole quantities print as integers ("3"); fractional ones with their significant
    /// thousandths ("0.356", "1.5").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        if abs.is_multiple_of(1000) {
            write!(f, "{sign}{}", abs / 1000)
        } else {
            let frac = format!("{:03}", abs % 1000);
            write!(f, "{sign}{}.{}", abs / 1000, frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for (input, milli, shown) in [
            ("3", 3000, "3"),
            ("0.356", 356, "0.356"),
            ("1.5", 1500, "1.5"),
            (".25", 250, "0.25"),
        ] {
            let q = Quantity::parse(input).expect(input);
            assert_eq!(q.milli(), milli);
            assert_eq!(q.to_string(), shown);
        }
        for bad in ["", "1.2345", "-1", "x", "1,5"] {
            assert_eq!(Quantity::parse(bad), None, "{bad:?}");
        }
    }
}
