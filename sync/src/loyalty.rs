//! The chain's points rule (PRODUCT.md "Loyalty"), shared by terminal and HQ so that the
//! receipt, the terminal's ledger and HQ's ledger are computed by one function.
//!
//! HQ publishes a [`LoyaltyRule`] with a version; terminals pull the newest with the catalog
//! and stamp every sale record with the rule version they used and the points it gave
//! ([`SaleLoyalty`]). HQ recomputes them with [`check`] and credits exactly that. Records of
//! version 1, journaled before rules existed, carry no stamp and earn what HQ credited them
//! then: [`LoyaltyRule::LEGACY`].

use serde::{Deserialize, Serialize};

use crate::sale::SaleRecord;

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

/// What a sale record says it earned: the rule version used and the points it gave. An
/// anonymous sale carries them too: a claim earns what the sale would have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleLoyalty {
    pub rule: u32,
    pub points: i64,
}

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

    /// Points for paying `paid_minor` (minor units, fen) in `currency` (ISO 4217): whole
    /// major units times the rate, rounded down; nothing for nothing paid.
    pub fn points(&self, paid_minor: i64, currency: &str) -> i64 {
        let per_major = minor_per_major(currency);
        paid_minor.max(0) / per_major * i64::from(self.points_per_yuan)
    }

    /// The stamp this rule gives a sale record.
    pub fn stamp(&self, record: &SaleRecord) -> SaleLoyalty {
        SaleLoyalty {
            rule: self.version,
            points: self.points(record.payable(), &record.currency),
        }
    }
}

/// Minor units per major unit of an ISO 4217 currency: 1 for the yen and the won, else 100.
pub fn minor_per_major(currency: &str) -> i64 {
    match currency {
        "JPY" | "KRW" => 1,
        _ => 100,
    }
}

/// The points a record earns, checked against the rules HQ published (`rule` looks one up by
/// version; version 0 is [`LoyaltyRule::LEGACY`] whatever it answers). A record without a
/// stamp (version 1) earns by the legacy rule. Errors: an unknown rule version, or points that
/// do not follow from the rule.
pub fn check(
    record: &SaleRecord,
    rule: impl Fn(u32) -> Option<LoyaltyRule>,
) -> Result<i64, LoyaltyError> {
    let Some(stamp) = record.loyalty else {
        return Ok(LoyaltyRule::LEGACY.stamp(record).points);
    };
    let rule = if stamp.rule == 0 {
        LoyaltyRule::LEGACY
    } else {
        rule(stamp.rule).ok_or(LoyaltyError::UnknownRule(stamp.rule))?
    };
    let computed = rule.stamp(record).points;
    if computed != stamp.points {
        return Err(LoyaltyError::Mismatch {
            rule: stamp.rule,
            stated: stamp.points,
            computed,
        });
    }
    Ok(computed)
}

/// The points an already checked record earns: its stamp, or the legacy rule's for a
/// version-1 record.
pub fn earned(record: &SaleRecord) -> i64 {
    record
        .loyalty
        .map_or_else(|| LoyaltyRule::LEGACY.stamp(record).points, |s| s.points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_one_to_a_hundred_are_refused() {
        for bad in [0, -1, 101, i64::MAX] {
            assert_eq!(LoyaltyRule::new(1, bad), Err(LoyaltyError::Rate(bad)));
        }
        assert_eq!(LoyaltyRule::new(3, 100).unwrap().points_per_yuan, 100);
    }

    #[test]
    fn points_are_whole_yuan_paid_after_rounding() {
        let rule = LoyaltyRule::new(1, 2).unwrap();
        let mut record = crate::sale::tests::sample();
        // Total 10.16, rounded to 10.10 paid: 10 whole yuan at 2 per yuan.
        assert_eq!(rule.stamp(&record).points, 20);
        record.currency = "JPY".into();
        assert_eq!(rule.stamp(&record).points, 2020);
        assert_eq!(rule.points(-5, "CNY"), 0);
    }

    #[test]
    fn a_record_is_checked_against_the_rule_it_names() {
        let two = LoyaltyRule::new(1, 2).unwrap();
        let rules = |v: u32| (v == 1).then_some(two);
        let mut record = crate::sale::tests::sample();
        assert_eq!(
            check(&record, rules),
            Ok(10),
            "a v1 record earns 1 per yuan"
        );
        record.loyalty = Some(two.stamp(&record));
        assert_eq!(check(&record, rules), Ok(20));
        record.loyalty = Some(SaleLoyalty {
            rule: 1,
            points: 40,
        });
        assert_eq!(
            check(&record, rules),
            Err(LoyaltyError::Mismatch {
                rule: 1,
                stated: 40,
                computed: 20
            })
        );
        record.loyalty = Some(SaleLoyalty {
            rule: 7,
            points: 20,
        });
        assert_eq!(check(&record, rules), Err(LoyaltyError::UnknownRule(7)));
    }
}
