//! The terminal's TOML configuration: identity, currency, tax, rounding, approvals, scanning.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::domain::scan::{ScanConfig, is_valid_site_id};
use crate::domain::ticket::{CashRounding, CashRoundingMode};
use crate::domain::weighed::WeighedLayout;
use crate::domain::{Currency, TaxMode, TaxRate};

pub const CONFIG_FILE: &str = "config.toml";
pub const DATABASE_FILE: &str = "till.db";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid config: {message}")]
    Parse { path: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub store_id: String,
    pub terminal_id: String,
    #[serde(default)]
    pub store_name: String,
    pub currency: String,
    pub tax_mode: TaxMode,
    /// Tax class name → rate in basis points.
    pub tax_classes: BTreeMap<String, u32>,
    #[serde(default)]
    pub cash_rounding: Option<CashRoundingConfig>,
    #[serde(default)]
    pub approval: ApprovalConfig,
    #[serde(default)]
    pub scan: ScanSection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashRoundingConfig {
    /// The smallest cash amount in minor units: 10 is ￥0.10.
    pub increment: i64,
    pub mode: CashRoundingMode,
}

/// When a manager's PIN is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalConfig {
    /// Discounts above this share of the amount (basis points; 1000 = 10 %) need a manager.
    pub max_discount_bp: u32,
    pub price_override: bool,
    pub void_after_payment: bool,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            max_discount_bp: 1000,
            price_override: true,
            void_after_payment: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSection {
    pub member_card_prefix: Option<String>,
    pub weighed_layouts: Vec<WeighedLayout>,
}

impl Default for ScanSection {
    fn default() -> Self {
        ScanSection {
            member_card_prefix: None,
            weighed_layouts: WeighedLayout::defaults(),
        }
    }
}

impl Config {
    /// A new terminal's config with the chain's usual defaults. China's VAT classes are the
    /// default set: 13 % standard, 9 % food and books, 6 % services, 0 % exempt.
    pub fn new(store_id: &str, terminal_id: &str, currency: Currency, tax_mode: TaxMode) -> Self {
        let tax_classes = [
            ("standard", 1300),
            ("food", 900),
            ("services", 600),
            ("zero", 0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Config {
            store_id: store_id.to_string(),
            terminal_id: terminal_id.to_string(),
            store_name: String::new(),
            currency: currency.code().to_string(),
            tax_mode,
            tax_classes,
            cash_rounding: None,
            approval: ApprovalConfig::default(),
            scan: ScanSection::default(),
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.message().to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !is_valid_site_id(&self.store_id) {
            return invalid(format!(
                "store id {:?} must be 1–16 letters or digits",
                self.store_id
            ));
        }
        if !is_valid_site_id(&self.terminal_id) {
            return invalid(format!(
                "terminal id {:?} must be 1–16 letters or digits",
                self.terminal_id
            ));
        }
        self.currency()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.tax_classes.is_empty() {
            return invalid("at least one tax class is needed".into());
        }
        for (name, bp) in &self.tax_classes {
            if TaxRate::from_basis_points(*bp).is_none() {
                return invalid(format!("tax class {name}: rate {bp} bp is over 100 %"));
            }
        }
        if let Some(r) = self.cash_rounding
            && !(1..=100_000).contains(&r.increment)
        {
            return invalid(format!(
                "cash rounding increment {} is out of range",
                r.increment
            ));
        }
        if self.approval.max_discount_bp > 10_000 {
            return invalid("approval.max_discount_bp is at most 10000 (100 %)".into());
        }
        let mut prefixes = std::collections::BTreeSet::new();
        for layout in &self.scan.weighed_layouts {
            layout
                .validate()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            if !prefixes.insert(layout.prefix) {
                return invalid(format!("two weighed layouts for prefix {}", layout.prefix));
            }
        }
        Ok(())
    }

    pub fn currency(&self) -> Result<Currency, crate::domain::money::MoneyError> {
        self.currency.parse()
    }

    pub fn tax_rate(&self, class: &str) -> Option<TaxRate> {
        self.tax_classes
            .get(class)
            .and_then(|bp| TaxRate::from_basis_points(*bp))
    }

    pub fn cash_rounding(&self) -> Option<CashRounding> {
        self.cash_rounding.map(|r| CashRounding {
            increment: r.increment,
            mode: r.mode,
        })
    }

    pub fn scan_config(&self) -> ScanConfig {
        ScanConfig {
            member_card_prefix: self.scan.member_card_prefix.clone(),
            weighed_layouts: self.scan.weighed_layouts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_round_trips_through_toml() {
        let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
        let text = config.to_toml();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        back.validate().unwrap();
    }

    #[test]
    fn invalid_values_are_named() {
        let mut c = Config::new("S-001", "T01", Currency::CNY, TaxMode::Inclusive);
        assert!(c.validate().unwrap_err().to_string().contains("store id"));
        c.store_id = "S001".into();
        c.tax_classes.insert("luxury".into(), 20_000);
        assert!(c.validate().unwrap_err().to_string().contains("luxury"));
    }
}
