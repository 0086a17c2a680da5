//! The chain's points rule (PRODUCT.md "Loyalty"): one function, [`LoyaltyRule::points`], that
//! the receipt, the terminal's ledger and HQ's ledger all come from.
//!
//! HQ publishes a [`LoyaltyRule`] with a version; terminals pull the newest and stamp every
//! sale record with the rule version they used and the points it gave
//! (`till_sync::loyalty::SaleLoyalty`), and HQ recomputes them with the same rule.

use serde::{Deserialize, Serialize};

/// The most points per yuan a rule may give: anything above is a typo, not a promotion.
pub const MAX_POINTS_PER_YUAN: u32 = 100;

/// A published points rule: `points_per_yuan` points for every whole major unit (yuan) a
/// customer pays, after discounts and cash rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Unknown fields are allowed so that HQ can add descriptive ones (a name, a start date)
// without breaking older tills' pulls; a field that changes how points are computed needs a
// new record version.
pub struct LoyaltyRule {
    /// 0 for the built-in rule every chain starts with; HQ numbers the rules it publishes
    /// 1, 2, 3, …
    pub version: u32,
    /// 1 to [`MAX_POINTS_PER_YUAN`].
    pub points_per_yuan: u32,
}

/// Why a rule, or the points a sale claims under it, are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoyaltyError {
    #[error("points per yuan must be 1 to {MAX_POINTS_PER_YUAN}, not {0}")]
    Rate(i64),
    #[error("loyalty rule version {0} is unknown")]
    UnknownRule(u32),
    #[error("points {stated} do not match loyalty rule {rule}, which gives {computed}")]
    Mismatch {
        rule: u32,
        stated: i64,
        computed: i64,
    },
}

impl LoyaltyRule {
    /// The rule before any was published: one point per yuan. Version-1 records earn by it.
    pub const LEGACY: LoyaltyRule = LoyaltyRule {
        version: 0,
        points_per_yuan: 1,
    };

    /// A rule as HQ would publish it. Errors: a rate of 0, negative or over
    /// [`MAX_POINTS_PER_YUAN`].
    pub fn new(version: u32, points_per_yuan: i64) -> Result<LoyaltyRule, LoyaltyError> {
        match u32::try_from(points_per_yuan) {
            Ok(rate) if (1..=MAX_POINTS_PER_YUAN).contains(&rate) => Ok(LoyaltyRule {
                version,
                points_per_yuan: rate,
            }),
            _ => Err(LoyaltyError::Rate(points_per_yuan)),
        }
    }

    /// Points for paying `paid_minor` (minor units, fen) in `currency` (ISO 4217 code, as a
    /// sale record carries it): whole major units times the rate, rounded down; nothing for
    /// nothing paid.
    pub fn points(&self, paid_minor: i64, currency: &str) -> i64 {
        paid_minor.max(0) / minor_per_major(currency) * i64::from(self.points_per_yuan)
    }
}

/// Minor units per major unit of the currency code a record carries, exactly as HQ has always
/// credited points: 1 for the yen and the won, else 100. It is matched on the code as written
/// (not through [`crate::Currency`]'s lenient parse), so a record earns what it earned when it was
/// first checked; for the currencies a till sells in it agrees with
/// [`crate::Currency::minor_per_major`].
fn minor_per_major(currency: &str) -> i64 {
    match currency {
        "JPY" | "KRW" => 1,
        _ => 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn rates_outside_one_to_a_hundred_are_refused() {
        for bad in [0, -1, 101, i64::MAX] {
            assert_eq!(LoyaltyRule::new(1, bad), Err(LoyaltyError::Rate(bad)));
        }
        assert_eq!(LoyaltyRule::new(3, 100).unwrap().points_per_yuan, 100);
    }

    #[test]
    fn points_are_whole_major_units_paid() {
        let two = LoyaltyRule::new(1, 2).unwrap();
        assert_eq!(two.points(1010, "CNY"), 20);
        assert_eq!(two.points(1099, "CNY"), 20);
        assert_eq!(two.points(1010, "JPY"), 2020);
        assert_eq!(two.points(99, "CNY"), 0);
        assert_eq!(two.points(-5, "CNY"), 0);
    }

    #[test]
    fn the_minor_unit_agrees_with_every_currency_a_till_sells_in() {
        for code in ["CNY", "USD", "EUR", "HKD", "JPY"] {
            let currency: Currency = code.parse().unwrap();
            assert_eq!(minor_per_major(code), currency.minor_per_major(), "{code}");
        }
    }
}
