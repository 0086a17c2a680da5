//! The points rule on the wire (PRODUCT.md "Loyalty"): the stamp a sale record carries, and
//! the check HQ makes of it. The rule itself, [`LoyaltyRule`], is the domain's
//! (`till_domain::loyalty`), so the receipt, the terminal's ledger and HQ's ledger are computed
//! by one function.
//!
//! Terminals stamp every sale record with the rule version they used and the points it gave
//! ([`SaleLoyalty`]). HQ recomputes them with [`check`] and credits exactly that. Records of
//! version 1, journaled before rules existed, carry no stamp and earn what HQ credited them
//! then: [`LoyaltyRule::LEGACY`].

pub use till_domain::loyalty::{LoyaltyError, LoyaltyRule, MAX_POINTS_PER_YUAN};

pub use crate::sale::SaleLoyalty;
use crate::sale::SaleRecord;

/// The stamp `rule` gives a sale record: its version and the points for what was paid.
pub fn stamp(rule: &LoyaltyRule, record: &SaleRecord) -> SaleLoyalty {
    SaleLoyalty {
        rule: rule.version,
        points: rule.points(record.payable(), &record.currency),
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
    let Some(stated) = record.loyalty else {
        return Ok(stamp(&LoyaltyRule::LEGACY, record).points);
    };
    let rule = if stated.rule == 0 {
        LoyaltyRule::LEGACY
    } else {
        rule(stated.rule).ok_or(LoyaltyError::UnknownRule(stated.rule))?
    };
    let computed = stamp(&rule, record).points;
    if computed != stated.points {
        return Err(LoyaltyError::Mismatch {
            rule: stated.rule,
            stated: stated.points,
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
        .map_or_else(|| stamp(&LoyaltyRule::LEGACY, record).points, |s| s.points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_whole_yuan_paid_after_rounding() {
        let rule = LoyaltyRule::new(1, 2).unwrap();
        let mut record = crate::sale::tests::sample();
        // Total 10.16, rounded to 10.10 paid: 10 whole yuan at 2 per yuan.
        assert_eq!(stamp(&rule, &record).points, 20);
        record.currency = "JPY".into();
        assert_eq!(stamp(&rule, &record).points, 2020);
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
        record.loyalty = Some(stamp(&two, &record));
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
