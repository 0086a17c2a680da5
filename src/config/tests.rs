//! Tests of `config`.

use super::*;

#[test]
fn default_config_round_trips_through_toml() {
    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let text = config.to_toml();
    let back: Config = toml::from_str(&text).unwrap();
    assert_eq!(back, config);
    back.validate().unwrap();
    assert!(text.contains("currency = \"CNY\""), "{text}");
    assert!(text.contains("sync_window = \"02:00-05:00\""), "{text}");
    assert!(text.contains("language = \"zh_CN\""), "{text}");
}

#[test]
fn typed_values_are_parsed_once_when_the_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CONFIG_FILE);
    let base = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive).to_toml();
    let load = |from: &str, to: &str| {
        assert!(base.contains(from), "{from}");
        std::fs::write(&path, base.replace(from, to)).unwrap();
        Config::load(&path)
    };
    let config = load(
        "sync_window = \"02:00-05:00\"",
        "sync_window = \"22:00-02:00\"",
    )
    .unwrap();
    assert!(config.sync_window.contains(23, 0));
    let config = load("language = \"zh_CN\"", "language = \"en\"").unwrap();
    assert_eq!(config.ui.language, Lang::En);
    let config = load("currency = \"CNY\"", "currency = \"JPY\"").unwrap();
    assert_eq!(config.currency, Currency::JPY);
    for (from, to, message) in [
        (
            "currency = \"CNY\"",
            "currency = \"XYZ\"",
            "unknown currency \"XYZ\"",
        ),
        (
            "sync_window = \"02:00-05:00\"",
            "sync_window = \"2-5\"",
            "must look like 02:00-05:00",
        ),
        (
            "language = \"zh_CN\"",
            "language = \"fr\"",
            "ui.language \"fr\" is not one of zh_CN, en",
        ),
    ] {
        let error = load(from, to).unwrap_err().to_string();
        assert!(error.contains(message), "{to}: {error}");
    }
}

#[test]
fn window_sizes_parse_or_say_why_not() {
    fn check(text: &str, expected: Result<(u32, u32), &str>) {
        let got = text.parse::<WindowSize>().map(|s| (s.width, s.height));
        match (got, expected) {
            (Ok(size), Ok(want)) => assert_eq!(size, want, "{text}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{text}: {e}"),
            (got, want) => panic!("{text}: {got:?}, expected {want:?}"),
        }
    }
    check("800x480", Ok((800, 480)));
    check(" 1024X768 ", Ok((1024, 768)));
    check("1920×1080", Ok((1920, 1080)));
    check("640x480", Err("smaller than the 800x480"));
    check("800x0", Err("smaller"));
    check("800*480", Err("not WIDTHxHEIGHT"));
    check("800x", Err("not WIDTHxHEIGHT"));
    check("-800x480", Err("not WIDTHxHEIGHT"));
    check("99999x480", Err("larger than any screen"));
    // In config.toml: a bad size is refused when the config is read.
    let mut config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    config.ui.size = Some("800x480".parse().unwrap());
    config.ui.fullscreen = true;
    let back: Config = toml::from_str(&config.to_toml()).unwrap();
    assert_eq!(back.ui, config.ui);
    let bad = config.to_toml().replace("\"800x480\"", "\"800x48\"");
    let error = toml::from_str::<Config>(&bad).unwrap_err().to_string();
    assert!(error.contains("smaller than the 800x480"), "{error}");
}

#[test]
fn invalid_values_are_named() {
    let mut c = Config::new("S-001", "T01", Currency::CNY, TaxMode::Inclusive);
    assert!(c.validate().unwrap_err().to_string().contains("store id"));
    c.store_id = "S001".into();
    c.tax_classes.insert("luxury".into(), 20_000);
    assert!(c.validate().unwrap_err().to_string().contains("luxury"));
}

#[test]
fn printer_settings_are_checked() {
    let mut c = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let printer = |address: &str, baud: u32, encoding: &str| PrinterConfig {
        address: address.into(),
        baud,
        columns: 48,
        encoding: encoding.into(),
        language: Default::default(),
    };
    for (p, message) in [
        (
            printer("serial:/dev/ttyUSB0", 9601, "gb18030"),
            "baud rate 9601 is not a standard rate",
        ),
        (printer("tcp:192.0.2.1", 9600, "gb18030"), "needs HOST:PORT"),
        (
            printer("bluetooth:printer", 9600, "gb18030"),
            "unknown kind",
        ),
        (printer("file:", 9600, "gb18030"), "empty"),
        (
            printer("tcp:127.0.0.1:9100", 9600, "utf-16"),
            "use gb18030 or cp1252",
        ),
    ] {
        c.printer = Some(p);
        let error = c.validate().unwrap_err().to_string();
        assert!(error.contains(message), "{error}");
    }
    c.printer = Some(printer("usb:/dev/usb/lp0", 115_200, "cp1252"));
    c.validate().unwrap();
}

#[test]
fn scanner_settings_are_checked() {
    let mut c = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let base: ScannerSection =
        toml::from_str("name = \"handheld\"\nport = \"/dev/ttyACM0\"").unwrap();
    c.scanners = vec![base.clone()];
    c.validate().unwrap();
    for (scanner, message) in [
        (
            ScannerSection {
                baud: 14_400,
                ..base.clone()
            },
            "baud rate 14400 is not a standard rate",
        ),
        (
            ScannerSection {
                data_bits: 6,
                ..base.clone()
            },
            "data bits must be 7 or 8",
        ),
        (
            ScannerSection {
                parity: "mark".into(),
                ..base.clone()
            },
            "parity must be none, odd or even",
        ),
        (
            ScannerSection {
                stop_bits: 3,
                ..base.clone()
            },
            "stop bits must be 1 or 2",
        ),
        (
            ScannerSection {
                framing: "tab".into(),
                ..base.clone()
            },
            "framing must be cr, lf or crlf",
        ),
        (
            ScannerSection {
                max_len: 2,
                ..base.clone()
            },
            "max_len 2 is out of range",
        ),
    ] {
        c.scanners = vec![scanner];
        let error = c.validate().unwrap_err().to_string();
        assert!(
            error.contains(message) && error.contains("handheld"),
            "{error}"
        );
    }
    c.scanners = vec![base.clone(), base];
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("two scanners are named")
    );
}

#[test]
fn the_drawer_takes_the_currency_s_notes_and_coins_unless_listed() {
    let mut config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    assert_eq!(
        config.denominations().unwrap().values(),
        &[10000, 5000, 2000, 1000, 500, 100, 50, 10]
    );
    config.cash.denominations = vec!["100".into(), "0.5".into(), "2".into()];
    assert_eq!(config.denominations().unwrap().values(), &[10000, 200, 50]);
    let check = |denominations: &[&str], message: &str| {
        let mut config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
        config.cash.denominations = denominations.iter().map(|d| d.to_string()).collect();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains(message), "{denominations:?}: {error}");
    };
    check(&["100", "abc"], "\"abc\" is not an amount");
    check(&["100", "0.005"], "more than 2 decimal places");
    check(&["100", "-5"], "\"-5\" is not a positive amount");
    check(&["100", "0"], "\"0\" is not a positive amount");
    check(&["100", "100.00"], "\"100.00\" is listed twice");
}

#[test]
fn a_reason_is_named_whole_by_a_word_or_by_its_number() {
    let mut config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    config.cash.paid_out_reasons = vec![
        "存入保险柜 safe drop".into(),
        "供应商付款 supplier".into(),
        "other drop".into(),
    ];
    let check = |typed: &str, expected: Result<&str, &str>| {
        let got = config.movement_reason(MovementKind::PaidOut, typed);
        match (&got, expected) {
            (Ok(reason), Ok(want)) => assert_eq!(reason, want, "{typed:?}"),
            (Err(error), Err(message)) => {
                assert!(error.contains(message), "{typed:?}: {error}")
            }
            _ => panic!("{typed:?}: {got:?}"),
        }
    };
    check("Supplier", Ok("供应商付款 supplier"));
    check("存入保险柜", Ok("存入保险柜 safe drop"));
    check(" 2 ", Ok("供应商付款 supplier"));
    check("供应商付款 supplier", Ok("供应商付款 supplier"));
    check("drop", Err("names more than one reason"));
    check(
        "sup",
        Err("is not one of the configured reasons: 1. 存入保险柜 safe drop"),
    );
    check("", Err("is not one of the configured reasons"));
    check("0", Err("there is no reason 0"));
    check("4", Err("there is no reason 4"));
    let mut empty = config.clone();
    empty.cash.no_sale_reasons.clear();
    assert!(
        empty
            .validate()
            .unwrap_err()
            .to_string()
            .contains("cash.no_sale_reasons needs at least one reason")
    );
}
