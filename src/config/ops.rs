//! The store-operation settings: `[cash]` (notes and coins, the reasons for paid in, paid out
//! and no-sale openings), `[shift]` and `[returns]`, and the typed values they parse into.

use serde::{Deserialize, Serialize};
use till_domain::Money;
use till_domain::returns::ReturnPolicy;
use till_domain::shift::{Denominations, MovementKind};

use super::{Config, ConfigError};

/// Return settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReturnsSection {
    /// Days after a sale within which a cashier may take it back alone.
    pub window_days: u32,
    /// A refund over this amount (major units, e.g. `"500"`) needs a manager.
    pub approval_over: String,
    /// Why customers bring goods back, for the touchscreen to tap (the CLI takes `--reason`);
    /// the reason is on the return's record and slip.
    pub reasons: Vec<String>,
}

impl Default for ReturnsSection {
    fn default() -> Self {
        ReturnsSection {
            window_days: 30,
            approval_over: "500".into(),
            reasons: [
                "质量问题 faulty",
                "买错了 wrong item",
                "不想要了 changed mind",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The drawer's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CashSection {
    /// The notes and coins, in major units as written on them (`["100", "50", "0.5"]`);
    /// empty means the currency's usual ones ([`Denominations::for_currency`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denominations: Vec<String>,
    /// Why cash may be put into the drawer outside a sale.
    pub paid_in_reasons: Vec<String>,
    /// Why cash may be taken out.
    pub paid_out_reasons: Vec<String>,
    /// Why the drawer may be opened without a sale.
    pub no_sale_reasons: Vec<String>,
}

impl Default for CashSection {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        CashSection {
            denominations: Vec::new(),
            paid_in_reasons: list(&["补充零钱 change top-up", "其他 other"]),
            paid_out_reasons: list(&["存入保险柜 safe drop", "供应商付款 supplier", "其他 other"]),
            no_sale_reasons: list(&["兑换零钱 give change", "其他 other"]),
        }
    }
}

/// Shift settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShiftSection {
    /// Whether a sale needs an open shift (default: yes). The touchscreen opens one from
    /// Menu → Open shift, `till shift open` from the command line.
    pub required: bool,
}

impl Default for ShiftSection {
    fn default() -> Self {
        ShiftSection { required: true }
    }
}

impl Config {
    /// The drawer's notes and coins: `[cash] denominations`, or the currency's usual ones.
    pub fn denominations(&self) -> Result<Denominations, ConfigError> {
        if self.cash.denominations.is_empty() {
            return Ok(Denominations::for_currency(self.currency));
        }
        let mut values: Vec<i64> = Vec::new();
        for text in &self.cash.denominations {
            let invalid = |m: String| ConfigError::Invalid(format!("cash.denominations: {m}"));
            let value = Money::parse(text, self.currency)
                .map_err(|e| invalid(e.to_string()))?
                .minor();
            if value <= 0 {
                return Err(invalid(format!("{text:?} is not a positive amount")));
            }
            if values.contains(&value) {
                return Err(invalid(format!("{text:?} is listed twice")));
            }
            values.push(value);
        }
        Denominations::new(&values)
            .map_err(|e| ConfigError::Invalid(format!("cash.denominations: {e}")))
    }

    /// The return window and approval limit, as the store's return check takes them.
    pub fn return_policy(&self) -> Result<ReturnPolicy, ConfigError> {
        let limit = Money::parse(&self.returns.approval_over, self.currency)
            .map_err(|e| ConfigError::Invalid(format!("returns.approval_over: {e}")))?;
        if limit.is_negative() {
            return Err(ConfigError::Invalid(
                "returns.approval_over cannot be negative".into(),
            ));
        }
        if self.returns.window_days > 3650 {
            return Err(ConfigError::Invalid(
                "returns.window_days is at most 3650 (ten years)".into(),
            ));
        }
        Ok(ReturnPolicy {
            window_days: self.returns.window_days,
            approval_over: limit.minor(),
        })
    }

    /// The configured reasons for a paid in, a paid out or a no-sale opening.
    pub fn movement_reasons(&self, kind: MovementKind) -> &[String] {
        match kind {
            MovementKind::PaidIn => &self.cash.paid_in_reasons,
            MovementKind::PaidOut => &self.cash.paid_out_reasons,
            MovementKind::NoSale => &self.cash.no_sale_reasons,
        }
    }

    /// The configured reason `typed` names: the whole reason, or any word of it (`safe`,
    /// `存入保险柜`), case-insensitively, or its number in the list from 1. Refused, with the
    /// list, when it names none or more than one.
    pub fn movement_reason(&self, kind: MovementKind, typed: &str) -> Result<String, String> {
        let reasons = self.movement_reasons(kind);
        let wanted = typed.trim().to_lowercase();
        let listed = || {
            reasons
                .iter()
                .enumerate()
                .map(|(i, r)| format!("{}. {r}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Ok(n) = wanted.parse::<usize>() {
            return n
                .checked_sub(1)
                .and_then(|i| reasons.get(i))
                .cloned()
                .ok_or_else(|| format!("there is no reason {n}; the reasons are {}", listed()));
        }
        let hits: Vec<&String> = reasons
            .iter()
            .filter(|r| {
                let lower = r.to_lowercase();
                !wanted.is_empty()
                    && (lower == wanted || lower.split_whitespace().any(|w| w == wanted))
            })
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(format!(
                "{typed:?} is not one of the configured reasons: {}",
                listed()
            )),
            _ => Err(format!(
                "{typed:?} names more than one reason: {}",
                listed()
            )),
        }
    }
}
