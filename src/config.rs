//! The terminal's TOML configuration: identity, currency, tax, rounding, approvals, scanning.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use ops::{CashSection, ReturnsSection, ShiftSection};

use till_domain::scan::{ScanConfig, is_valid_site_id};
use till_domain::shift::MovementKind;
use till_domain::ticket::{CashRounding, CashRoundingMode};
use till_domain::weighed::WeighedLayout;
use till_domain::{Currency, SyncWindow, TaxMode, TaxRate};

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
    #[serde(default)]
    pub store_address: String,
    #[serde(default)]
    pub tax_id: String,
    /// ISO 4217, e.g. `CNY`; parsed when the file is read.
    pub currency: Currency,
    pub tax_mode: TaxMode,
    /// Tax class name → rate in basis points.
    pub tax_classes: BTreeMap<String, u32>,
    #[serde(default)]
    pub cash_rounding: Option<CashRoundingConfig>,
    #[serde(default)]
    pub approval: ApprovalConfig,
    #[serde(default)]
    pub scan: ScanSection,
    /// The receipt printer; none means receipts are not printed.
    #[serde(default)]
    pub printer: Option<PrinterConfig>,
    /// When the till syncs with HQ by itself, local time, e.g. `02:00-05:00`.
    #[serde(default = "default_sync_window")]
    pub sync_window: SyncWindow,
    /// Serial barcode scanners; keyboard-wedge scanners need no entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scanners: Vec<ScannerSection>,
    /// The touchscreen.
    #[serde(default)]
    pub ui: UiSection,
    /// Member capture: consent and the claim page.
    #[serde(default)]
    pub member: MemberSection,
    /// The drawer: the notes and coins counted at a shift's opening and close, and the
    /// reasons for paid in, paid out and no-sale openings.
    #[serde(default)]
    pub cash: CashSection,
    /// Shifts.
    #[serde(default)]
    pub shift: ShiftSection,
    /// Returns: the window and the limit past which a manager approves.
    #[serde(default)]
    pub returns: ReturnsSection,
    /// What cashiers and supervisors may do; a manager may do everything.
    #[serde(default)]
    pub roles: crate::roles::Roles,
}

/// Member capture settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemberSection {
    /// HQ's public address; anonymous receipts carry `<public_url>/c/<claim token>` as a QR code.
    pub public_url: String,
    /// No longer used: the points rule is the chain's, published by HQ (`till-hq loyalty set`)
    /// and pulled with the catalog. Still read, so that older config files load; `till` warns
    /// that it is ignored.
    #[serde(skip_serializing)]
    pub points_per_yuan: Option<u32>,
    /// The consent text a customer accepts to enroll, and its version, recorded with them.
    pub consent_version: String,
    pub consent_zh: String,
    pub consent_en: String,
    /// Accept version-1 member codes (`TM1`, made with the chain's shared key) as well as
    /// `TM2`, while a chain moves its member apps over. Off by default: a new chain refuses
    /// them, with the reason.
    pub accept_tm1: bool,
}

impl Default for MemberSection {
    fn default() -> Self {
        MemberSection {
            public_url: "https://hq.example.com".into(),
            points_per_yuan: None,
            consent_version: "2026-11".into(),
            consent_zh: "我同意成为会员，并同意门店按照隐私政策处理我的手机号和消费记录，用于积分和会员服务。".into(),
            consent_en: "I agree to become a member and to the store processing my phone number and purchases under its privacy policy, for points and member services.".into(),
            accept_tm1: false,
        }
    }
}

/// The touchscreen's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    /// `zh_CN` or `en`; the back office switches it for the session.
    pub language: Lang,
    /// Codes (barcodes or internal codes) of the products on the quick-key grid, for items
    /// without a barcode, in screen order. At most 12.
    pub quick_keys: Vec<String>,
    /// The customer-facing display: `off`, `window`, or `second-monitor` (full screen on the
    /// monitor to the right of the till's).
    pub customer_display: CustomerDisplay,
    /// Open the till's window full screen (a kiosk); `till ui --fullscreen` does the same.
    pub fullscreen: bool,
    /// The till's window size, e.g. `"800x480"` for a 7" screen; `till ui --size` overrides it.
    pub size: Option<WindowSize>,
}

/// A window size in logical pixels, written `WIDTHxHEIGHT` (`800x480`). The touchscreen needs
/// at least 800×480; more than 7680×4320 is a typo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WindowSize {
    pub width: u32,
    pub height: u32,
}

impl std::str::FromStr for WindowSize {
    type Err = String;

    fn from_str(text: &str) -> Result<WindowSize, String> {
        let (width, height) = text
            .trim()
            .split_once(['x', 'X', '×'])
            .ok_or_else(|| format!("window size {text:?} is not WIDTHxHEIGHT, e.g. 800x480"))?;
        let number = |part: &str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| format!("window size {text:?} is not WIDTHxHEIGHT, e.g. 800x480"))
        };
        let size = WindowSize {
            width: number(width)?,
            height: number(height)?,
        };
        if size.width < 800 || size.height < 480 {
            return Err(format!(
                "window size {text:?} is smaller than the 800x480 the touchscreen needs"
            ));
        }
        if size.width > 7680 || size.height > 4320 {
            return Err(format!("window size {text:?} is larger than any screen"));
        }
        Ok(size)
    }
}

impl TryFrom<String> for WindowSize {
    type Error = String;
    fn try_from(text: String) -> Result<WindowSize, String> {
        text.parse()
    }
}

impl From<WindowSize> for String {
    fn from(size: WindowSize) -> String {
        format!("{}x{}", size.width, size.height)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustomerDisplay {
    #[default]
    Off,
    Window,
    SecondMonitor,
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection {
            language: Lang::Zh,
            quick_keys: Vec::new(),
            customer_display: CustomerDisplay::Off,
            fullscreen: false,
            size: None,
        }
    }
}

/// The touchscreen's language (the cashier's), written `zh_CN` (also `zh`) or `en` in
/// `config.toml`; `ui::text` words every message in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Lang {
    Zh,
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;

    /// `zh_CN` (or `zh`) and `en`, as `config.toml` and the back office's buttons write them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "zh_CN" | "zh" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            _ => Err(format!("ui.language {text:?} is not one of zh_CN, en")),
        }
    }
}

impl TryFrom<String> for Lang {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Lang> for String {
    fn from(language: Lang) -> String {
        match language {
            Lang::Zh => "zh_CN".into(),
            Lang::En => "en".into(),
        }
    }
}

/// How many quick keys fit on the sale screen's grid.
pub const MAX_QUICK_KEYS: usize = 12;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerSection {
    pub name: String,
    /// e.g. `/dev/ttyACM0`, or better a stable `/dev/serial/by-id/…` link.
    pub port: String,
    #[serde(default = "default_baud")]
    pub baud: u32,
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    #[serde(default = "default_parity")]
    pub parity: String,
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    /// `cr`, `lf` or `crlf`: what ends each code.
    #[serde(default = "default_framing")]
    pub framing: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    #[serde(default = "default_max_len")]
    pub max_len: usize,
}

fn default_sync_window() -> SyncWindow {
    SyncWindow::DEFAULT
}

fn default_data_bits() -> u8 {
    8
}
fn default_parity() -> String {
    "none".into()
}
fn default_stop_bits() -> u8 {
    1
}
fn default_framing() -> String {
    "cr".into()
}
fn default_max_len() -> usize {
    256
}

impl ScannerSection {
    /// A scanner on `port` with the usual settings: 9600 8N1, codes ending in CR.
    pub fn new(name: &str, port: &str) -> ScannerSection {
        ScannerSection {
            name: name.to_string(),
            port: port.to_string(),
            baud: default_baud(),
            data_bits: default_data_bits(),
            parity: default_parity(),
            stop_bits: default_stop_bits(),
            framing: default_framing(),
            prefix: String::new(),
            suffix: String::new(),
            max_len: default_max_len(),
        }
    }

    pub fn driver_config(&self) -> Result<till_drivers::scanner::ScannerConfig, ConfigError> {
        use till_drivers::scanner::{Framing, ScannerConfig};
        let invalid = |m: String| {
            Err(ConfigError::Invalid(format!(
                "scanner {:?}: {m}",
                self.name
            )))
        };
        if !STANDARD_BAUD_RATES.contains(&self.baud) {
            return invalid(format!(
                "baud rate {} is not a standard rate ({})",
                self.baud,
                STANDARD_BAUD_RATES.map(|b| b.to_string()).join(", ")
            ));
        }
        if !matches!(self.data_bits, 7 | 8) {
            return invalid(format!("data bits must be 7 or 8, not {}", self.data_bits));
        }
        if !matches!(self.parity.as_str(), "none" | "odd" | "even") {
            return invalid(format!(
                "parity must be none, odd or even, not {:?}",
                self.parity
            ));
        }
        if !matches!(self.stop_bits, 1 | 2) {
            return invalid(format!("stop bits must be 1 or 2, not {}", self.stop_bits));
        }
        let framing = match self.framing.to_ascii_lowercase().as_str() {
            "cr" => Framing::Cr,
            "lf" => Framing::Lf,
            "crlf" => Framing::CrLf,
            other => return invalid(format!("framing must be cr, lf or crlf, not {other:?}")),
        };
        if !(8..=4096).contains(&self.max_len) {
            return invalid(format!(
                "max_len {} is out of range (8 to 4096)",
                self.max_len
            ));
        }
        if self.port.trim().is_empty() {
            return invalid("port is empty".into());
        }
        Ok(ScannerConfig {
            name: self.name.clone(),
            port: self.port.clone(),
            baud: self.baud,
            data_bits: self.data_bits,
            parity: self.parity.clone(),
            stop_bits: self.stop_bits,
            framing,
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
            max_len: self.max_len,
        })
    }
}

/// Baud rates serial scanners and printers use; anything else is a typo.
pub const STANDARD_BAUD_RATES: [u32; 8] = [1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// `tcp:HOST:PORT`, `usb:/dev/usb/lp0`, `serial:/dev/ttyUSB0` or `file:PATH`.
    pub address: String,
    /// Serial printers only.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// 32 for 58 mm paper, 48 for 80 mm.
    #[serde(default = "default_columns")]
    pub columns: usize,
    /// `gb18030` (Chinese printers) or `cp1252` (Western code page).
    #[serde(default = "default_encoding")]
    pub encoding: String,
    #[serde(default)]
    pub language: crate::receipt::Language,
}

fn default_baud() -> u32 {
    9600
}
fn default_columns() -> usize {
    48
}
fn default_encoding() -> String {
    "gb18030".into()
}

impl PrinterConfig {
    pub fn address(&self) -> Result<till_drivers::printer::PrinterAddress, ConfigError> {
        till_drivers::printer::PrinterAddress::parse(&self.address, self.baud)
            .map_err(|m| ConfigError::Invalid(format!("printer address {:?}: {m}", self.address)))
    }

    pub fn settings(&self) -> Result<till_drivers::escpos::PrintSettings, ConfigError> {
        use till_drivers::escpos::{PrintSettings, TextEncoding};
        let encoding = match self.encoding.to_ascii_lowercase().as_str() {
            "gb18030" => TextEncoding::Gb18030,
            "cp1252" | "windows-1252" => TextEncoding::WESTERN,
            other => {
                return Err(ConfigError::Invalid(format!(
                    "printer encoding {other:?}: use gb18030 or cp1252"
                )));
            }
        };
        if !(24..=64).contains(&self.columns) {
            return Err(ConfigError::Invalid(format!(
                "printer columns {} is out of range (32 for 58 mm, 48 for 80 mm)",
                self.columns
            )));
        }
        Ok(PrintSettings {
            columns: self.columns,
            encoding,
        })
    }
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
    /// Cancelling a whole ticket (with lines) needs a manager.
    pub cancel_ticket: bool,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            max_discount_bp: 1000,
            price_override: true,
            void_after_payment: true,
            cancel_ticket: false,
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
    /// This till's part of the nightly sync window: its own start, stable night after night,
    /// derived from its store and terminal IDs ([`SyncWindow::staggered`]), so a chain's
    /// tills do not all reach HQ in the window's first minute.
    pub fn nightly_sync_window(&self) -> SyncWindow {
        self.sync_window
            .staggered(&format!("{}/{}", self.store_id, self.terminal_id))
    }

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
            store_address: String::new(),
            tax_id: String::new(),
            currency,
            tax_mode,
            tax_classes,
            cash_rounding: None,
            approval: ApprovalConfig::default(),
            scan: ScanSection::default(),
            printer: None,
            sync_window: default_sync_window(),
            scanners: Vec::new(),
            ui: UiSection::default(),
            member: MemberSection::default(),
            cash: CashSection::default(),
            shift: ShiftSection::default(),
            returns: ReturnsSection::default(),
            roles: crate::roles::Roles::default(),
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
        if !self.member.public_url.starts_with("https://")
            && !self.member.public_url.starts_with("http://")
        {
            return invalid(format!(
                "member.public_url {:?} must start with https:// or http://",
                self.member.public_url
            ));
        }
        if self.member.consent_version.trim().is_empty() {
            return invalid("member.consent_version cannot be empty".into());
        }
        if self.ui.quick_keys.len() > MAX_QUICK_KEYS {
            return invalid(format!(
                "ui.quick_keys has {} codes; the grid holds {MAX_QUICK_KEYS}",
                self.ui.quick_keys.len()
            ));
        }
        self.denominations()?;
        self.return_policy()?;
        for kind in MovementKind::ALL {
            let reasons = self.movement_reasons(kind);
            if reasons.is_empty() || reasons.iter().any(|r| r.trim().is_empty()) {
                return invalid(format!(
                    "cash.{}_reasons needs at least one reason, none of them blank",
                    kind.as_str()
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for scanner in &self.scanners {
            scanner.driver_config()?;
            if !names.insert(&scanner.name) {
                return invalid(format!("two scanners are named {:?}", scanner.name));
            }
        }
        if let Some(printer) = &self.printer {
            printer.address()?;
            printer.settings()?;
            if !STANDARD_BAUD_RATES.contains(&printer.baud) {
                return invalid(format!(
                    "printer baud rate {} is not a standard rate ({})",
                    printer.baud,
                    STANDARD_BAUD_RATES.map(|b| b.to_string()).join(", ")
                ));
            }
        }
        Ok(())
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

mod ops;
#[cfg(test)]
mod tests;
