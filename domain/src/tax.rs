//! Tax rates in basis points, price-inclusive or price-exclusive, and per-line tax rounding.

use std::fmt;
use std::str::FromStr;

use crate::money::div_round_half_up;

/// A tax rate in basis points: 1300 is 13 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TaxRate(u32);

impl TaxRate {
    pub const ZERO: TaxRate = TaxRate(0);
    /// Rates above 100 % are typos, not tax law.
    pub const MAX_BASIS_POINTS: u32 = 10_000;

    pub fn from_basis_points(bp: u32) -> Option<TaxRate> {
        (bp <= Self::MAX_BASIS_POINTS).then_some(TaxRate(bp))
    }

    pub fn basis_points(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 100;
        let frac = self.0 % 100;
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

/// Whether shelf prices already include tax (the China default, 含税价) or tax is added on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

impl FromStr for TaxMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inclusive" => Ok(TaxMode::Inclusive),
            "exclusive" => Ok(TaxMode::Exclusive),
            other => Err(format!(
                "tax mode must be inclusive or exclusive, not {other:?}"
            )),
        }
    }
}

impl fmt::Display for TaxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        })
    }
}

/// The tax on one line whose discounted amount is `net_minor`, rounded half up per line.
///
/// - Inclusive: the amount already holds the tax, so tax = amount × r / (1 + r).
/// - Exclusive: tax = amount × r, and the line total is amount + tax.
///
/// Taxing each line and summing (rather than taxing the ticket total) is what makes the
/// printed per-line taxes add up exactly to the printed tax total.
pub fn line_tax(net_minor: i64, rate: TaxRate, mode: TaxMode) -> i64 {
    let net = i128::from(net_minor);
    let bp = i128::from(rate.basis_points());
    let tax = match mode {
        TaxMode::Inclusive => div_round_half_up(net * bp, 10_000 + bp),
        TaxMode::Exclusive => div_round_half_up(net * bp, 10_000),
    };
    crate::money::to_minor(tax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusive_and_exclusive_tax_round_half_up_per_line() {
        let r13 = TaxRate::from_basis_points(1300).unwrap();
        // ￥11.30 including 13 % holds exactly ￥1.30 of tax.
        assert_eq!(line_tax(1130, r13, TaxMode::Inclusive), 130);
        // ￥10.00 excluding 13 % adds ￥1.30.
        assert_eq!(line_tax(1000, r13, TaxMode::Exclusive), 130);
        // ￥0.04 × 13 % = 0.52 fen, which rounds up to 1 fen.
        assert_eq!(line_tax(4, r13, TaxMode::Exclusive), 1);
        assert_eq!(line_tax(1000, TaxRate::ZERO, TaxMode::Inclusive), 0);
        assert_eq!(TaxRate::from_basis_points(10_001), None);
        assert_eq!(r13.to_string(), "13%");
        assert_eq!(
            TaxRate::from_basis_points(950).unwrap().to_string(),
            "9.50%"
        );
    }
}
