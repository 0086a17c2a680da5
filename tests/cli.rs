//! End-to-end tests of the real `till` binary: set-up, catalog, selling, journal, crashes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use till::demo::sample_ean13;

#[path = "cli/layers.rs"]
mod layers;
#[path = "cli/returns.rs"]
mod returns;
#[path = "cli/shifts.rs"]
mod shifts;

/// A terminal in its own temporary data dir, driven through the `till` binary.
struct Till {
    dir: tempfile::TempDir,
}

impl Till {
    fn new() -> Till {
        Till {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A terminal set up as S001/T01 with the demo's 300-product sample catalog.
    fn with_catalog() -> Till {
        let till = Till::new();
        till.init(&["--store-id", "S001", "--terminal-id", "T01"]);
        let csv = till.dir.path().join("sample.csv");
        std::fs::write(&csv, till::demo::sample_catalog_csv()).unwrap();
        till.ok(&["catalog", "import", csv.to_str().unwrap()]);
        till
    }

    fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.data_dir().join("till.db")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_till"));
        cmd.arg("--data-dir").arg(self.data_dir()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("till runs")
    }

    /// Runs `till`, expecting success, and returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "till {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `till init ARGS`, for the tests of anything but shifts: the terminal then sells without
    /// an open shift (`[shift] required = false`). `cli/shifts.rs` runs the default, which
    /// refuses a sale outside a shift.
    fn init(&self, args: &[&str]) -> String {
        let out = self.ok(&[&["init"], args].concat());
        let path = self.data_dir().join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let (required, not) = ("[shift]\nrequired = true", "[shift]\nrequired = false");
        assert!(
            text.contains(required),
            "a new terminal sells only in a shift:\n{text}"
        );
        std::fs::write(&path, text.replace(required, not)).unwrap();
        out
    }

    /// Runs `till`, expecting failure, and returns stdout and stderr together.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "till {args:?} should have failed");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn file_bytes(&self) -> Vec<u8> {
        std::fs::read(self.db()).unwrap()
    }
}

#[test]
fn a_second_init_is_refused_unless_forced_and_force_keeps_a_backup() {
    let till = Till::with_catalog();
    till.ok(&["sell", &sample_ean13(1), "--pay", "cash:10"]);
    let before = till.file_bytes();
    let message = till.fails(&["init", "--store-id", "S001", "--terminal-id", "T01"]);
    assert!(message.contains("already set up"), "{message}");
    assert_eq!(till.file_bytes(), before, "a refused init changes nothing");

    let out = till.init(&["--store-id", "S001", "--terminal-id", "T01", "--force"]);
    assert!(out.contains("kept the old till.db as"), "{out}");
    assert!(till.ok(&["sales", "list"]).contains("no sales yet"));
    let backups: Vec<_> = std::fs::read_dir(till.data_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("till.db.replaced-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
}

#[test]
fn invalid_init_values_are_refused_with_nothing_written() {
    let till = Till::new();
    for (args, message) in [
        (
            vec!["init", "--store-id", "S-1", "--terminal-id", "T01"],
            "store id",
        ),
        (
            vec![
                "init",
                "--store-id",
                "S1",
                "--terminal-id",
                "T01",
                "--currency",
                "XYZ",
            ],
            "unknown currency",
        ),
        (
            vec![
                "init",
                "--store-id",
                "S1",
                "--terminal-id",
                "T01",
                "--tax-mode",
                "sometimes",
            ],
            "tax mode",
        ),
    ] {
        let out = till.fails(&args);
        assert!(out.contains(message), "{out}");
        assert!(!till.db().exists());
    }
}

#[test]
fn a_database_that_is_not_tills_is_refused_untouched() {
    let till = Till::new();
    till.init(&["--store-id", "S001", "--terminal-id", "T01"]);
    std::fs::remove_file(till.db()).unwrap();
    let conn = rusqlite::Connection::open(till.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE invoices (id INTEGER, amount REAL); INSERT INTO invoices VALUES (1, 9.5);",
    )
    .unwrap();
    drop(conn);
    let before = till.file_bytes();
    for args in [
        &["sales", "list"][..],
        &["journal", "verify"],
        &["catalog", "export"],
    ] {
        let out = till.fails(args);
        assert!(
            out.contains("is not a Till database; nothing was changed"),
            "{out}"
        );
    }
    assert_eq!(till.file_bytes(), before);

    std::fs::write(till.db(), b"GIF89a not a database at all").unwrap();
    let out = till.fails(&["sales", "list"]);
    assert!(out.contains("is not a Till database"), "{out}");
}

#[test]
fn catalog_import_lists_bad_rows_and_imports_nothing_unless_told() {
    let till = Till::new();
    till.init(&["--store-id", "S001", "--terminal-id", "T01"]);
    let csv = till.data_dir().join("bad.csv");
    let mut content = "sku,barcodes,name_zh,name_en,price,tax_class\n\
        1,6901028075831,水,Water,2.00,food\n\
        2,4006381333932,笔,Pen,3.00,standard\n\
        3,6901028075831,水,Water,2.00,food\n\
        4,73513537,糖,Candy,-1.00,standard\n\
        5,036000291452,纸,Paper,4.00\n"
        .as_bytes()
        .to_vec();
    content.extend_from_slice(b"6,0036000291452,\xc3\x28,Bad,1.00,standard\n");
    content.extend_from_slice("7,10012345678902,箱,Case,9.00,luxury\n".as_bytes());
    std::fs::write(&csv, content).unwrap();

    let out = till.fails(&["catalog", "import", csv.to_str().unwrap()]);
    for expected in [
        "line 3: barcode 4006381333932: wrong check digit",
        "line 4: duplicate barcode 6901028075831, already on line 2",
        "line 5: negative price -1.00",
        "line 6: expected 6 columns, found 5",
        "line 7: name_zh is not valid UTF-8",
        "line 8: unknown tax class \"luxury\"",
        "nothing imported: 6 of 7 rows are bad",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        till.fails(&["catalog", "lookup", "6901028075831"])
            .contains("unknown product")
    );

    let out = till.ok(&["catalog", "import", csv.to_str().unwrap(), "--skip-invalid"]);
    assert!(
        out.contains("imported 1 products (1 added, 0 updated, 0 unchanged); skipped 6 bad rows"),
        "{out}"
    );
    let found = till.ok(&["catalog", "lookup", "6901028075831"]);
    assert!(
        found.contains("水 / Water") && found.contains("￥2.00"),
        "{found}"
    );
}

#[test]
fn catalog_import_warns_about_names_the_font_cannot_show() {
    let till = Till::new();
    till.init(&["--store-id", "S001", "--terminal-id", "T01"]);
    let csv = till.data_dir().join("names.csv");
    std::fs::write(
        &csv,
        "sku,barcodes,name_zh,name_en,price,tax_class\n\
         1,6901028075831,喆堃燚 礼盒,Gift box,2.00,food\n\
         2,4006381333931,𰻝𰻝面,Biangbiang noodles,3.00,food\n",
    )
    .unwrap();
    let out = till.run(&["catalog", "import", csv.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("warning:")).count(),
        1,
        "only the name outside the font: {stderr}"
    );
    assert!(
        stderr.contains("warning: line 3 (SKU 2): the touchscreen's font cannot show 𰻝"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 products"));
}

#[test]
fn the_touchscreen_draws_on_a_machine_without_any_font() {
    let till = Till::new();
    // Fontconfig with no font at all, as on a bare kiosk image.
    let empty = till.data_dir().join("empty-fonts.conf");
    std::fs::write(
        &empty,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig></fontconfig>\n",
    )
    .unwrap();
    let shots = till.data_dir().join("shots");
    let out = Command::new(env!("CARGO_BIN_EXE_till"))
        .args(["screenshot", "--out"])
        .arg(&shots)
        .env("FONTCONFIG_FILE", &empty)
        .env("XDG_CACHE_HOME", till.data_dir().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join("02-sale-zh-1024x768.png").exists());
}

#[test]
fn catalog_export_reimports_unchanged() {
    let till = Till::with_catalog();
    let exported = till.ok(&["catalog", "export"]);
    assert_eq!(exported.lines().count(), 1 + 322);
    let file = till.data_dir().join("export.csv");
    std::fs::write(&file, &exported).unwrap();
    let out = till.ok(&["catalog", "import", file.to_str().unwrap()]);
    assert!(out.contains("(0 added, 0 updated, 322 unchanged)"), "{out}");
    assert_eq!(till.ok(&["catalog", "export"]), exported);
}

#[test]
fn scan_classify_prints_one_line_per_code() {
    let till = Till::with_catalog();
    let long = "9".repeat(10 * 1024);
    let tm2 = format!("TM2.10086.59372011.1.{}", "A".repeat(103));
    let out = till.ok(&[
        "scan",
        "classify",
        "4006381333931",
        "4006381333932",
        "134567890123456789",
        "2200042003566",
        "TR1.S001.T01.42",
        &tm2,
        "TM1.10086.59372011.ABCDEFGHIJ234567",
        &long,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    let expected = [
        "4006381333931\tproduct: EAN-13 4006381333931",
        "4006381333932\tunknown: 4006381333932: wrong check digit: expected 1, found 2",
        "134567890123456789\tpayment code: WeChat Pay (18 digits)",
        "2200042003566\tweighed item: 2200042003566, PLU 00042, weight 356 g",
        "TR1.S001.T01.42\treceipt code: store S001 terminal T01 sale #42",
        &format!(
            "{}… (124 bytes)\tmember code: dynamic QR for member 10086, time step 59372011, key 1: refused, no member key on this till yet: members can be found only after it syncs with HQ",
            &tm2[..40]
        ),
        "TM1.10086.59372011.ABCDEFGHIJ234567\tmember code: version-1 dynamic QR for member 10086, time step 59372011: refused, old member code (TM1) no longer accepted: ask the member to update their app or open their member pass",
    ];
    assert_eq!(&lines[..7], &expected);
    assert!(
        lines[7].ends_with("unknown: scan of 10240 characters is too long (at most 256)"),
        "{}",
        lines[7]
    );
    assert_eq!(lines.len(), 8);
}

#[test]
fn sales_commit_list_show_and_verify() {
    let till = Till::with_catalog();
    let water = sample_ean13(2);
    let out = till.ok(&[
        "sell",
        &water,
        &format!("3*{}", sample_ean13(30)),
        "--pay",
        "card:5",
        "--pay",
        "cash:50",
    ]);
    assert!(out.contains("sale #1"), "{out}");
    assert!(out.contains("change"), "{out}");
    assert!(
        till.ok(&["sell", "2200042003566", "--pay", "cash:5"])
            .contains("sale #2")
    );
    let list = till.ok(&["sales", "list"]);
    assert!(
        list.contains("#2") && list.contains("#1") && list.contains("not synced"),
        "{list}"
    );
    let shown = till.ok(&["sales", "show", "1"]);
    assert_eq!(shown, out, "show prints what the sale printed");
    assert!(
        till.ok(&["journal", "verify"])
            .starts_with("journal ok: 2 sales")
    );
}

#[test]
fn refused_sales_change_nothing() {
    let till = Till::with_catalog();
    till.ok(&["sell", &sample_ean13(1), "--pay", "cash:10"]);
    let before = till.ok(&["sales", "list"]);
    for (args, message) in [
        (
            vec!["sell", &sample_ean13(1), "--pay", "cash:0.50"],
            "still due",
        ),
        (
            vec!["sell", "134567890123456789", "--pay", "cash:10"],
            "WeChat Pay payment code scanned",
        ),
        (
            vec!["sell", "4006381333932", "--pay", "cash:10"],
            "wrong check digit",
        ),
        (
            vec!["sell", "6900000000007", "--pay", "cash:10"],
            "unknown product",
        ),
        (
            vec!["sell", &sample_ean13(1), "--pay", "card:500"],
            "cannot pay more than",
        ),
        (
            vec!["sell", &sample_ean13(1), "--pay", "bitcoin:5"],
            "unknown tender",
        ),
    ] {
        let out = till.fails(&args);
        assert!(out.contains(message), "{args:?}: {out}");
    }
    assert_eq!(till.ok(&["sales", "list"]), before);
    assert!(
        till.fails(&["sales", "show", "9"])
            .contains("sale #9 not found")
    );
}

#[test]
fn an_exported_journal_verifies_at_hq_with_the_same_chain_head() {
    let till = Till::with_catalog();
    for i in 0..3 {
        till.ok(&[
            "sell",
            &sample_ean13(10 + i),
            "2200042003566",
            "--pay",
            "cash:100",
        ]);
    }
    let verified = till.ok(&["journal", "verify"]);
    let exported = till.ok(&["journal", "export"]);
    let records: Vec<&[u8]> = exported.lines().map(str::as_bytes).collect();
    assert_eq!(records.len(), 3);
    let head = till_hq::verify_chain(records.iter().copied()).expect("HQ accepts the journal");
    assert!(
        verified.contains(&hex::encode(head)),
        "{verified} vs {}",
        hex::encode(head)
    );
    // HQ names the first sale that does not add up.
    let forged = exported.replacen("\"change\":", "\"change\":1", 1);
    let forged: Vec<&[u8]> = forged.lines().map(str::as_bytes).collect();
    let error = till_hq::verify_chain(forged.iter().copied()).unwrap_err();
    assert!(error.to_string().starts_with("sale #1:"), "{error}");
}

#[test]
fn journal_verify_reports_tampering_and_deletion_with_the_sequence() {
    let till = Till::with_catalog();
    for _ in 0..4 {
        till.ok(&["sell", &sample_ean13(7), "--pay", "cash:100"]);
    }
    let conn = rusqlite::Connection::open(till.db()).unwrap();
    conn.execute(
        "UPDATE sale_lines SET unit_price = 1 WHERE sale_seq = 3",
        [],
    )
    .unwrap();
    let out = till.fails(&["journal", "verify"]);
    assert!(out.contains("journal broken: break at sale #3"), "{out}");
    conn.execute_batch(
        "DELETE FROM sale_lines WHERE sale_seq = 2; DELETE FROM payments WHERE sale_seq = 2;
         DELETE FROM outbox WHERE seq = 2; DELETE FROM sales WHERE seq = 2;",
    )
    .unwrap();
    let out = till.fails(&["journal", "verify"]);
    assert!(out.contains("journal broken: gap at sale #2"), "{out}");
}

#[test]
fn the_demo_runs_a_sale_that_verifies() {
    let till = Till::new();
    let out = Command::new(env!("CARGO_BIN_EXE_till"))
        .args(["demo", "--script", "--keep"])
        .arg(till.data_dir().join("demo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported the sample catalog: 322 products"),
        "{stdout}"
    );
    assert!(
        stdout.contains("红富士苹果") && stdout.contains("0.356 kg"),
        "{stdout}"
    );
    assert!(stdout.contains("journal ok: 1 sale(s)"), "{stdout}");
    // `--data-dir` keeps the demo where it says, and a dir that holds a terminal is refused.
    let dir = till.data_dir().join("given");
    let demo = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_till"))
            .arg("--data-dir")
            .arg(dir)
            .args(["demo", "--script"])
            .output()
            .unwrap()
    };
    assert!(demo(&dir).status.success());
    assert!(dir.join("till.db").exists());
    let again = demo(&dir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a terminal"));
}

#[test]
fn screenshot_renders_every_screen_in_both_languages_at_both_sizes() {
    let till = Till::new();
    let out = till.data_dir().join("shots");
    let printed = till.ok(&["screenshot", "--out", out.to_str().unwrap()]);
    assert!(printed.contains("wrote 84 screenshots"), "{printed}");
    for screen in [
        "01-login",
        "02-sale",
        "04-approval",
        "05-payment",
        "06-complete",
        "08-back-office",
        "09-customer-display",
        "10-customer-display-claim",
        "11-sale-member",
        "13-consent",
        "14-shift-open",
        "15-return",
        "16-return-slip",
        "17-paid-out",
        "18-sales",
        "19-x-report",
        "20-shift-close",
        "21-z-report",
    ] {
        for lang in ["zh", "en"] {
            for (width, height) in [(800u32, 480u32), (1024, 768)] {
                let path = out.join(format!("{screen}-{lang}-{width}x{height}.png"));
                let decoder =
                    png::Decoder::new(BufReader::new(std::fs::File::open(&path).unwrap()));
                let reader = decoder.read_info().unwrap();
                let info = reader.info();
                assert_eq!(
                    (info.width, info.height),
                    (width, height),
                    "{}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn staff_are_added_with_hashed_pins_and_bad_input_is_refused() {
    let till = Till::new();
    till.init(&["--store-id", "S001", "--terminal-id", "T01"]);
    let out = till.ok(&["staff", "add", "1001", "--name", "王芳", "--pin", "4321"]);
    assert!(out.contains("added 1001 王芳 (cashier)"), "{out}");
    till.ok(&[
        "staff",
        "add",
        "9001",
        "--name",
        "李店长",
        "--pin",
        "97531",
        "--manager",
    ]);
    for (args, message) in [
        (
            &["staff", "add", "1002", "--name", "张三", "--pin", "12"][..],
            "a PIN is 4 to 8 digits",
        ),
        (
            &["staff", "add", "1002", "--name", "张三", "--pin", "12ab"],
            "a PIN is 4 to 8 digits",
        ),
        (
            &["staff", "add", "10 02", "--name", "张三", "--pin", "1234"],
            "a staff ID is 1 to 16 letters or digits",
        ),
        (
            &["staff", "add", "1003", "--name", " ", "--pin", "1234"],
            "a staff member needs a name",
        ),
        (
            &["staff", "add", "1001", "--name", "王芳", "--pin", "1234"],
            "staff member 1001 already exists",
        ),
        (&["staff", "remove", "7777"], "no active staff member 7777"),
    ] {
        let out = till.fails(args);
        assert!(out.contains(message), "{args:?}: {out}");
    }
    let list = till.ok(&["staff", "list"]);
    assert_eq!(list, "1001\t王芳\tcashier\n9001\t李店长\tmanager\n");
    // The PIN is stored only as its hash.
    let bytes = till.file_bytes();
    assert!(
        bytes.windows(5).all(|w| w != b"97531"),
        "the raw PIN is in the database"
    );
    till.ok(&["staff", "remove", "1001"]);
    assert_eq!(till.ok(&["staff", "list"]), "9001\t李店长\tmanager\n");
}

#[test]
fn member_keys_and_members_from_the_command_line() {
    let till = Till::new();
    till.init(&["--store-id", "S001", "--terminal-id", "T01"]);
    // A till makes no member codes: only HQ holds the key that signs them.
    let out = till.fails(&["member", "code", "10086"]);
    assert!(out.contains("unrecognized subcommand 'code'"), "{out}");
    let key_file = till.data_dir().join("member.key");
    let public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    for (content, message) in [
        ("abc", "a member key is 64 hex characters"),
        (&"zz".repeat(32)[..], "a member key is 64 hex characters"),
        ("", "it holds no key"),
        (&format!("code x {public}"), "key ID \"x\" is not a number"),
        (
            &format!("code 1 {}", &public[2..]),
            "a member key is 64 hex characters",
        ),
        (
            &format!("code 1 {public} extra"),
            "expected `code <kid> <64 hex>`",
        ),
        (
            &format!("code 1 {public}\nv1 {}", "zz".repeat(32)),
            "line 2: a member key is 64 hex characters",
        ),
    ] {
        std::fs::write(&key_file, content).unwrap();
        let out = till.fails(&["member", "key", "import", key_file.to_str().unwrap()]);
        assert!(out.contains(message), "{out}");
    }
    assert!(
        till.ok(&["member", "key", "show"])
            .contains("no member key loaded")
    );
    // A refused file loads nothing, not even its good lines.
    assert!(
        till.ok(&["member", "key", "show"])
            .contains("no member key loaded")
    );
    std::fs::write(
        &key_file,
        format!(
            "code 1 {public}\n\npepper {}\nv1 {}\n",
            "6b".repeat(32),
            "5a".repeat(32)
        ),
    )
    .unwrap();
    let out = till.ok(&["member", "key", "import", key_file.to_str().unwrap()]);
    assert!(out.contains("member-code key 1 is now current"), "{out}");
    assert!(out.contains("phone pepper is now current"), "{out}");
    assert!(out.contains("version-1 member key"), "{out}");
    let shown = till.ok(&["member", "key", "show"]);
    assert!(
        shown.starts_with(&format!(
            "current member-code key 1: {public}\nphone pepper: held (phone numbers can be looked up)\ncurrent version-1 key: "
        )),
        "{shown}"
    );
    assert!(
        !shown.contains(&"6b".repeat(32)),
        "the pepper is never shown"
    );
    // The same file again adds nothing.
    let out = till.ok(&["member", "key", "import", key_file.to_str().unwrap()]);
    assert!(
        out.contains("member-code key 1 was already loaded"),
        "{out}"
    );
    // A different pepper is refused: every phone hash on the till depends on it.
    std::fs::write(&key_file, format!("pepper {}\n", "7c".repeat(32))).unwrap();
    let out = till.fails(&["member", "key", "import", key_file.to_str().unwrap()]);
    assert!(out.contains("phone pepper differs"), "{out}");
    // Another key under a key ID the till holds is refused: HQ never reuses one.
    std::fs::write(
        &key_file,
        format!(
            "code 1 {}\n",
            till_sync::member::CodeSigningKey::from_secret(1, [5; 32])
                .public()
                .to_hex()
        ),
    )
    .unwrap();
    let out = till.fails(&["member", "key", "import", key_file.to_str().unwrap()]);
    assert!(out.contains("member-code key 1 differs"), "{out}");
    for (args, message) in [
        (
            &["member", "add", "10086", "--phone", "1381234567"][..],
            "a phone number is 11 digits",
        ),
        (&["member", "add", "100.86"], "is not a member ID"),
    ] {
        let out = till.fails(args);
        assert!(out.contains(message), "{args:?}: {out}");
    }
    till.ok(&[
        "member",
        "add",
        "10086",
        "--name",
        "王小明",
        "--phone",
        "+86 138 1234 5678",
    ]);
    let bytes = till.file_bytes();
    assert!(
        !bytes.windows(11).any(|w| w == b"13812345678"),
        "the raw phone is stored"
    );
}

/// Kills a committing child with SIGKILL at random moments, many times, then checks that every
/// sale it reported as committed is there, whole, and that the chain verifies.
#[test]
fn sales_survive_sigkill_at_random_moments() {
    let till = Till::with_catalog();
    let mut rng = fastrand::Rng::with_seed(20261122);
    let mut reported: Vec<(u64, i64, String)> = Vec::new();
    let mut kills = 0;
    for _ in 0..30 {
        let mut child = till
            .command(&["debug", "commit-loop"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.push(line);
            }
            lines
        });
        std::thread::sleep(Duration::from_millis(rng.u64(30..250)));
        if child.kill().is_ok() {
            kills += 1;
        }
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let parts: Vec<&str> = line.split(' ').collect();
            if let ["committed", seq, total, hash] = parts[..] {
                reported.push((
                    seq.parse().unwrap(),
                    total.parse().unwrap(),
                    hash.to_string(),
                ));
            }
        }
    }
    assert!(
        kills >= 25,
        "the child should mostly be killed mid-loop ({kills})"
    );
    assert!(
        reported.len() > 15,
        "too few commits to mean anything: {}",
        reported.len()
    );

    let store = till::store::Store::open(&till.db()).unwrap();
    let report = store.verify_journal().unwrap();
    assert_eq!(report.problem, None);
    assert!(report.sales_checked >= reported.len() as u64);
    for (seq, total, _) in &reported {
        let sale = store
            .sale(*seq)
            .unwrap_or_else(|e| panic!("reported sale #{seq} lost: {e}"));
        assert_eq!(sale.total, *total, "sale #{seq}");
        sale.check_consistency().unwrap();
    }
    // Every sale in the journal, reported or not, is whole: lines, payments and outbox row.
    for seq in 1..=report.sales_checked {
        let sale = store.sale(seq).unwrap();
        assert!(
            !sale.lines.is_empty() && !sale.payments.is_empty(),
            "sale #{seq} is torn"
        );
    }
    assert_eq!(store.outbox_pending().unwrap(), report.sales_checked);
    let last = reported.iter().max_by_key(|r| r.0).unwrap();
    assert!(report.sales_checked >= last.0);
}

/// `till devices virtual-printer` as a child process, killed when dropped.
struct PrinterProcess {
    child: std::process::Child,
    out: PathBuf,
}

impl PrinterProcess {
    fn start(listen: &str, out: &Path, paper_out: bool) -> PrinterProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_till"));
        cmd.args(["devices", "virtual-printer", "--listen", listen, "--out"])
            .arg(out);
        if paper_out {
            cmd.arg("--paper-out");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with("virtual printer on "), "{first}");
        // Its output is read for as long as it runs: a printer whose reader went away would
        // stop at its next line.
        std::thread::spawn(move || lines.for_each(drop));
        PrinterProcess {
            child,
            out: out.to_path_buf(),
        }
    }

    fn receipt(&self, n: usize) -> Option<String> {
        let path = self.out.join(format!("receipt-{n:04}.txt"));
        for _ in 0..500 {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Some(text);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl PrinterProcess {
    /// The printer's drawer log once it has at least `lines` openings (or after 10 s).
    fn drawer_log(&self, lines: usize) -> String {
        let path = self.out.join("drawer.log");
        for _ in 0..500 {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() >= lines {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::read_to_string(&path).unwrap_or_default()
    }
}

impl Drop for PrinterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A terminal with the sample catalog and a printer at `address`.
fn with_printer(address: &str) -> Till {
    let till = Till::new();
    till.init(&[
        "--store-id",
        "S001",
        "--terminal-id",
        "T01",
        "--store-name",
        "测试店",
        "--printer",
        &format!("tcp:{address}"),
        "--columns",
        "32",
    ]);
    let csv = till.dir.path().join("sample.csv");
    std::fs::write(&csv, till::demo::sample_catalog_csv()).unwrap();
    till.ok(&["catalog", "import", csv.to_str().unwrap()]);
    till
}

#[test]
fn a_sale_prints_its_receipt_and_a_reprint_says_copy() {
    let address = free_port();
    let till = with_printer(&address);
    let printer = PrinterProcess::start(&address, &till.data_dir().join("paper"), false);
    let out = till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    assert!(out.contains("printed 1 receipt"), "{out}");
    let receipt = printer.receipt(1).expect("the receipt printed");
    assert!(
        receipt.starts_with("[center bold 2x] 测试店\n"),
        "{receipt}"
    );
    assert!(receipt.contains("农夫山泉 550ml\n"), "{receipt}");
    assert!(
        receipt.contains("[barcode code128] TR1.S001.T01.1\n"),
        "{receipt}"
    );
    assert!(
        !receipt.contains("[drawer pulse"),
        "the drawer has its own pulse, not the receipt's: {receipt}"
    );
    assert!(receipt.ends_with("[cut]\n"), "{receipt}");
    assert_eq!(
        printer.drawer_log(1),
        "drawer opened: pin 2, 50 ms\n",
        "cash opens the drawer once, at the commit"
    );

    assert!(
        till.ok(&["sales", "reprint", "1"])
            .contains("printed 1 receipt")
    );
    let copy = printer.receipt(2).expect("the copy printed");
    assert!(copy.contains("*** 重印 COPY ***"), "{copy}");
    // A manager opens the drawer without a sale.
    assert!(
        till.ok(&["devices", "open-drawer"])
            .contains("drawer opened")
    );
    assert_eq!(
        printer.drawer_log(2).lines().count(),
        2,
        "the sale and the no-sale opening, and not the reprint"
    );
    let audit = till.ok(&["audit"]);
    assert!(
        audit.contains("no_sale") && audit.contains("till devices open-drawer"),
        "the no-sale opening is in the audit trail: {audit}"
    );
    assert!(
        till.ok(&["devices", "test-print"])
            .contains("test page sent")
    );
    let test_page = printer.receipt(3).unwrap();
    for expected in [
        "[center bold 2x] Till 打印测试\n",
        "[barcode code128] TR1.TEST.T01.1",
        "[qr] https://",
        "[cut]",
    ] {
        assert!(
            test_page.contains(expected),
            "{expected:?} missing from\n{test_page}"
        );
    }
    // By now any pulse a reprint or a test page had sent would have been logged.
    assert_eq!(printer.drawer_log(2).lines().count(), 2);
}

#[test]
fn an_unreachable_printer_queues_the_receipt_and_the_sale_stands() {
    let address = free_port();
    let till = with_printer(&address);
    let out = till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    assert!(out.contains("printer: printer unreachable"), "{out}");
    assert!(out.contains("1 receipt queued"), "{out}");
    assert!(
        till.ok(&["sales", "list"]).contains("#1"),
        "the sale is committed"
    );
    till.ok(&["sell", &sample_ean13(3), "--pay", "cash:10"]);
    let queue = till.ok(&["devices", "print-queue"]);
    assert!(
        queue.contains("receipt #1: ") && queue.contains("receipt #2: "),
        "{queue}"
    );

    // The printer comes back; every process so far has exited, so the queue is on disk.
    let printer = PrinterProcess::start(&address, &till.data_dir().join("paper"), false);
    let out = till.ok(&["devices", "print-queue", "--retry"]);
    assert!(out.contains("printed 2 receipts"), "{out}");
    assert!(out.contains("no receipts waiting to print"), "{out}");
    assert!(printer.receipt(1).unwrap().contains("TR1.S001.T01.1"));
    assert!(printer.receipt(2).unwrap().contains("TR1.S001.T01.2"));
}

#[test]
fn paper_out_queues_the_receipt_until_paper_is_back() {
    let address = free_port();
    let till = with_printer(&address);
    let paper = till.data_dir().join("paper");
    let empty = PrinterProcess::start(&address, &paper, true);
    let out = till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    assert!(
        out.contains("printer: printer is out of paper; 1 receipt queued"),
        "{out}"
    );
    assert!(
        !paper.join("receipt-0001.txt").exists(),
        "nothing printed without paper"
    );
    // The cashier can still give change: the drawer opened with the real-time pulse.
    assert_eq!(
        empty.drawer_log(1),
        "drawer opened: pin 2, 100 ms, real-time\n"
    );
    drop(empty);
    let refilled = PrinterProcess::start(&address, &paper, false);
    assert!(
        till.ok(&["devices", "print-queue", "--retry"])
            .contains("printed 1 receipt")
    );
    assert!(refilled.receipt(1).unwrap().contains("TR1.S001.T01.1"));
}

#[test]
fn a_committed_sale_never_reports_failure() {
    let address = free_port();
    let till = with_printer(&address);
    // The print queue's page is damaged: queueing the receipt fails after the commit.
    let db = rusqlite::Connection::open(till.db()).unwrap();
    db.execute_batch(
        "CREATE TRIGGER damaged BEFORE INSERT ON print_jobs
         BEGIN SELECT RAISE(FAIL, 'database disk image is malformed'); END;",
    )
    .unwrap();
    let out = till.run(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("sale #1"), "{stdout}");
    assert!(
        stderr.contains("warning: sale #1 is committed, but its receipt could not be queued")
            && stderr.contains("till sales reprint 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: the cash drawer did not open"),
        "no printer answers: {stderr}"
    );
    db.execute_batch("DROP TRIGGER damaged").unwrap();

    // `till sell … | head -3`: the reader is gone before the sale is printed.
    let mut child = till
        .command(&["sell", &sample_ean13(3), "--pay", "cash:10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let list = till.ok(&["sales", "list"]);
    assert!(list.contains("#1 ") && list.contains("#2 "), "{list}");
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    let till = Till::with_catalog();
    // More output than a pipe holds, to a reader that has already gone.
    let codes: Vec<String> = (0..3000).map(|i| format!("69{i:011}")).collect();
    let mut args = vec!["scan", "classify"];
    args.extend(codes.iter().map(String::as_str));
    let mut child = till
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "as a tool ended by SIGPIPE");
}

#[test]
fn only_weighed_goods_sell_by_the_fraction_on_the_command_line() {
    let till = Till::with_catalog();
    let noodles = sample_ean13(5);
    for (spec, message) in [
        (format!("0.5*{noodles}"), "whole quantities only"),
        (format!("0*{noodles}"), "more than 0"),
        (format!("-1*{noodles}"), "is not a quantity"),
    ] {
        let out = till.fails(&["sell", "--pay", "cash:10", "--", &spec]);
        assert!(out.contains(message), "{spec}: {out}");
    }
    assert!(till.ok(&["sales", "list"]).contains("no sales yet"));
    // A keyed PLU sells, and a price label carries its true weight.
    // A quantity keyed before a scale label, and a label for nothing, are refused.
    for spec in ["2*2100042035706", "2100042000001"] {
        let out = till.fails(&["sell", "--pay", "cash:50", "--", spec]);
        assert!(out.contains("scale label"), "{spec}: {out}");
    }
    let out = till.ok(&["sell", "0.5*00042", "2100042035706", "--pay", "cash:50"]);
    assert!(out.contains("2.75 kg"), "{out}");
    assert!(out.contains("35.70"), "{out}");
}

#[test]
fn a_bad_printer_config_is_refused_clearly() {
    let till = Till::new();
    let out = till.fails(&[
        "init",
        "--store-id",
        "S001",
        "--terminal-id",
        "T01",
        "--printer",
        "tcp:printer.local",
    ]);
    assert!(out.contains("a TCP printer needs HOST:PORT"), "{out}");
    assert!(!till.db().exists());
}

/// `till run` as a child process, its output lines on a channel.
struct RunningTill {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl RunningTill {
    fn start(till: &Till) -> RunningTill {
        let mut child = till
            .command(&["run", "--cashier", "1001"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        RunningTill { child, lines }
    }
}

/// The first line within 10 s that contains `needle`.
fn run_wait(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Ok(line) =
        lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        if line.contains(needle) {
            return line;
        }
    }
    panic!("till run never said {needle:?}");
}

#[test]
fn till_run_sells_from_two_scanners_and_the_keyboard_and_prints() {
    use std::io::Write as _;
    use till_drivers::scanner::Framing;
    use till_drivers::virtual_scanner::VirtualScanner;

    let address = free_port();
    let till = with_printer(&address);
    let printer = PrinterProcess::start(&address, &till.data_dir().join("paper"), false);
    let mut handheld = VirtualScanner::new(9600).unwrap();
    let mut presentation = VirtualScanner::new(9600).unwrap();
    let mut config = std::fs::read_to_string(till.data_dir().join("config.toml")).unwrap();
    for (name, port) in [
        ("handheld", handheld.path.display().to_string()),
        ("presentation", presentation.path.display().to_string()),
        ("spare", "/dev/ttyDOES-NOT-EXIST".to_string()),
    ] {
        config += &format!("\n[[scanners]]\nname = \"{name}\"\nport = \"{port}\"\n");
    }
    std::fs::write(till.data_dir().join("config.toml"), config).unwrap();

    let mut run = RunningTill::start(&till);
    let wait_for = |needle: &str| run_wait(&run.lines, needle);
    let mut stdin = run.child.stdin.take().unwrap();
    wait_for("till ready");
    let mut connected = 0;
    let mut misconfigured = None;
    while connected < 2 || misconfigured.is_none() {
        let line = wait_for("scanner ");
        if line.ends_with(": connected") {
            connected += 1;
        }
        if line.contains("spare disconnected: cannot open /dev/ttyDOES-NOT-EXIST") {
            misconfigured = Some(line);
        }
    }

    handheld.scan(&sample_ean13(2), Framing::Cr).unwrap();
    wait_for("农夫山泉 550ml  1 × ￥2.00");
    presentation.scan(&sample_ean13(2), Framing::Cr).unwrap();
    wait_for("农夫山泉 550ml  2 × ￥2.00");
    // A keyboard-wedge scanner types the code and Enter.
    writeln!(stdin, "{}", sample_ean13(14)).unwrap();
    wait_for("可口可乐 500ml");
    writeln!(stdin, "4006381333932").unwrap();
    wait_for("! 4006381333932: 4006381333932: wrong check digit");
    writeln!(stdin, "pay cash 20").unwrap();
    let committed = wait_for("sale #1 committed");
    assert!(
        committed.contains("total ￥7.50, change ￥12.50"),
        "{committed}"
    );
    writeln!(stdin, "reprint 1").unwrap();
    wait_for("reprinting sale #1");
    writeln!(stdin, "quit").unwrap();
    assert!(run.child.wait().unwrap().success());

    assert!(
        printer
            .receipt(2)
            .expect("the copy printed")
            .contains("重印 COPY")
    );
    let receipt = printer.receipt(1).expect("the receipt printed");
    assert!(
        receipt.contains("  2 × ￥2.00") && receipt.contains("可口可乐 500ml"),
        "{receipt}"
    );
    assert!(
        till.ok(&["journal", "verify"])
            .starts_with("journal ok: 1 sales")
    );
}

mod sync {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use till_hq::db::{Analytics, HqStore, SqliteStore};
    use till_hq::testing::PgCluster;

    use super::*;

    /// What the flaky network does to one connection.
    #[derive(Clone, Copy, Debug)]
    enum Fault {
        /// Pass everything through.
        None,
        /// Deliver the request, let HQ commit, then drop the connection before the answer.
        DropResponse,
        /// Hold the answer back for this long.
        Delay(Duration),
    }

    /// A TCP proxy in front of HQ whose next connections suffer the queued faults.
    fn proxy(hq: SocketAddr, faults: Arc<Mutex<Vec<Fault>>>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let fault = faults.lock().unwrap().pop().unwrap_or(Fault::None);
                let server = TcpStream::connect(hq).unwrap();
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut c_in, &mut s_out));
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || match fault {
                    Fault::None => {
                        let _ = std::io::copy(&mut s_in, &mut c_out);
                    }
                    Fault::DropResponse => {
                        let mut first = [0u8; 1];
                        let _ = std::io::Read::read(&mut s_in, &mut first);
                        let _ = c_out.shutdown(std::net::Shutdown::Both);
                        let _ = s_in.shutdown(std::net::Shutdown::Both);
                    }
                    Fault::Delay(delay) => {
                        std::thread::sleep(delay);
                        let _ = std::io::copy(&mut s_in, &mut c_out);
                    }
                });
            }
        });
        address
    }

    #[test]
    fn enrollments_reach_hq_whatever_step_of_the_first_sync_fails_on_sqlite() {
        enrollments_reach_hq_through_failed_syncs(hq_on(false));
    }

    #[test]
    fn enrollments_reach_hq_whatever_step_of_the_first_sync_fails_on_postgres() {
        enrollments_reach_hq_through_failed_syncs(hq_on(true));
    }

    /// Issue 12's orphaned members: two tills enroll the same phone offline and sell to it.
    /// One syncs; the other's first sync then fails at one step (its enrollment upload cut
    /// before HQ sees it or answered but lost, its sales upload, its member pull), in turn,
    /// while the member pull brings the first till's member with the same phone. Afterwards
    /// every provisional ID maps to the one member HQ has for that phone, and every member
    /// sale's points are on that member.
    fn enrollments_reach_hq_through_failed_syncs(hq: Hq) {
        use till_hq::testing::{FaultProxy, RequestFault};
        use till_sync::api::{ENROLL_PATH, MEMBERS_PATH, UPLOAD_PATH};
        let proxy = FaultProxy::spawn(hq.address);
        let admin = hq.store();
        admin.rotate_member_key().unwrap();
        let codes = [hq.code.clone(), admin.add_terminal("S001", "T02").unwrap()];
        let tills = [Till::with_catalog(), Till::new()];
        tills[1].init(&["--store-id", "S001", "--terminal-id", "T02"]);
        let csv = tills[1].data_dir().join("sample.csv");
        std::fs::write(&csv, till::demo::sample_catalog_csv()).unwrap();
        tills[1].ok(&["catalog", "import", csv.to_str().unwrap()]);
        for (till, code) in tills.iter().zip(&codes) {
            till.ok(&["register", "--hq", &proxy.url(), "--code", code]);
            // The member key arrives with the first sync.
            till.ok(&["sync", "now"]);
        }
        let steps = [
            (ENROLL_PATH, RequestFault::Cut),
            (ENROLL_PATH, RequestFault::DropAnswer),
            (UPLOAD_PATH, RequestFault::Cut),
            (UPLOAD_PATH, RequestFault::DropAnswer),
            (MEMBERS_PATH, RequestFault::DropAnswer),
        ];
        let mut expected: Vec<(String, Vec<String>, i64)> = Vec::new();
        for (round, (step, fault)) in steps.iter().enumerate() {
            let phone = format!("1390000000{round}");
            let mut provisional = Vec::new();
            let mut points = 0;
            for till in &tills {
                let out = till.ok(&[
                    "sell",
                    &sample_ean13(5),
                    "--pay",
                    "cash:100",
                    "--phone",
                    &phone,
                    "--enroll",
                ]);
                let id = out
                    .lines()
                    .find_map(|l| l.strip_prefix("member "))
                    .expect(&out)
                    .to_string();
                assert!(id.starts_with("P-"), "{out}");
                points += out
                    .lines()
                    .find_map(|l| l.strip_prefix("points earned +"))
                    .and_then(|p| p.parse::<i64>().ok())
                    .expect(&out);
                provisional.push(id);
            }
            // Turn about, one till files the phone first; the other's first sync then fails.
            let (first, second) = if round % 2 == 0 {
                (&tills[0], &tills[1])
            } else {
                (&tills[1], &tills[0])
            };
            first.ok(&["sync", "now"]);
            proxy.fail_next(step, *fault);
            let out = second.run(&["sync", "now", "--attempts", "1"]);
            assert!(
                !out.status.success(),
                "round {round} ({step} {fault:?}): the fault did not bite"
            );
            assert_eq!(proxy.pending_faults(), 0);
            expected.push((phone, provisional, points));
        }
        for _ in 0..2 {
            for till in &tills {
                till.ok(&["sync", "now"]);
            }
        }
        let delta = hq.store().member_delta(0, 10_000).unwrap();
        let aliases: std::collections::BTreeMap<String, String> = delta
            .aliases
            .iter()
            .map(|a| (a.provisional_id.clone(), a.member_id.clone()))
            .collect();
        for (phone, provisional, points) in expected {
            let finals: std::collections::BTreeSet<_> = provisional
                .iter()
                .map(|p| {
                    aliases
                        .get(p)
                        .unwrap_or_else(|| panic!("{p} never reached HQ"))
                })
                .collect();
            assert_eq!(finals.len(), 1, "{phone}: {finals:?}");
            let member = finals.into_iter().next().unwrap();
            let entry = delta
                .members
                .iter()
                .find(|m| &m.member_id == member)
                .expect("the member is in the delta");
            assert_eq!(entry.points, points, "{phone}: points on {member}");
        }
        for till in &tills {
            let list = till.ok(&["member", "list"]);
            assert!(!list.contains("not yet filed"), "{list}");
        }
    }

    /// A real till-hq server, on SQLite or on a throwaway PostgreSQL cluster.
    struct Hq {
        _dir: tempfile::TempDir,
        db: PathBuf,
        pg: Option<PgCluster>,
        code: String,
        address: SocketAddr,
        /// Where HQ's pages text their one-time codes.
        sms: Arc<till_hq::sms::FakeSmsGateway>,
    }

    impl Hq {
        fn store(&self) -> Box<dyn HqStore> {
            till_hq::testing::open_store(self.pg.as_ref(), &self.db)
        }
    }

    fn hq_on(postgres: bool) -> Hq {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hq.db");
        let pg = postgres.then(PgCluster::start);
        let mut hq = Hq {
            _dir: dir,
            db,
            pg,
            code: String::new(),
            address: "127.0.0.1:1".parse().unwrap(),
            sms: Default::default(),
        };
        let admin = hq.store();
        admin.add_store("S001", "").unwrap();
        hq.code = admin.add_terminal("S001", "T01").unwrap();
        let pages = till_hq::server::Pages {
            sms: hq.sms.clone(),
            limits: Default::default(),
        };
        hq.address = till_hq::server::spawn_with("127.0.0.1:0", hq.store(), None, pages)
            .unwrap()
            .address;
        hq
    }

    /// PRODUCT.md, "Store operations": the Z (and a return, after the sale it returns) is
    /// synced to HQ exactly once, and HQ holds the same figures as the till.
    #[test]
    fn a_z_report_reaches_hq_once_with_the_till_s_figures() {
        let hq = hq();
        let till = Till::with_catalog();
        let url = format!("http://{}", hq.address);
        till.ok(&["register", "--hq", &url, "--code", &hq.code]);
        till.ok(&["shift", "open", "--count", "100=5"]);
        till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
        till.ok(&["cash", "out", "5", "--reason", "supplier"]);
        till.ok(&["return", "1", "--all"]);
        till.ok(&["shift", "close", "--count", "100=5"]);
        let out = till.ok(&["sync", "now"]);
        assert!(
            out.contains("4 operation(s) filed at HQ") && !out.contains("refused by HQ"),
            "the return is filed against the sale HQ holds: {out}"
        );
        let out = till.ok(&["sync", "now"]);
        assert!(!out.contains("operation(s) filed"), "nothing twice: {out}");
        assert!(
            till.ok(&["sync", "status"])
                .contains("pending operations: 0")
        );
        let rows = hq.store().z_reports(None, 10).unwrap();
        assert_eq!(rows.len(), 1);
        let local = till::store::Store::open(&till.db())
            .unwrap()
            .z_report(1)
            .unwrap()
            .z;
        let at_hq = &rows[0];
        assert_eq!(
            (at_hq.sales_count, at_hq.net, at_hq.expected_cash),
            (local.sales_count, local.net, local.expected_cash)
        );
        assert_eq!(
            (at_hq.counted_cash, at_hq.difference, at_hq.last_receipt),
            (local.counted_cash, local.difference, local.last_receipt)
        );
    }

    /// PRODUCT.md, "Returns": a sale made at another terminal of the store is looked up at HQ
    /// and returned here; what is left counts the returns HQ filed and this till's own not yet
    /// synced; HQ files the return once, and refuses one that takes more, whichever till
    /// sends it.
    #[test]
    fn another_terminal_s_sale_is_returned_here_through_hq() {
        let hq = hq();
        let t02_code = hq.store().add_terminal("S001", "T02").unwrap();
        let t01 = Till::with_catalog();
        register(&t01, &hq);
        t01.ok(&["shift", "open", "--count", "100=5"]);
        let water = sample_ean13(2);
        t01.ok(&["sell", &water, &water, "--pay", "cash:10"]);
        t01.ok(&["sync", "now"]);

        let t02 = Till::new();
        t02.init(&["--store-id", "S001", "--terminal-id", "T02"]);
        let url = format!("http://{}", hq.address);
        t02.ok(&["register", "--hq", &url, "--code", &t02_code]);
        t02.ok(&["shift", "open", "--count", "100=5"]);
        let listed = t02.ok(&["return", "TR1.S001.T01.1"]);
        assert!(listed.contains("sold       2  left       2"), "{listed}");
        let slip = t02.ok(&["return", "TR1.S001.T01.1", "--line", "1=1"]);
        assert!(
            slip.contains("RETURN") && slip.contains("TR1.S001.T01.1"),
            "{slip}"
        );
        // Its own return, not yet at HQ, counts.
        let refused = t02.fails(&["return", "TR1.S001.T01.1", "--line", "1=2"]);
        assert!(refused.contains("only 1 left to return"), "{refused}");
        let out = t02.ok(&["sync", "now"]);
        assert!(
            out.contains("operation(s) filed at HQ") && !out.contains("refused by HQ"),
            "{out}"
        );
        // Filed at HQ and still journaled here: counted once.
        let listed = t02.ok(&["return", "TR1.S001.T01.1"]);
        assert!(listed.contains("sold       2  left       1"), "{listed}");
        // T01 knows only its own records: its return of both is refused when HQ files it.
        t01.ok(&["return", "1", "--line", "1=2"]);
        let out = t01.fails(&["sync", "now"]);
        assert!(
            out.contains("refused by HQ: line 1 of sale S001/T01 #1: only 1 left to return"),
            "{out}"
        );
        // A sale HQ does not hold, and a till that is not registered, say why.
        let missing = t02.fails(&["return", "TR1.S001.T01.99", "--all"]);
        assert!(
            missing.contains("HQ holds no sale S001/T01 #99: it may not have synced yet"),
            "{missing}"
        );
        let t03 = Till::new();
        t03.init(&["--store-id", "S001", "--terminal-id", "T03"]);
        t03.ok(&["shift", "open", "--empty"]);
        let unregistered = t03.fails(&["return", "TR1.S001.T01.1", "--all"]);
        assert!(
            unregistered.contains("this terminal is not registered with HQ"),
            "{unregistered}"
        );
    }

    fn hq() -> Hq {
        hq_on(false)
    }

    /// Cash and card totals as the terminal has them.
    fn terminal_totals(till: &Till) -> (u64, i64, std::collections::BTreeMap<String, i64>) {
        let store = till::store::Store::open(&till.db()).unwrap();
        let count = store.sales_count().unwrap();
        let mut total = 0;
        let mut tenders = std::collections::BTreeMap::new();
        for seq in 1..=count {
            let sale = store.sale(seq).unwrap();
            total += sale.total;
            for p in sale.payments {
                *tenders.entry(p.kind).or_insert(0) += p.amount;
            }
        }
        (count, total, tenders)
    }

    #[test]
    fn every_sale_reaches_hq_on_sqlite_exactly_once_through_lost_answers_and_timeouts() {
        exactly_once_through_faults(hq_on(false));
    }

    #[test]
    fn every_sale_reaches_hq_on_postgres_exactly_once_through_lost_answers_and_timeouts() {
        exactly_once_through_faults(hq_on(true));
    }

    fn exactly_once_through_faults(hq: Hq) {
        let faults = Arc::new(Mutex::new(Vec::new()));
        let via = proxy(hq.address, faults.clone());
        let till = Till::with_catalog();
        let out = till.ok(&[
            "register",
            "--hq",
            &format!("http://{via}"),
            "--code",
            &hq.code,
        ]);
        assert!(out.contains("registered terminal S001/T01"), "{out}");
        for i in 0..24 {
            let pay = if i % 3 == 0 { "card:2" } else { "cash:2" };
            till.ok(&["sell", &sample_ean13(2), "--pay", pay]);
        }

        // The first try of a batch is committed at HQ but its answer is lost; so is the first
        // retry's. The third gets HQ's first answer back.
        faults
            .lock()
            .unwrap()
            .extend([Fault::DropResponse, Fault::DropResponse]);
        let out = till.ok(&["sync", "now", "--batch", "10", "--attempts", "5"]);
        assert!(out.contains("0 refused, in 3 batches; 0 pending"), "{out}");

        // A slow HQ: the answer comes after the terminal stopped waiting. Nothing is doubled.
        for _ in 0..6 {
            till.ok(&["sell", &sample_ean13(3), "--pay", "cash:5"]);
        }
        faults
            .lock()
            .unwrap()
            .push(Fault::Delay(Duration::from_secs(3)));
        let out = till.ok(&["sync", "now", "--timeout", "1", "--attempts", "4"]);
        assert!(out.contains("; 0 pending"), "{out}");

        // The terminal dies after uploading but before marking the sales acknowledged: every
        // answer is lost and it gives up; the next sync finds them all at HQ already.
        till.ok(&["sell", &sample_ean13(4), "--pay", "cash:10"]);
        faults.lock().unwrap().extend([Fault::DropResponse]);
        let out = till.fails(&["sync", "now", "--attempts", "1"]);
        assert!(out.contains("HQ unreachable"), "{out}");
        let status = till.ok(&["sync", "status"]);
        assert!(status.contains("pending sales: 1"), "{status}");
        // The demo till is S001/T01: its own start inside the default window, every night.
        let start = till_domain::SyncWindow::DEFAULT
            .staggered("S001/T01")
            .to_string();
        assert!(
            status.contains(&format!(
                "nightly sync: {start} (this till's part of the chain's 02:00-05:00)"
            )) && start != "02:00-05:00",
            "{status}"
        );
        let out = till.ok(&["sync", "now"]);
        assert!(out.contains("0 pending"), "{out}");

        let (count, total, tenders) = terminal_totals(&till);
        assert_eq!(count, 31);
        let summary = hq.store().summaries().unwrap().remove(0);
        assert_eq!(
            (summary.sales, summary.total, summary.tenders),
            (count, total, tenders)
        );
        let terminal = hq.store().terminals().unwrap().remove(0);
        assert_eq!(
            (terminal.last_seq, terminal.gaps, terminal.breaks),
            (31, vec![], vec![])
        );
    }

    /// A registered terminal sells 1,000 sales, members and anonymous, by cash, card and
    /// WeChat Pay, and syncs in batches of 128; HQ then holds exactly what the terminal holds.
    fn a_thousand_sales_reconcile(hq: Hq) {
        use till::checkout::{Checkout, CheckoutSettings, ScanContext};
        use till_domain::{Tender, TenderKind};
        let till = Till::with_catalog();
        register(&till, &hq);
        let config = till::config::Config::load(&till.data_dir().join("config.toml")).unwrap();
        let store = till::store::Store::open(&till.db()).unwrap();
        let mut checkout = Checkout::new(
            store,
            CheckoutSettings::from_config(&config).unwrap(),
            "1001",
        );
        let basket = till::demo::sample_scans();
        for i in 0..1000usize {
            for code in &basket[..1 + i % basket.len()] {
                checkout.scan(code, ScanContext::Sale).unwrap();
            }
            let due = checkout.ticket().cash_due();
            let (kind, reference) = match i % 3 {
                0 => (TenderKind::Cash, None),
                1 => (TenderKind::Card, None),
                _ => (
                    TenderKind::WeChatPay,
                    Some("134567890123456789".to_string()),
                ),
            };
            let amount = if kind == TenderKind::Cash {
                due + 500
            } else {
                due
            };
            checkout
                .add_tender(Tender {
                    kind,
                    amount,
                    reference,
                })
                .unwrap();
            if i % 4 == 0 {
                // Members HQ knows and this till has not pulled yet.
                let member = till::store::Member {
                    member_id: format!("M{}", i % 37),
                    display_name: String::new(),
                    tier: String::new(),
                    points: 0,
                    phone_masked: None,
                    active: true,
                    provisional: false,
                };
                checkout.attach(member, false).unwrap();
            }
            checkout.commit().unwrap();
        }
        drop(checkout);
        let out = till.ok(&["sync", "now", "--batch", "128"]);
        assert!(
            out.contains(
                "synced: 1000 accepted, 0 already at HQ, 0 refused, in 8 batches; 0 pending"
            ),
            "{out}"
        );
        let (count, total, tenders) = terminal_totals(&till);
        let summary = hq.store().summaries().unwrap().remove(0);
        assert_eq!(
            (summary.sales, summary.total, summary.tenders),
            (count, total, tenders)
        );
        assert_eq!(count, 1000);
        let terminal = hq.store().terminals().unwrap().remove(0);
        assert_eq!(
            (
                terminal.last_seq,
                terminal.gaps.len(),
                terminal.breaks.len()
            ),
            (1000, 0, 0)
        );
    }

    #[test]
    fn a_thousand_sales_reconcile_on_sqlite() {
        a_thousand_sales_reconcile(hq_on(false));
    }

    #[test]
    fn a_thousand_sales_reconcile_on_postgres() {
        a_thousand_sales_reconcile(hq_on(true));
    }

    /// A basket: (sample product, quantity) pairs, and how it is paid (0 cash, 1 card, 2
    /// WeChat Pay, 3 part card and the rest cash).
    type Basket = (Vec<(usize, u8)>, u8);

    /// Points parity (PRODUCT.md "Loyalty"): HQ publishes a rate, the till pulls it, and for
    /// every member sale the points on the receipt, on the till's ledger and on HQ's ledger
    /// are the same, whatever the basket, rate, cash rounding and tenders.
    fn points_agree_everywhere(hq: Hq, rate: i64, rounding: Option<i64>, baskets: &[Basket]) {
        use till::checkout::{Checkout, CheckoutSettings, ScanContext};
        use till_domain::{Tender, TenderKind};
        let till = Till::with_catalog();
        let config_path = till.data_dir().join("config.toml");
        let mut config = till::config::Config::load(&config_path).unwrap();
        config.cash_rounding = rounding.map(|increment| till::config::CashRoundingConfig {
            increment,
            mode: till_domain::ticket::CashRoundingMode::Down,
        });
        std::fs::write(&config_path, config.to_toml()).unwrap();
        register(&till, &hq);
        hq.store().rotate_member_key().unwrap();
        let rule = hq.store().publish_loyalty(rate).unwrap();
        let out = till.ok(&["sync", "now"]);
        assert!(
            out.contains(&format!(
                "loyalty rule {} from HQ: {rate} point(s) per yuan",
                rule.version
            )),
            "{out}"
        );
        till.ok(&["member", "add", "M1", "--phone", "13900001111"]);
        let store = till::store::Store::open(&till.db()).unwrap();
        let mut checkout = Checkout::new(
            store,
            CheckoutSettings::from_config(&config).unwrap(),
            "1001",
        );
        let scans = till::demo::sample_scans();
        let mut sold = Vec::new();
        for (lines, pay) in baskets {
            for &(product, quantity) in lines {
                let code = &scans[product % (scans.len() - 1)];
                let spec = till_domain::Quantity::units(i64::from(quantity.max(1)));
                checkout
                    .scan_with_quantity(code, ScanContext::Sale, Some(spec))
                    .unwrap();
            }
            // Member capture as a cashier does it: by the customer's phone.
            checkout.attach_phone("139 0000 1111", false).unwrap();
            let total = checkout.ticket().totals().total;
            let tender = |checkout: &mut Checkout, kind, amount, reference: Option<&str>| {
                checkout
                    .add_tender(Tender {
                        kind,
                        amount,
                        reference: reference.map(str::to_string),
                    })
                    .unwrap()
            };
            match pay % 4 {
                0 => {
                    let due = checkout.ticket().cash_due();
                    tender(&mut checkout, TenderKind::Cash, due + 100, None);
                }
                1 => tender(&mut checkout, TenderKind::Card, total, None),
                2 => tender(
                    &mut checkout,
                    TenderKind::WeChatPay,
                    total,
                    Some("134567890123456789"),
                ),
                _ => {
                    tender(&mut checkout, TenderKind::Card, total / 2, None);
                    let due = checkout.ticket().cash_due();
                    tender(&mut checkout, TenderKind::Cash, due, None);
                }
            }
            let sale = checkout.commit().unwrap().record;
            let receipt = till.ok(&["sales", "show", &sale.seq.to_string()]);
            sold.push((sale, receipt));
        }
        till.ok(&["sync", "now"]);
        let hq_ledger: std::collections::BTreeMap<String, i64> = hq
            .store()
            .points_ledger("M1")
            .unwrap()
            .into_iter()
            .collect();
        let mut till_total = 0;
        for (sale, receipt) in &sold {
            let stamp = sale.loyalty.expect("every new sale is stamped");
            assert_eq!(stamp.rule, rule.version);
            let paid_yuan = sale.payable() / 100;
            assert_eq!(stamp.points, paid_yuan * rate, "{sale:?}");
            assert!(
                receipt.contains(&format!("points earned +{}", stamp.points)),
                "{receipt}"
            );
            let ledger = checkout.store().points_for_sale(sale.seq).unwrap();
            assert_eq!(ledger, Some(stamp.points));
            assert_eq!(hq_ledger.get(&sale.sale_id), Some(&stamp.points));
            till_total += stamp.points;
        }
        let shown = till.ok(&["member", "show", "M1"]);
        assert!(
            shown.contains(&format!("{till_total} on this till's ledger")),
            "{shown}"
        );
    }

    fn baskets() -> impl proptest::strategy::Strategy<Value = Vec<Basket>> {
        proptest::collection::vec(
            (
                proptest::collection::vec((0usize..40, 1u8..4), 1..5),
                0u8..4,
            ),
            1..12,
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 3,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn points_agree_on_the_receipt_the_till_and_hq_on_sqlite(
            rate in 1i64..=100,
            rounding in proptest::option::of(proptest::sample::select(vec![10i64, 50, 100])),
            baskets in baskets(),
        ) {
            points_agree_everywhere(hq_on(false), rate, rounding, &baskets);
        }

        #[test]
        fn points_agree_on_the_receipt_the_till_and_hq_on_postgres(
            rate in 1i64..=100,
            rounding in proptest::option::of(proptest::sample::select(vec![10i64, 50, 100])),
            baskets in baskets(),
        ) {
            points_agree_everywhere(hq_on(true), rate, rounding, &baskets);
        }
    }

    /// HQ's database goes down mid-sync: HQ answers 500, the terminal backs off and retries,
    /// HQ reconnects once PostgreSQL is back, and every sale lands once.
    #[test]
    fn sync_rides_out_a_database_outage_at_hq() {
        let hq = hq_on(true);
        let till = Till::with_catalog();
        register(&till, &hq);
        for _ in 0..5 {
            till.ok(&["sell", &sample_ean13(2), "--pay", "cash:5"]);
        }
        let cluster = hq.pg.as_ref().unwrap();
        cluster.halt();
        let out = till.fails(&["sync", "now", "--attempts", "1"]);
        assert!(out.contains("HQ failed (500): HQ database error"), "{out}");
        assert!(
            till.ok(&["sync", "status"])
                .contains("last error: HQ failed (500): HQ database error")
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(1200));
                cluster.resume();
            });
            let out = till.ok(&["sync", "now", "--attempts", "8"]);
            assert!(
                out.contains("synced: 5 accepted") && out.contains("0 pending"),
                "{out}"
            );
        });
        assert_eq!(hq.store().summaries().unwrap()[0].sales, 5);
    }

    #[test]
    fn a_terminal_registers_and_syncs_over_tls_with_the_chains_ca() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, tls) = till_hq::testing::private_pki(dir.path());
        let admin = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
        admin.add_store("S001", "").unwrap();
        let code = admin.add_terminal("S001", "T01").unwrap();
        let store = Box::new(SqliteStore::open(&dir.path().join("hq.db")).unwrap());
        let server = till_hq::server::spawn_with(
            "127.0.0.1:0",
            store,
            Some(&tls),
            till_hq::server::Pages::fake(),
        )
        .unwrap();
        let https = format!("https://{}", server.address);
        let till = Till::with_catalog();
        let out = till.fails(&["register", "--hq", &https, "--code", &code]);
        assert!(
            out.contains("HQ unreachable"),
            "an unknown CA is refused: {out}"
        );
        till.ok(&[
            "register",
            "--hq",
            &https,
            "--code",
            &code,
            "--ca",
            ca.to_str().unwrap(),
        ]);
        till.ok(&["sell", &sample_ean13(2), "--pay", "cash:5"]);
        assert!(till.ok(&["sync", "now"]).contains("synced: 1 accepted"));
        assert_eq!(
            SqliteStore::open(&dir.path().join("hq.db"))
                .unwrap()
                .summaries()
                .unwrap()[0]
                .sales,
            1
        );
    }

    #[test]
    fn till_run_syncs_when_asked() {
        use std::io::Write as _;
        let hq = hq();
        let till = Till::with_catalog();
        let mut run = RunningTill::start(&till);
        let mut stdin = run.child.stdin.take().unwrap();
        run_wait(&run.lines, "till ready");
        writeln!(stdin, "sync").unwrap();
        run_wait(
            &run.lines,
            "sync: failed: this terminal is not registered with HQ",
        );
        register(&till, &hq);
        writeln!(stdin, "{}\npay cash 5", sample_ean13(2)).unwrap();
        run_wait(&run.lines, "sale #1 committed");
        writeln!(stdin, "sync").unwrap();
        run_wait(
            &run.lines,
            "sync: 1 accepted, 0 already at HQ, 0 refused; 0 pending",
        );
        writeln!(stdin, "quit").unwrap();
        assert!(run.child.wait().unwrap().success());
        assert_eq!(hq.store().summaries().unwrap()[0].sales, 1);
    }

    /// Registers `till` with `hq` using HQ's first registration code; returns what it said.
    fn register(till: &Till, hq: &Hq) -> String {
        till.ok(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            &hq.code,
        ])
    }

    /// The claim token sale `seq` carries, which an anonymous sale always does.
    fn claim_token_of(store: &till::store::Store, seq: u64) -> String {
        match store.sale(seq).unwrap().attribution {
            till_sync::Attribution::Anonymous {
                claim_token: Some(token),
            } => token,
            other => panic!("an anonymous sale carries a claim token: {other:?}"),
        }
    }

    /// Posts `form` to HQ's page at `path`, as a phone's browser does; the page it answers.
    fn post_form(hq: &Hq, path: &str, form: &str) -> String {
        reqwest::blocking::Client::new()
            .post(format!("http://{}{path}", hq.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// HQ publishes a catalog file through its own reader, as `till-hq catalog import` does.
    fn publish(hq: &Hq, csv: &str) -> till_hq::catalog::Published {
        let rows = till_hq::catalog::read_catalog(csv.as_bytes()).unwrap();
        hq.store().publish_catalog(&rows).unwrap()
    }

    #[test]
    fn a_published_catalog_reaches_the_till_and_new_prices_apply_to_new_tickets_only() {
        use std::io::Write as _;
        let hq = hq();
        let till = Till::with_catalog();
        register(&till, &hq);
        let out = till.ok(&["sync", "now"]);
        assert!(
            !out.contains("catalog version"),
            "nothing published yet: {out}"
        );
        let water = sample_ean13(2);
        let mut run = RunningTill::start(&till);
        let mut stdin = run.child.stdin.take().unwrap();
        run_wait(&run.lines, "till ready");
        // A customer's water is rung up at today's price ...
        writeln!(stdin, "{water}").unwrap();
        run_wait(&run.lines, "total");
        // ... while HQ raises it to 9.90 and adds a product.
        let header = "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n";
        let published = publish(
            &hq,
            &format!(
                "{header}100002,{water},农夫山泉 新装,Nongfu Spring new,9.90,food,饮料,0,1,\n\
                 900001,NEW-1,新品蛋糕,New cake,12.00,food,烘焙,0,1,\n"
            ),
        );
        assert_eq!((published.version, published.added), (1, 2));
        writeln!(stdin, "sync").unwrap();
        run_wait(&run.lines, "catalog version 1, 2 products changed");
        writeln!(stdin, "pay cash 20").unwrap();
        run_wait(&run.lines, "sale #1 committed");
        // The next customer pays the new price and can buy the new product.
        writeln!(stdin, "{water}\nNEW-1\npay cash 50").unwrap();
        run_wait(&run.lines, "sale #2 committed");
        writeln!(stdin, "quit").unwrap();
        assert!(run.child.wait().unwrap().success());
        let store = till::store::Store::open(&till.db()).unwrap();
        let first = store.sale(1).unwrap();
        let second = store.sale(2).unwrap();
        assert_ne!(
            first.lines[0].unit_price, 990,
            "the open ticket kept its price"
        );
        assert_ne!(first.lines[0].name_zh, "农夫山泉 新装");
        let prices: Vec<(&str, i64)> = second
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.unit_price))
            .collect();
        assert_eq!(prices, [("100002", 990), ("900001", 1200)]);
        assert_eq!(second.lines[0].name_zh, "农夫山泉 新装");
        // Nothing new at HQ: the next sync pulls no catalog.
        let out = till.ok(&["sync", "now"]);
        assert!(!out.contains("catalog version"), "{out}");
        assert!(
            till.ok(&["sync", "status"])
                .contains("catalog version from HQ: 1")
        );
    }

    #[test]
    fn a_catalog_the_till_cannot_take_changes_nothing_and_says_why() {
        let hq = hq();
        let till = Till::with_catalog();
        register(&till, &hq);
        let water = sample_ean13(2);
        till.ok(&["sell", &water, "--pay", "cash:10"]);
        let header = "sku,barcodes,name_zh,price,tax_class\n";
        publish(
            &hq,
            &format!("{header}100002,{water},水,9.90,food\n900002,,烟,30.00,luxury\n"),
        );
        let out = till.fails(&["sync", "now"]);
        assert!(
            out.contains("catalog version 1 from HQ was not applied: SKU 900002: unknown tax class \"luxury\""),
            "{out}"
        );
        // The sale still reached HQ; the catalog is as it was.
        assert_eq!(hq.store().summaries().unwrap()[0].sales, 1);
        let store = till::store::Store::open(&till.db()).unwrap();
        let key = format!("{water:0>14}");
        assert_ne!(
            store.product_by_code(&key).unwrap().unwrap().price.minor(),
            990
        );
        assert!(
            till.ok(&["sync", "status"])
                .contains("catalog version from HQ: none yet")
        );
        assert!(till.ok(&["sync", "status"]).contains("unknown tax class"));
        // HQ fixes the file; the next sync takes the whole new version.
        publish(&hq, &format!("{header}100002,{water},水,9.90,food\n"));
        let out = till.ok(&["sync", "now"]);
        assert!(
            out.contains("catalog version 2 from HQ: 1 product(s) added or changed"),
            "{out}"
        );
        assert_eq!(
            store.product_by_code(&key).unwrap().unwrap().price.minor(),
            990
        );
        let out = till.ok(&["sell", &water, "--pay", "cash:10"]);
        assert!(out.contains("9.90"), "{out}");
    }

    #[test]
    fn a_phone_enrolled_offline_at_two_tills_becomes_one_member_everywhere() {
        let hq = hq();
        let admin = hq.store();
        let second_code = admin.add_terminal("S001", "T02").unwrap();
        admin.rotate_member_key().unwrap();
        let a = Till::with_catalog();
        let b = Till::new();
        b.init(&["--store-id", "S001", "--terminal-id", "T02"]);
        let csv = b.data_dir().join("sample.csv");
        std::fs::write(&csv, till::demo::sample_catalog_csv()).unwrap();
        b.ok(&["catalog", "import", csv.to_str().unwrap()]);
        let url = format!("http://{}", hq.address);
        for (till, code) in [(&a, &hq.code), (&b, &second_code)] {
            till.ok(&["register", "--hq", &url, "--code", code]);
            till.ok(&["sync", "now"]);
        }
        // Both tills enroll the same customer before either syncs, and sell to them.
        let enroll = |till: &Till| {
            let out = till.ok(&["member", "enroll", "139 0000 1111", "--consent-given"]);
            assert!(out.starts_with("enrolled 139****1111 as P-S001-"), "{out}");
            let id = out.split(" as ").nth(1).unwrap();
            id.split(' ').next().unwrap().to_string()
        };
        let (pa, pb) = (enroll(&a), enroll(&b));
        assert!(pa.starts_with("P-S001-T01-") && pb.starts_with("P-S001-T02-"));
        a.ok(&[
            "sell",
            &sample_ean13(2),
            "--pay",
            "cash:20",
            "--member",
            &pa,
        ]);
        b.ok(&[
            "sell",
            &sample_ean13(3),
            "--pay",
            "cash:20",
            "--member",
            &pb,
        ]);
        let out = a.ok(&["sync", "now"]);
        assert!(
            out.contains("1 member enrollment(s) filed at HQ, 0 joined an existing member"),
            "{out}"
        );
        let out = b.ok(&["sync", "now"]);
        assert!(
            out.contains("1 member enrollment(s) filed at HQ, 1 joined an existing member"),
            "{out}"
        );
        a.ok(&["sync", "now"]);
        // One member at HQ, earning from both sales, and known by that ID at both tills.
        let ledger = hq.store().points_ledger("M00000001").unwrap();
        assert_eq!(ledger.len(), 2, "{ledger:?}");
        let balance: i64 = ledger.iter().map(|(_, p)| p).sum();
        let phone = till_sync::member::Phone::parse("13900001111").unwrap();
        for (till, provisional) in [(&a, &pa), (&b, &pb)] {
            let store = till::store::Store::open(&till.db()).unwrap();
            let member = store.member_by_phone(&phone).unwrap().unwrap();
            assert_eq!(member.member_id, "M00000001");
            // A ticket or receipt still naming the provisional ID finds the member.
            assert_eq!(store.member(provisional).unwrap(), Some(member.clone()));
            assert!(!member.provisional);
            assert_eq!(member.points, balance);
            assert_eq!(member.phone_masked.as_deref(), Some("139****1111"));
            assert!(store.pending_enrollments().unwrap().is_empty());
        }
        // A second enrollment of a known phone, and enrollments without consent or with a bad
        // number, are refused and change nothing.
        assert!(
            a.fails(&["member", "enroll", "13900001111", "--consent-given"])
                .contains("139****1111 is already member M00000001")
        );
        assert!(
            a.fails(&["member", "enroll", "13900001111"])
                .contains("--consent-given")
        );
        let out = a.fails(&["member", "enroll", "12345", "--consent-given"]);
        assert!(out.contains("phone"), "{out}");
        assert!(
            a.fails(&[
                "sell",
                &sample_ean13(2),
                "--pay",
                "cash:20",
                "--member",
                "nobody"
            ])
            .contains("no member nobody on this till")
        );
        let out = a.ok(&["sync", "now"]);
        assert!(!out.contains("enrollment"), "{out}");
    }

    /// A stolen till: with only its files, the thief can make no member code another till
    /// accepts and no claim for another terminal's sale, whatever key-like value the files hold
    /// (tried with the project's own functions). T01 ran version 1, so it even holds the
    /// chain's old member key.
    #[test]
    fn a_stolen_tills_files_forge_no_member_code_and_no_claim_for_another_terminal() {
        use till_sync::member::{ClaimKey, CodeSigningKey, MemberKey, claim_token, step_at};
        let hq = hq();
        let admin = hq.store();
        let (_, v1) = admin.rotate_member_key().unwrap();
        let code_key = admin.rotate_code_key().unwrap();
        let t01 = Till::with_catalog();
        let file = t01.data_dir().join("old.key");
        std::fs::write(&file, format!("v1 {v1}\n")).unwrap();
        t01.ok(&["member", "key", "import", file.to_str().unwrap()]);
        std::fs::remove_file(&file).unwrap();
        register(&t01, &hq);
        t01.ok(&["sync", "now"]);
        let t02 = Till::new();
        t02.init(&["--store-id", "S001", "--terminal-id", "T02"]);
        let code = admin.add_terminal("S001", "T02").unwrap();
        t02.ok(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            &code,
        ]);
        t02.ok(&["member", "add", "10087", "--name", "陈静"]);
        t02.ok(&["sync", "now"]);
        // T02 sells to an anonymous customer; the sale reaches HQ.
        let csv = t02.data_dir().join("sample.csv");
        std::fs::write(&csv, till::demo::sample_catalog_csv()).unwrap();
        t02.ok(&["catalog", "import", csv.to_str().unwrap()]);
        t02.ok(&["sell", &sample_ean13(2), "--pay", "cash:20"]);
        t02.ok(&["sync", "now"]);
        // Every 64-hex-character value in any of T01's files.
        let mut found = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(t01.data_dir()).unwrap() {
            let path = entry.unwrap().path();
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            for run in bytes.split(|b| !b.is_ascii_hexdigit()) {
                if run.len() == 64 {
                    found.insert(
                        String::from_utf8(run.to_vec())
                            .unwrap()
                            .to_ascii_lowercase(),
                    );
                }
            }
        }
        let own = till::store::Store::open(&t01.db())
            .unwrap()
            .claim_key()
            .unwrap()
            .unwrap();
        assert!(
            found.contains(&own.to_hex()),
            "the search finds T01's own claim key"
        );
        assert!(found.contains(&v1), "and the chain's old key");
        let claim_page = |token: &str| {
            reqwest::blocking::get(format!("http://{}/c/{token}", hq.address))
                .unwrap()
                .status()
                .as_u16()
        };
        let now = jiff::Timestamp::now().as_second().unsigned_abs();
        for hex in &found {
            let claim = ClaimKey::parse_hex(hex).unwrap();
            assert_eq!(
                claim_page(&claim_token(&claim, "S001", "T02", 1)),
                404,
                "{hex} claims T02's sale"
            );
            let forged = CodeSigningKey::parse_hex(code_key.kid(), hex)
                .unwrap()
                .code("10087", step_at(now));
            let out = t02.ok(&["scan", "classify", &forged]);
            assert!(
                out.contains("refused, member code invalid (bad signature)"),
                "{hex}: {out}"
            );
            let tm1 = till_sync::member::dynamic_code(
                &MemberKey::parse_hex(hex).unwrap(),
                "10087",
                step_at(now),
            );
            let out = t02.ok(&["scan", "classify", &tm1]);
            assert!(out.contains("refused"), "{hex}: {out}");
        }
        // HQ's real key makes a code T02 accepts: the refusals above are the signatures'.
        let genuine = code_key.code("10087", step_at(now));
        assert!(
            t02.ok(&["scan", "classify", &genuine])
                .contains("verifies, member 10087")
        );
    }

    /// A customer joins on HQ's page with the code texted to them, opens their member pass in
    /// a phone's browser (headless Chromium at 390×844), and the QR code on the screen, read
    /// back from the screenshot, is a `TM2` code the till accepts for that member.
    #[test]
    fn a_member_pass_on_a_phone_shows_a_code_the_till_accepts() {
        let hq = hq();
        hq.store().rotate_code_key().unwrap();
        let till = Till::with_catalog();
        register(&till, &hq);
        let post = |url: &str, form: &str| post_form(&hq, url, form);
        let form = "phone=13812345678&consent=yes";
        assert!(post("/join/S001", form).contains("输入验证码"));
        let phone = till_sync::member::Phone::parse("13812345678").unwrap();
        let code = hq.sms.last_code_to(&phone).unwrap();
        let joined = post("/join/S001", &format!("{form}&code={code}"));
        let at = joined.find("/m/").expect("a link to the pass") + 3;
        let token: String = joined[at..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        till.ok(&["sync", "now"]);
        let shot = till.data_dir().join("pass.png");
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=390,844",
                &format!("--screenshot={}", shot.display()),
                &format!("http://{}/m/{token}", hq.address),
            ])
            .output()
            .expect("Chromium runs (Debian package chromium; .ci/run installs it)");
        assert!(
            shot.exists(),
            "no screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(keep) = std::env::var("TILL_KEEP_SHOTS") {
            std::fs::copy(&shot, Path::new(&keep).join("member-pass-390x844.png")).unwrap();
        }
        let scanned = read_qr(&shot);
        assert!(scanned.starts_with("TM2.M00000001."), "{scanned}");
        let verdict = till.ok(&["scan", "classify", &scanned]);
        assert!(verdict.contains("verifies, member M00000001"), "{verdict}");
    }

    /// The text of the one QR code in a PNG screenshot.
    fn read_qr(png_path: &Path) -> String {
        let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(png_path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let channels = info.color_type.samples();
        let (width, height) = (info.width as usize, info.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            let at = (y * width + x) * channels;
            let rgb = &pixels[at..at + channels.min(3)];
            (rgb.iter().map(|&v| u32::from(v)).sum::<u32>() / rgb.len() as u32) as u8
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code on the page");
        grids[0].decode().expect("the QR code reads").1
    }

    /// A demo till registered with HQ and selling before its first sync signs its receipts'
    /// claim codes with the key HQ gave it at registration, not the demo's, so HQ takes them.
    #[test]
    fn a_receipt_rung_up_between_registering_and_the_first_sync_is_claimable() {
        let hq = hq();
        hq.store().rotate_member_key().unwrap();
        let till = Till::new();
        till::demo::create_terminal(till.data_dir(), None).unwrap();
        register(&till, &hq);
        till.ok(&["sell", &sample_ean13(2), "--pay", "cash:20"]);
        let store = till::store::Store::open(&till.db()).unwrap();
        let token = claim_token_of(&store, 1);
        let page = reqwest::blocking::get(format!("http://{}/c/{token}", hq.address)).unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let page = page.text().unwrap();
        assert!(page.contains("领取本次购物积分"), "{page}");
        // The key is this terminal's alone: HQ holds it under S001/T01.
        assert_eq!(
            store.claim_key().unwrap().map(|k| k.to_hex()),
            Some(hq.store().claim_key("S001", "T01").unwrap().to_hex())
        );
    }

    #[test]
    fn a_receipt_claimed_before_the_store_syncs_lands_on_the_member_when_it_does() {
        let hq = hq();
        hq.store().rotate_member_key().unwrap();
        let till = Till::with_catalog();
        register(&till, &hq);
        till.ok(&["sync", "now"]);
        // An anonymous sale: its receipt carries a claim token signed with the chain's key.
        till.ok(&["sell", &sample_ean13(2), "--pay", "cash:20"]);
        let store = till::store::Store::open(&till.db()).unwrap();
        let token = claim_token_of(&store, 1);
        // The customer claims it on the way home, before the store has synced: the number,
        // then the code texted to it.
        let post = |form: &str| post_form(&hq, &format!("/c/{token}"), form);
        let page = post("phone=13812345678&consent=yes");
        assert!(page.contains("输入验证码"), "{page}");
        let phone = till_sync::member::Phone::parse("13812345678").unwrap();
        let code = hq.sms.last_code_to(&phone).unwrap();
        let page = post(&format!("phone=13812345678&consent=yes&code={code}"));
        assert!(page.contains("已登记"), "{page}");
        assert!(hq.store().points_ledger("M00000001").unwrap().is_empty());
        // The nightly sync brings the sale; the claim takes it, and the till learns the member.
        till.ok(&["sync", "now"]);
        let ledger = hq.store().points_ledger("M00000001").unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].0, store.sale(1).unwrap().sale_id);
        till.ok(&["sync", "now"]);
        let phone = till_sync::member::Phone::parse("13812345678").unwrap();
        let member = store.member_by_phone(&phone).unwrap().unwrap();
        assert_eq!(
            (member.member_id.as_str(), member.points),
            ("M00000001", ledger[0].1)
        );
        assert!(member.points > 0);
    }

    #[test]
    fn receipts_carry_the_claim_address_hq_gave_at_registration() {
        let hq = hq();
        let admin = hq.store();
        admin
            .set_setting(till_hq::server::PUBLIC_URL, "https://m.chain.cn")
            .unwrap();
        admin.rotate_member_key().unwrap();
        let address = free_port();
        let till = with_printer(&address);
        let printer = PrinterProcess::start(&address, &till.data_dir().join("paper"), false);
        let out = register(&till, &hq);
        assert!(
            out.contains("claim and join QR codes point to https://m.chain.cn"),
            "{out}"
        );
        assert!(!out.contains("note:"), "{out}");
        till.ok(&["sync", "now"]);
        till.ok(&["sell", &sample_ean13(2), "--pay", "cash:20"]);
        let receipt = printer.receipt(1).expect("the receipt printed");
        assert!(
            receipt.contains("[qr] https://m.chain.cn/c/S001-T01-1."),
            "{receipt}"
        );
    }

    #[test]
    fn member_keys_arrive_with_sync_and_follow_a_rotation() {
        let hq = hq();
        let till = Till::with_catalog();
        register(&till, &hq);
        let admin = hq.store();
        // A chain that ran version 1 still holds its member key; no till is sent it.
        admin.rotate_member_key().unwrap();
        let first = admin.rotate_code_key().unwrap();
        let out = till.ok(&["sync", "now"]);
        assert!(out.contains("1 new member-code key(s)"), "{out}");
        let public = |key: &till_sync::member::CodeSigningKey| key.public().to_hex();
        const PEPPER: &str = "phone pepper: held (phone numbers can be looked up)\n";
        assert_eq!(
            till.ok(&["member", "key", "show"]),
            format!("current member-code key 1: {}\n{PEPPER}", public(&first))
        );
        // What a scan of `member`'s code by `key` meets at the till now.
        let scan = |key: &till_sync::member::CodeSigningKey| {
            let now = jiff::Timestamp::now().as_second().unsigned_abs();
            let code = key.code("10086", till_sync::member::step_at(now));
            till.ok(&["scan", "classify", &code])
        };
        assert!(
            scan(&first).contains("unknown member 10086"),
            "the code verifies"
        );
        // HQ rotates; the till takes the new key and keeps the old one as previous, so codes
        // made just before the rotation still verify.
        let second = admin.rotate_code_key().unwrap();
        till.ok(&["sync", "now"]);
        assert_eq!(
            till.ok(&["member", "key", "show"]),
            format!(
                "current member-code key 2: {}\nprevious member-code key 1: {}\n{PEPPER}",
                public(&second),
                public(&first),
            )
        );
        assert!(scan(&second).contains("unknown member 10086"));
        assert!(scan(&first).contains("unknown member 10086"));
        // Two rotations on, the first key no longer verifies; phone lookups never change.
        admin.rotate_code_key().unwrap();
        let out = till.ok(&["sync", "now"]);
        assert!(out.contains("1 new member-code key(s)"), "{out}");
        let out = scan(&first);
        assert!(
            out.contains("signed by key 1, which this till does not know"),
            "{out}"
        );
        assert!(till.ok(&["member", "key", "show"]).ends_with(PEPPER));
        // A sync with nothing new changes nothing.
        let out = till.ok(&["sync", "now"]);
        assert!(!out.contains("new member-code key"), "{out}");
    }

    /// A demo terminal registered with a real HQ trusts HQ's member-code keys, not the demo's,
    /// even where both use key ID 1.
    #[test]
    fn a_registered_demo_till_trusts_hqs_member_codes_not_the_demos() {
        let hq = hq();
        let till = Till::new();
        till::demo::create_terminal(till.data_dir(), None).unwrap();
        let now = jiff::Timestamp::now().as_second().unsigned_abs();
        let step = till_sync::member::step_at(now);
        let demo_code = till_sync::member::demo_code_key().code("10086", step);
        assert!(
            till.ok(&["scan", "classify", &demo_code])
                .contains("verifies, member 10086")
        );
        register(&till, &hq);
        let admin = hq.store();
        let key = admin.rotate_code_key().unwrap();
        assert_eq!(key.kid(), 1);
        till.ok(&["sync", "now"]);
        let hq_code = key.code("10086", step);
        assert!(
            till.ok(&["scan", "classify", &hq_code])
                .contains("verifies, member 10086"),
            "HQ's code verifies"
        );
        let out = till.ok(&["scan", "classify", &demo_code]);
        assert!(
            out.contains("refused, member code invalid (bad signature)"),
            "{out}"
        );
    }

    #[test]
    fn sync_needs_registration_and_refuses_a_code_for_another_terminal() {
        let hq = hq();
        let till = Till::with_catalog();
        assert!(
            till.fails(&["sync", "now"])
                .contains("not registered with HQ")
        );
        let other = Till::new();
        other.init(&["--store-id", "S009", "--terminal-id", "T01"]);
        let out = other.fails(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            &hq.code,
        ]);
        assert!(
            out.contains("that code is for terminal S001/T01, but this is terminal S009/T01"),
            "{out}"
        );
        let token = till.data_dir().join("hq-token");
        assert!(!token.exists());
        let out = till.fails(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            "WRONGCODE",
        ]);
        assert!(
            out.contains("registration code is unknown or already used"),
            "{out}"
        );
    }

    #[test]
    fn two_syncs_at_once_never_fail_on_a_busy_till() {
        let hq = hq();
        let till = Till::with_catalog();
        register(&till, &hq);
        for n in 1..=30 {
            till.ok(&["sell", &sample_ean13(n), "--pay", "cash:50"]);
        }
        // A sync is running (its lock is held): the next one waits for it, then syncs.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(till.data_dir().join("sync.lock"))
            .unwrap();
        lock.lock().unwrap();
        let waiting = till
            .command(&["sync", "now"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        drop(lock);
        let out = waiting.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("a sync is already running on this till; waiting for it to finish"),
            "{stdout}"
        );
        assert!(stdout.contains("synced: 30 accepted"), "{stdout}");
        // Two syncs started together, while sales are still being rung up: neither fails.
        let syncs: Vec<_> = (0..2)
            .map(|_| {
                till.command(&["sync", "now"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for n in 31..=40 {
            till.ok(&["sell", &sample_ean13(n), "--pay", "cash:50"]);
        }
        for sync in syncs {
            let out = sync.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        till.ok(&["sync", "now"]);
        assert_eq!(hq.store().summaries().unwrap()[0].sales, 40);
    }

    #[test]
    fn a_lost_registration_answer_can_be_retried_and_a_terminal_reissued() {
        let hq = hq();
        let till = Till::with_catalog();
        // HQ registers the terminal, but its answer never reaches the till.
        let faults = Arc::new(Mutex::new(vec![Fault::DropResponse]));
        let lossy = proxy(hq.address, faults);
        let out = till.fails(&[
            "register",
            "--hq",
            &format!("http://{lossy}"),
            "--code",
            &hq.code,
        ]);
        assert!(!till.data_dir().join("hq-token").exists(), "{out}");
        // The same code again: registered, and the till syncs.
        register(&till, &hq);
        till.ok(&["sell", &sample_ean13(1), "--pay", "cash:10"]);
        assert!(till.ok(&["sync", "now"]).contains("1 accepted"));
        // Once the till has used its token, the code is spent.
        let out = till.fails(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            &hq.code,
        ]);
        assert!(out.contains("unknown or already used"), "{out}");
        // The till is replaced: HQ reissues a code, which revokes the old token.
        let code = hq.store().reissue_code("S001", "T01").unwrap();
        till.ok(&["sell", &sample_ean13(2), "--pay", "cash:10"]);
        let out = till.fails(&["sync", "now"]);
        assert!(
            out.contains("HQ refused the terminal's credentials"),
            "{out}"
        );
        till.ok(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            &code,
        ]);
        assert!(till.ok(&["sync", "now"]).contains("1 accepted"));
        assert_eq!(hq.store().summaries().unwrap()[0].sales, 2);
        assert!(matches!(
            hq.store().reissue_code("S001", "T99"),
            Err(till_hq::db::HqError::UnknownTerminal(_))
        ));
    }

    #[test]
    fn the_token_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let hq = hq();
        let till = Till::with_catalog();
        let out = register(&till, &hq);
        // The operator hears that receipts' claim codes still point at the example address.
        assert!(
            out.contains("note: [member] public_url is still https://hq.example.com"),
            "{out}"
        );
        let configured = Till::new();
        configured.init(&["--store-id", "S001", "--terminal-id", "T02"]);
        let config = configured.data_dir().join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("public_url = \"https://hq.example.com\""));
        std::fs::write(
            &config,
            text.replace("https://hq.example.com", "https://hq.chain.cn"),
        )
        .unwrap();
        let out = configured.ok(&[
            "register",
            "--hq",
            &format!("http://{}", hq.address),
            "--code",
            &hq.store().add_terminal("S001", "T02").unwrap(),
        ]);
        assert!(!out.contains("public_url"), "{out}");
        let mode = std::fs::metadata(till.data_dir().join("hq-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// The release-style touchscreen in a real X server (Xvfb) with no window manager, driven
/// as a cashier and a USB scanner would through xdotool: X key events, Shift pressed and
/// released around every capital.
mod kiosk {
    use super::*;

    /// An Xvfb server of 800×480 on a display it picks itself (`-displayfd`, so tests and
    /// stale lock files never race for a number), stopped with SIGTERM when dropped so that
    /// it removes its lock file and socket.
    struct Display {
        number: u32,
        server: std::cell::RefCell<std::process::Child>,
        log: PathBuf,
        /// Kept open: Xvfb may write to it again.
        _stdout: BufReader<std::process::ChildStdout>,
    }

    impl Display {
        fn start(dir: &Path) -> Display {
            let log = dir.join("xvfb.log");
            let mut server = Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "800x480x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("Xvfb runs (Debian package xvfb; .ci/run installs it)");
            // Xvfb writes the display's number once it accepts clients.
            let mut stdout = BufReader::new(server.stdout.take().unwrap());
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let Ok(number) = line.trim().parse() else {
                let _ = server.kill();
                let _ = server.wait();
                panic!(
                    "Xvfb did not start:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            };
            Display {
                number,
                server: server.into(),
                log,
                _stdout: stdout,
            }
        }

        fn name(&self) -> String {
            format!(":{}", self.number)
        }

        /// Runs xdotool on this display and returns what it printed on stdout; what it
        /// printed on stderr goes to the test's output.
        fn xdotool(&self, args: &[&str]) -> String {
            let out = Command::new("xdotool")
                .args(args)
                .env("DISPLAY", self.name())
                .output()
                .expect("xdotool runs (Debian package xdotool; .ci/run installs it)");
            let errors = String::from_utf8_lossy(&out.stderr);
            if !errors.trim().is_empty() {
                eprintln!("xdotool {args:?}: {}", errors.trim());
            }
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    }

    impl Drop for Display {
        fn drop(&mut self) {
            let server = self.server.get_mut();
            let _ = Command::new("kill")
                .args(["-TERM", &server.id().to_string()])
                .status();
            for _ in 0..50 {
                if matches!(server.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    /// The touchscreen under test, with what it printed on stderr kept for the report.
    struct Ui {
        process: std::process::Child,
        stderr: PathBuf,
    }

    impl Ui {
        /// Why the test cannot go on: whether the till still runs, and what it and Xvfb said.
        fn report(&mut self, display: &Display) -> String {
            let mut state = match self.process.try_wait() {
                Ok(Some(status)) => format!("the till exited ({status})"),
                _ => "the till is still running".to_string(),
            };
            if let Ok(Some(status)) = display.server.borrow_mut().try_wait() {
                state.push_str(&format!("; Xvfb exited ({status})"));
            }
            format!(
                "{state}\ntill's stderr:\n{}\nXvfb's log:\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default(),
                std::fs::read_to_string(&display.log).unwrap_or_default()
            )
        }
    }

    impl Drop for Ui {
        fn drop(&mut self) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }

    /// Waits up to a minute (a loaded CI machine starts a debug build slowly) for `done`,
    /// failing with the till's and Xvfb's own words.
    fn wait_for(what: &str, ui: &mut Ui, display: &Display, mut done: impl FnMut() -> bool) {
        for _ in 0..600 {
            if done() {
                return;
            }
            if matches!(ui.process.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}: {}", ui.report(display));
    }

    #[test]
    fn a_kiosk_till_takes_the_screen_and_the_keys_and_a_scanner_types_whole_codes() {
        let till = Till::new();
        let display = Display::start(till.data_dir());
        till::demo::create_terminal(till.data_dir(), None).unwrap();
        // One cashier: the login screen needs only the PIN.
        till.ok(&["staff", "remove", till::demo::DEMO_MANAGER.0]);
        let stderr = till.data_dir().join("ui.stderr");
        let start_ui = || Ui {
            process: till
                .command(&["ui", "--fullscreen"])
                .env("DISPLAY", display.name())
                .env("SLINT_BACKEND", "winit-software")
                .env("XDG_CACHE_HOME", till.data_dir().join("cache"))
                // The test's till has no desktop session: Slint's query of the desktop's
                // settings fails at once instead of meeting whatever bus the host runs.
                .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).unwrap())
                .spawn()
                .unwrap(),
            stderr: stderr.clone(),
        };
        let mut ui = start_ui();
        let mut window = String::new();
        // Now and then (about one run in ten on a loaded 2-core machine), Xlib's first
        // connection is refused by a fresh Xvfb that x11rb has just reached; a kiosk's
        // service manager restarts the till then, and so does this test, once.
        for _ in 0..300 {
            window = display.xdotool(&["search", "--name", "^Till$"]);
            if !window.is_empty() || matches!(ui.process.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let refused = std::fs::read_to_string(&stderr)
            .unwrap_or_default()
            .contains("Failed to open connection to X server");
        if window.is_empty() && refused {
            eprintln!("the till's first X connection was refused; restarting it once");
            ui = start_ui();
        }
        wait_for("the till's window", &mut ui, &display, || {
            window = display.xdotool(&["search", "--name", "^Till$"]);
            !window.is_empty()
        });
        // No window manager, and nobody calls `xdotool windowfocus`: the till takes the keys.
        wait_for("the keyboard focus", &mut ui, &display, || {
            display.xdotool(&["getwindowfocus"]) == window
        });
        wait_for("the window to cover the screen", &mut ui, &display, || {
            let geometry = display.xdotool(&["getwindowgeometry", &window]);
            geometry.contains("Position: 0,0") && geometry.contains("Geometry: 800x480")
        });
        // The cashier keys the PIN at a person's pace.
        display.xdotool(&["type", "--delay", "150", till::demo::DEMO_CASHIER.2]);
        display.xdotool(&["key", "Return"]);
        std::thread::sleep(Duration::from_secs(3));
        // The scanner types the member's QR code (capitals with Shift) and a bottle of water,
        // each a burst, then Enter.
        let now = jiff::Timestamp::now().as_second().unsigned_abs();
        let code =
            till_sync::member::demo_code_key().code("10086", till_sync::member::step_at(now));
        for scan in [code, sample_ean13(2)] {
            display.xdotool(&["type", "--delay", "5", &scan]);
            display.xdotool(&["key", "Return"]);
            std::thread::sleep(Duration::from_millis(500));
        }
        // F12 pays the rest in cash.
        display.xdotool(&["key", "F12"]);
        std::thread::sleep(Duration::from_millis(500));
        display.xdotool(&["key", "Return"]);
        wait_for("the sale", &mut ui, &display, || {
            till.ok(&["sales", "list"]).contains("#1 ")
        });
        drop(ui);
        let list = till.ok(&["sales", "list"]);
        assert!(list.contains("1 line ") && list.contains("10086"), "{list}");
        assert!(till.ok(&["sales", "show", "1"]).contains("农夫山泉"));
    }
}

/// Member capture through `till sell` and `till scan classify`: the same table of member codes
/// the checkout engine's own test runs, with the same outcome in each front-end.
mod members {
    use super::*;
    use till_sync::member::{CodeSigningKey, demo_code_key, step_at};

    fn demo() -> Till {
        let till = Till::new();
        till::demo::create_terminal(till.data_dir(), None).unwrap();
        till
    }

    fn now() -> u64 {
        jiff::Timestamp::now().as_second().unsigned_abs()
    }

    /// The code HQ's member pass would show for `member` at `at` (Unix seconds), signed with
    /// the key demo terminals trust.
    fn code_at(member: &str, at: u64) -> String {
        demo_code_key().code(member, step_at(at))
    }

    /// Sells a bottle of water with `codes`; Ok(stdout) or Err(stderr), and checks a refusal
    /// committed nothing.
    fn sell(till: &Till, codes: &[&str], extra: &[&str]) -> Result<String, String> {
        let before = till.ok(&["sales", "list"]);
        let water = sample_ean13(2);
        let mut args = vec!["sell"];
        args.extend_from_slice(codes);
        args.extend_from_slice(&[water.as_str(), "--pay", "cash:10"]);
        args.extend_from_slice(extra);
        let out = till.run(&args);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            assert_eq!(
                till.ok(&["sales", "list"]),
                before,
                "a refusal committed a sale"
            );
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    #[test]
    fn the_member_code_table_has_the_same_outcome_in_till_sell_and_scan_classify() {
        let till = demo();
        let t = now();
        // Codes a step boundary cannot turn: `t` is moved to the middle of its step.
        let t = t - t % 30 + 15;
        let mut flipped = code_at("10086", t);
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        let other_key = CodeSigningKey::from_secret(1, [7; 32]).code("10086", step_at(t));
        let cases: Vec<(&str, String, Result<&str, &str>)> = vec![
            ("valid now", code_at("10086", t), Ok("10086")),
            ("3 steps back", code_at("10086", t - 90), Ok("10086")),
            ("4 steps back", code_at("10086", t - 120), Err("expired")),
            (
                "5 steps ahead",
                code_at("10086", t + 150),
                Err("not yet valid"),
            ),
            ("flipped MAC character", flipped, Err("bad signature")),
            ("a key the till never had", other_key, Err("bad signature")),
            (
                "unknown member",
                code_at("99999", t),
                Err("unknown member 99999"),
            ),
            (
                "deactivated",
                code_at("10088", t),
                Err("10088 is deactivated"),
            ),
            ("card", "8800010086".to_string(), Ok("10086")),
            (
                "unknown card",
                "8800099999".to_string(),
                Err("unknown member card"),
            ),
        ];
        for (what, code, expected) in cases {
            let classified = till.ok(&["scan", "classify", &code]);
            let sold = sell(&till, &[&code], &[]);
            match expected {
                Ok(member) => {
                    assert!(
                        classified.contains(&format!("verifies, member {member}")),
                        "{what}: {classified}"
                    );
                    let out = sold.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(out.contains(&format!("member {member}")), "{what}: {out}");
                    assert!(out.contains("points earned +2"), "{what}: {out}");
                }
                Err(reason) => {
                    assert!(
                        classified.contains("refused") && classified.contains(reason),
                        "{what}: {classified}"
                    );
                    let error = sold.expect_err(what);
                    assert!(error.contains(reason), "{what}: {error}");
                }
            }
        }
    }

    /// `till run`, fed by a scanner on a real pseudo-terminal: the same codes, the same
    /// outcomes, and the sale goes to the member with its points.
    #[test]
    fn till_run_attaches_members_from_the_scanner_with_the_same_rules() {
        use std::io::Write as _;
        use till_drivers::scanner::Framing;
        use till_drivers::virtual_scanner::VirtualScanner;
        let till = demo();
        let mut scanner = VirtualScanner::new(9600).unwrap();
        let config = till.data_dir().join("config.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text += &format!(
            "\n[[scanners]]\nname = \"handheld\"\nport = \"{}\"\n",
            scanner.path.display()
        );
        std::fs::write(&config, text).unwrap();
        let t = now();
        let t = t - t % 30 + 15;
        let mut run = RunningTill::start(&till);
        let wait_for = |needle: &str| run_wait(&run.lines, needle);
        let mut stdin = run.child.stdin.take().unwrap();
        wait_for("scanner handheld: connected");
        let other_key = CodeSigningKey::from_secret(1, [7; 32]).code("10086", step_at(t));
        for (code, answer) in [
            (code_at("10086", t - 120), "member code expired"),
            (code_at("10086", t + 150), "not yet valid"),
            (other_key, "bad signature"),
            (code_at("99999", t), "unknown member 99999"),
            (code_at("10088", t), "10088 is deactivated"),
            ("8800099999".to_string(), "unknown member card"),
        ] {
            scanner.scan(&code, Framing::Cr).unwrap();
            let line = wait_for(&format!("! {code}:"));
            assert!(line.contains(answer), "{line}");
        }
        scanner.scan(&sample_ean13(2), Framing::Cr).unwrap();
        wait_for("农夫山泉 550ml");
        writeln!(stdin, "member 139 8765 4321").unwrap();
        wait_for("member 10087 (139****4321) attached");
        // Another member is refused until the first is taken off.
        scanner.scan(&code_at("10086", t), Framing::Cr).unwrap();
        wait_for("member 10087 is already on this ticket, not 10086: take 10087 off first");
        writeln!(stdin, "member off").unwrap();
        wait_for("member 10087 detached");
        scanner
            .scan(&code_at("10086", t - 90), Framing::Cr)
            .unwrap();
        wait_for("member 10086 (138****5678) attached");
        writeln!(stdin, "pay cash 10").unwrap();
        let committed = wait_for("sale #1 committed");
        assert!(committed.contains("for member 10086"), "{committed}");
        wait_for("points earned +2");
        writeln!(stdin, "quit").unwrap();
        assert!(run.child.wait().unwrap().success());
        assert!(till.ok(&["sales", "show", "1"]).contains("member 10086"));
    }

    #[test]
    fn a_used_code_is_refused_on_the_next_sale_and_two_members_are_refused() {
        let till = demo();
        let code = code_at("10086", now());
        sell(&till, &[&code], &[]).unwrap();
        let again = sell(&till, &[&code], &[]).unwrap_err();
        assert!(again.contains("already used"), "{again}");
        // `scan classify` says so too, without spending anything.
        assert!(
            till.ok(&["scan", "classify", &code])
                .contains("already used")
        );
        let other = code_at("10087", now());
        let both = sell(&till, &["8800010086", &other], &[]).unwrap_err();
        assert!(both.contains("take 10086 off first"), "{both}");
    }

    /// A refused `till sell` changes nothing: the member's code is still good for the same
    /// sale tried again, and a customer who would have enrolled is not a member.
    #[test]
    fn a_refused_sale_spends_no_code_and_enrolls_nobody() {
        let till = demo();
        let code = code_at("10086", now());
        let water = sample_ean13(2);
        for refused in [
            vec![code.as_str(), water.as_str(), "--pay", "cash:1"],
            vec![code.as_str(), "6901234567892", "--pay", "cash:10"],
            vec![code.as_str(), water.as_str(), "--pay", "wechat_pay:2"],
        ] {
            let mut args = vec!["sell"];
            args.extend(refused);
            till.fails(&args);
            assert!(
                till.ok(&["scan", "classify", &code]).contains("verifies"),
                "{args:?} spent the code"
            );
        }
        for refused in [
            vec![water.as_str(), "--pay", "cash:1"],
            vec![water.as_str(), "--pay", "wechat_pay:2"],
        ] {
            let mut args = vec!["sell", "--phone", "13611112222", "--enroll"];
            args.extend(refused);
            till.fails(&args);
        }
        let members = till.ok(&["member", "list"]);
        assert!(!members.contains("136****2222"), "{members}");
        assert!(!till.ok(&["sales", "list"]).contains("#1 "));
        // Tried again, paid: it sells, spends the code, and a copy with spaces round it, as a
        // wedge might type it, is the same code.
        let out = sell(&till, &[&code], &[]).unwrap();
        assert!(out.contains("member 10086"), "{out}");
        let again = sell(&till, &[&format!(" {code} ")], &[]).unwrap_err();
        assert!(again.contains("already used"), "{again}");
    }

    #[test]
    fn a_phone_finds_its_member_however_it_is_typed_and_enrolls_only_with_consent() {
        let till = demo();
        for keyed in [
            "13812345678",
            "+86 138 1234 5678",
            "138-1234-5678",
            "+8613812345678",
        ] {
            let out = sell(&till, &[], &["--phone", keyed]).unwrap();
            assert!(out.contains("member 10086"), "{keyed}: {out}");
        }
        let refused = sell(&till, &[], &["--phone", "13600001234"]).unwrap_err();
        assert!(refused.contains("--enroll"), "{refused}");
        let bad = sell(&till, &[], &["--phone", "12345"]).unwrap_err();
        assert!(bad.contains("not valid"), "{bad}");
        let enrolled = sell(&till, &[], &["--phone", "13600001234", "--enroll"]).unwrap();
        assert!(enrolled.contains("member P-S001-T01-"), "{enrolled}");
        let list = till.ok(&["member", "list"]);
        let line = list
            .lines()
            .find(|l| l.contains("136****1234"))
            .expect(&list);
        assert!(
            line.contains("provisional")
                && line.contains("2 points here")
                && line.contains("not yet filed"),
            "{line}"
        );
    }
}
