//! Money as integer minor units (fen, cents) tagged with its currency, and the one rounding rule.
//!
//! Rounding rule, used everywhere Till divides money: **round half up, away from zero**.
//! A result exactly halfway between two minor units goes to the one further from zero
//! (`0.5 fen → 1 fen`, `-0.5 fen → -1 fen`). Every division in the domain goes through
//! [`div_round_half_up`] so the rule is written down once.

use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency with the number of minor-unit digits Till needs to format it. In
/// files (config, TOML) it is its code, `"CNY"`; an unknown code does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    pub const CNY: Currency = Currency::new_const(*b"CNY", 2);
    pub const USD: Currency = Currency::new_const(*b"USD", 2);
    pub const EUR: Currency = Currency::new_const(*b"EUR", 2);
    pub const HKD: Currency = Currency::new_const(*b"HKD", 2);
    pub const JPY: Currency = Currency::new_const(*b"JPY", 0);

    const KNOWN: [Currency; 5] = [
        Currency::CNY,
        Currency::USD,
        Currency::EUR,
        Currency::HKD,
        Currency::JPY,
    ];

    const fn new_const(code: [u8; 3], exponent: u8) -> Currency {
        Currency { code, exponent }
    }

    /// The three-letter code, for example `CNY`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits after the decimal point: 2 for CNY, 0 for JPY.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Minor units in one major unit: 100 for CNY.
    pub fn minor_per_major(&self) -> i64 {
        10_i64.pow(u32::from(self.exponent))
    }

    /// The symbol cashiers expect. CNY uses the full-width yen sign, which Chinese receipt
    /// printers render correctly, unlike the half-width one.
    pub fn symbol(&self) -> &'static str {
        match &self.code {
            b"CNY" => "￥",
            b"USD" | b"HKD" => "$",
            b"EUR" => "€",
            b"JPY" => "¥",
            _ => "",
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        Currency::KNOWN
            .iter()
            .copied()
            .find(|c| c.code() == upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(s.to_string()))
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.code().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("{0:?} is not an amount")]
    NotAnAmount(String),
    #[error("{input:?} has more than {exponent} decimal places")]
    TooManyDecimals { input: String, exponent: u8 },
    #[error("amount {0:?} is too large")]
    TooLarge(String),
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An amount of money in integer minor units. It has no floats anywhere, so sums are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// Parses a decimal amount in major units ("12.5", "12.50", "-3") exactly, with no floats.
    pub fn parse(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let s = input.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && frac.is_empty()
            || !all_digits(whole)
            || !all_digits(frac)
            || (digits.contains('.') && frac.is_empty())
        {
            return Err(MoneyError::NotAnAmount(input.to_string()));
        }
        if frac.len() > usize::from(currency.exponent) {
            return Err(MoneyError::TooManyDecimals {
                input: input.to_string(),
                exponent: currency.exponent,
            });
        }
        let too_large = || MoneyError::TooLarge(input.to_string());
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut frac_minor: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| too_large())?
        };
        for _ in frac.len()..usize::from(currency.exponent) {
            frac_minor *= 10;
        }
        let minor = whole
            .checked_mul(currency.minor_per_major())
            .and_then(|m| m.checked_add(frac_minor))
            .ok_or_else(too_large)?;
        Ok(Money::new(if negative { -minor } else { minor }, currency))
    }

    /// The amount as a plain decimal without symbol: `12.50`, `-0.05`.
    pub fn to_decimal_string(&self) -> String {
        let exp = u32::from(self.currency.exponent);
        if exp == 0 {
            return self.minor.to_string();
        }
        let per = self.currency.minor_per_major().unsigned_abs();
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        format!(
            "{sign}{}.{:0width$}",
            abs / per,
            abs % per,
            width = exp as usize
        )
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(Money::new(self.minor + other.minor, self.currency))
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl fmt::Display for Money {
    /// Formats with the currency symbol: `￥12.50`, `-￥0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_decimal_string();
        match text.strip_prefix('-') {
            Some(abs) => write!(f, "-{}{abs}", self.currency.symbol()),
            None => write!(f, "{}{text}", self.currency.symbol()),
        }
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    /// Adds two amounts. Mixing currencies is a programming error inside one ticket, which
    /// carries exactly one currency, so it panics rather than silently converting.
    fn add(self, rhs: Money) -> Money {
        assert_eq!(self.currency, rhs.currency, "currency mismatch");
        Money::new(self.minor + rhs.minor, self.currency)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        assert_eq!(self.currency, rhs.currency, "currency mismatch");
        Money::new(self.minor - rhs.minor, self.currency)
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money::new(-self.minor, self.currency)
    }
}

/// `numerator / denominator`, rounded half up (away from zero). `denominator` must be positive.
/// Works in i128 so that `price × quantity × rate` never overflows for any realistic ticket.
pub fn div_round_half_up(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// Narrows an i128 intermediate back to minor units; amounts beyond i64 cannot come from a
/// real ticket, so saturating keeps the arithmetic total without a panic path.
pub(crate) fn to_minor(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<i64, ()>) {
        let got = Money::parse(input, Currency::CNY)
            .map(|m| m.minor())
            .map_err(|_| ());
        assert_eq!(got, expected, "parsing {input:?}");
    }

    #[test]
    fn parses_decimal_amounts_exactly() {
        check("12.50", Ok(1250));
        check("12.5", Ok(1250));
        check("12", Ok(1200));
        check("0.01", Ok(1));
        check(".5", Ok(50));
        check("-3.20", Ok(-320));
        check(" 7.00 ", Ok(700));
        check("12.", Err(()));
        check("12.505", Err(()));
        check("1,000", Err(()));
        check("abc", Err(()));
        check("", Err(()));
        check("1e3", Err(()));
        check("99999999999999999999", Err(()));
    }

    #[test]
    fn formats_with_symbol_and_sign() {
        assert_eq!(Money::new(1250, Currency::CNY).to_string(), "￥12.50");
        assert_eq!(Money::new(-5, Currency::CNY).to_string(), "-￥0.05");
        assert_eq!(Money::new(0, Currency::USD).to_string(), "$0.00");
        assert_eq!(Money::new(500, Currency::JPY).to_string(), "¥500");
    }

    #[test]
    fn rounds_half_up_away_from_zero() {
        assert_eq!(div_round_half_up(5, 10), 1);
        assert_eq!(div_round_half_up(4, 10), 0);
        assert_eq!(div_round_half_up(15, 10), 2);
        assert_eq!(div_round_half_up(-5, 10), -1);
        assert_eq!(div_round_half_up(-4, 10), 0);
        assert_eq!(div_round_half_up(0, 7), 0);
    }

    #[test]
    fn currency_parses_known_codes_only() {
        assert_eq!("cny".parse::<Currency>(), Ok(Currency::CNY));
        assert!("XXX".parse::<Currency>().is_err());
    }
}
