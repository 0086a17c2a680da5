//! GS1 trade item numbers (GTIN-8, UPC-A, UPC-E, EAN-13, GTIN-14) with check digits.
//!
//! Every GTIN is normalised to its 14-digit form, so `036000291452` (UPC-A) and
//! `0036000291452` (EAN-13) are the same product in the catalog. UPC-E is expanded to UPC-A.
//!
//! An 8-digit code is ambiguous between GTIN-8 and UPC-E. GS1 reserves GTIN-8 numbers that
//! start with `0` for restricted circulation, so an 8-digit code starting with `0` is read as
//! UPC-E when its check digit is valid as UPC-E, and as GTIN-8 otherwise. Codes starting with
//! `1` are read as GTIN-8 first, then UPC-E (number system 1).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GtinFormat {
    Gtin8,
    UpcA,
    UpcE,
    Ean13,
    Gtin14,
}

impl fmt::Display for GtinFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GtinFormat::Gtin8 => "GTIN-8",
            GtinFormat::UpcA => "UPC-A",
            GtinFormat::UpcE => "UPC-E",
            GtinFormat::Ean13 => "EAN-13",
            GtinFormat::Gtin14 => "GTIN-14",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("a GTIN has only digits")]
    NotDigits,
    #[error("a GTIN has 8, 12, 13 or 14 digits, not {0}")]
    WrongLength(usize),
    #[error("wrong check digit: expected {expected}, found {found}")]
    BadCheckDigit { expected: u8, found: u8 },
}

/// A validated GTIN in normalised 14-digit form, remembering the format it was scanned in.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gtin {
    digits: [u8; 14],
    format: GtinFormat,
}

impl fmt::Debug for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gtin({} {})", self.format, self.as_str())
    }
}

impl Gtin {
    pub fn parse(code: &str) -> Result<Gtin, GtinError> {
        let bytes = code.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) || bytes.is_empty() {
            return Err(GtinError::NotDigits);
        }
        match bytes.len() {
            8 => Self::parse_eight(bytes),
            12 => Self::from_full(bytes, GtinFormat::UpcA),
            13 => Self::from_full(bytes, GtinFormat::Ean13),
            14 => Self::from_full(bytes, GtinFormat::Gtin14),
            n => Err(GtinError::WrongLength(n)),
        }
    }

    fn parse_eight(bytes: &[u8]) -> Result<Gtin, GtinError> {
        let as_gtin8 = || Self::from_full(bytes, GtinFormat::Gtin8);
        let as_upce = || {
            let upca = expand_upc_e(bytes).ok_or(GtinError::NotDigits)?;
            Self::from_full(&upca, GtinFormat::UpcE)
        };
        match bytes[0] {
            b'0' => as_upce().or_else(|_| as_gtin8()),
            b'1' => as_gtin8().or_else(|e| as_upce().map_err(|_| e)),
            _ => as_gtin8(),
        }
    }

    fn from_full(bytes: &[u8], format: GtinFormat) -> Result<Gtin, GtinError> {
        let (body, check) = bytes.split_at(bytes.len() - 1);
        let expected = check_digit(body);
        let found = check[0] - b'0';
        if expected != found {
            return Err(GtinError::BadCheckDigit { expected, found });
        }
        let mut digits = [b'0'; 14];
        digits[14 - bytes.len()..].copy_from_slice(bytes);
        Ok(Gtin { digits, format })
    }

    /// The normalised 14-digit form used as the catalog key.
    pub fn as_str(&self) -> &str {
        // The digits are ASCII by construction.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    pub fn format(&self) -> GtinFormat {
        self.format
    }

    /// The shortest conventional form: 13 digits for EAN-13/UPC-A style numbers, 8 for GTIN-8.
    pub fn display_code(&self) -> &str {
        match self.format {
            GtinFormat::Gtin8 => &self.as_str()[6..],
            GtinFormat::UpcA | GtinFormat::UpcE => &self.as_str()[2..],
            GtinFormat::Ean13 => &self.as_str()[1..],
            GtinFormat::Gtin14 => self.as_str(),
        }
    }

    /// The 13 digits of an EAN-13 (or UPC-A, which is an EAN-13 with a leading zero).
    pub fn ean13_digits(&self) -> Option<&[u8]> {
        (self.digits[0] == b'0').then(|| &self.digits[1..])
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_code())
    }
}

/// A catalog key in the form people read and re-import unchanged: 8 digits for GTIN-8, 12 for
/// UPC-A, 13 for EAN-13, 14 for GTIN-14; internal codes as they are.
pub fn display_code(key: &str) -> &str {
    let gtin14 = key.len() == 14 && key.bytes().all(|b| b.is_ascii_digit());
    if !gtin14 {
        key
    } else if key.starts_with("000000") && !key[6..].starts_with('0') {
        &key[6..]
    } else if let Some(upc_a) = key.strip_prefix("00") {
        upc_a
    } else {
        key.strip_prefix('0').unwrap_or(key)
    }
}

/// The GS1 mod-10 check digit of `body` (ASCII digits, without the check digit): weights 3 and 1
/// alternate from the rightmost digit.
pub fn check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

/// Expands an 8-digit UPC-E (number system, six digits, check) into its 12-digit UPC-A.
fn expand_upc_e(code: &[u8]) -> Option<[u8; 12]> {
    if code.len() != 8 || !matches!(code[0], b'0' | b'1') {
        return None;
    }
    let d = &code[1..7];
    let (manufacturer, product): ([u8; 5], [u8; 5]) = match d[5] {
        b'0'..=b'2' => (
            [d[0], d[1], d[5], b'0', b'0'],
            [b'0', b'0', d[2], d[3], d[4]],
        ),
        b'3' => (
            [d[0], d[1], d[2], b'0', b'0'],
            [b'0', b'0', b'0', d[3], d[4]],
        ),
        b'4' => (
            [d[0], d[1], d[2], d[3], b'0'],
            [b'0', b'0', b'0', b'0', d[4]],
        ),
        _ => (
            [d[0], d[1], d[2], d[3], d[4]],
            [b'0', b'0', b'0', b'0', d[5]],
        ),
    };
    let mut upca = [0u8; 12];
    upca[0] = code[0];
    upca[1..6].copy_from_slice(&manufacturer);
    upca[6..11].copy_from_slice(&product);
    upca[11] = code[7];
    Some(upca)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(code: &str, expected: Result<(GtinFormat, &str), GtinError>) {
        let got = Gtin::parse(code).map(|g| (g.format(), g.as_str().to_string()));
        let expected = expected.map(|(f, s)| (f, s.to_string()));
        assert_eq!(got, expected, "parsing {code:?}");
    }

    #[test]
    fn parses_real_gs1_examples() {
        check("4006381333931", Ok((GtinFormat::Ean13, "04006381333931")));
        check("036000291452", Ok((GtinFormat::UpcA, "00036000291452")));
        check("73513537", Ok((GtinFormat::Gtin8, "00000073513537")));
        check("10012345678902", Ok((GtinFormat::Gtin14, "10012345678902")));
        check("6901028075831", Ok((GtinFormat::Ean13, "06901028075831")));
        // UPC-E 04252614 expands to UPC-A 042100005264.
        check("04252614", Ok((GtinFormat::UpcE, "00042100005264")));
        check(
            "4006381333932",
            Err(GtinError::BadCheckDigit {
                expected: 1,
                found: 2,
            }),
        );
        check(
            "400638133393",
            Err(GtinError::BadCheckDigit {
                expected: 0,
                found: 3,
            }),
        );
        check("12345", Err(GtinError::WrongLength(5)));
        check("40063813339a1", Err(GtinError::NotDigits));
        check("", Err(GtinError::NotDigits));
    }

    #[test]
    fn upc_a_and_ean13_forms_are_the_same_product() {
        let a = Gtin::parse("036000291452").unwrap();
        let e = Gtin::parse("0036000291452").unwrap();
        assert_eq!(a.as_str(), e.as_str());
        assert_eq!(a.display_code(), "036000291452");
    }

    #[test]
    fn upc_e_expansion_covers_every_last_digit_rule() {
        // Each pair: UPC-E body (without check) and the UPC-A body it expands to.
        for (upce, upca) in [
            ("0123450", "01200000345"),
            ("0123451", "01210000345"),
            ("0123452", "01220000345"),
            ("0123453", "01230000045"),
            ("0123454", "01234000005"),
            ("0123455", "01234500005"),
            ("0123459", "01234500009"),
        ] {
            let check = char::from(b'0' + check_digit(upca.as_bytes()));
            let code = format!("{upce}{check}");
            let gtin = Gtin::parse(&code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(gtin.format(), GtinFormat::UpcE, "{code}");
            assert_eq!(gtin.as_str(), format!("00{upca}{check}"), "{code}");
        }
    }
}
