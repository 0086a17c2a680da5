//! Tests of `printing`.

use expect_test::{Expect, expect};
use till_drivers::decode::{Decoder, Event};
use till_drivers::escpos::TextEncoding;
use till_sync::{Attribution, SaleLine, SalePayment, SaleRecord};

use super::*;

fn line(
    line_no: u32,
    zh: &str,
    en: &str,
    unit_price: i64,
    qty_milli: i64,
    weighed: bool,
) -> SaleLine {
    let gross = unit_price * qty_milli / 1000;
    SaleLine {
        line_no,
        sku: format!("{line_no}"),
        code: "6901028075831".into(),
        name_zh: zh.into(),
        name_en: en.into(),
        tax_class: "food".into(),
        tax_rate_bp: 900,
        unit_price,
        qty_milli,
        weighed,
        price_overridden: false,
        gross,
        discount: 0,
        tax: gross * 900 / 10_900,
        total: gross,
    }
}

fn sale(lines: Vec<SaleLine>, payments: Vec<(&str, i64, Option<&str>)>) -> SaleRecord {
    let total: i64 = lines.iter().map(|l| l.total).sum();
    let paid: i64 = payments.iter().map(|p| p.1).sum();
    SaleRecord {
        v: 1,
        sale_id: "01a20416-3a15-72fa-b280-718411aa7636".into(),
        store: "S001".into(),
        terminal: "T01".into(),
        seq: 42,
        created_at_ms: 1_795_855_695_000,
        utc_offset_s: 8 * 3600,
        cashier: "1001".into(),
        currency: "CNY".into(),
        attribution: Attribution::Anonymous { claim_token: None },
        subtotal: total,
        discount: 0,
        tax: lines.iter().map(|l| l.tax).sum(),
        total,
        lines,
        rounding: 0,
        payments: payments
            .into_iter()
            .map(|(kind, amount, reference)| SalePayment {
                kind: kind.into(),
                amount,
                reference: reference.map(str::to_string),
            })
            .collect(),
        change: paid - total,
        loyalty: None,
    }
}

fn header() -> ReceiptHeader {
    ReceiptHeader {
        store_name: "Till 便利店".into(),
        address: "上海市黄浦区人民大道 100 号".into(),
        tax_id: "91310000MA1FL0000X".into(),
        claim_base_url: "https://hq.example.com".into(),
    }
}

fn check(sale: &SaleRecord, language: Language, copy: bool, columns: usize, expected: Expect) {
    check_member(
        sale,
        &ReceiptMember::default(),
        language,
        columns,
        copy,
        expected,
    );
}

/// `receipt` as a GB18030 printer of `columns` columns prints it, decoded back to text.
fn printed(receipt: &Receipt, columns: usize) -> String {
    let settings = PrintSettings {
        columns,
        encoding: TextEncoding::Gb18030,
    };
    let bytes = encode(&document(receipt), &settings).unwrap().bytes;
    let mut decoder = Decoder::new();
    let events = decoder.feed(&bytes);
    assert!(decoder.problems().is_empty(), "{:?}", decoder.problems());
    let [Event::Receipt(printed)] = &events[..] else {
        panic!("{events:?}")
    };
    printed.text()
}

fn check_member(
    sale: &SaleRecord,
    member: &ReceiptMember,
    language: Language,
    columns: usize,
    copy: bool,
    expected: Expect,
) {
    let receipt = receipt(sale, &header(), language, copy, member);
    expected.assert_eq(&printed(&receipt, columns));
}

fn groceries() -> Vec<SaleLine> {
    vec![
        line(
            1,
            "农夫山泉 550ml",
            "Nongfu Spring water 550ml",
            200,
            2000,
            false,
        ),
        line(
            2,
            "康师傅红烧牛肉面 桶装",
            "Master Kong braised beef noodles cup",
            500,
            1000,
            false,
        ),
    ]
}

/// A printer on a flaky line: the first connection answers the status query, takes the
/// start of the receipt and then drops; later connections reach the real virtual printer.
fn flaky_proxy(target: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut client) = stream else { continue };
            if n == 0 {
                for _ in 0..4 {
                    let mut request = [0u8; 3];
                    client.read_exact(&mut request).unwrap();
                    client.write_all(&[0x12]).unwrap();
                }
                let mut start = [0u8; 64];
                let _ = client.read(&mut start);
                // The line drops with the receipt half sent, as when a cable is pulled.
                drop(client);
                continue;
            }
            let mut server = std::net::TcpStream::connect(target).unwrap();
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut c2, &mut s2));
            std::thread::spawn(move || std::io::copy(&mut server, &mut client));
        }
    });
    address
}

#[test]
fn a_connection_lost_mid_receipt_prints_it_whole_on_retry() {
    use till_drivers::printer::{Printer, PrinterAddress};
    use till_drivers::virtual_printer::VirtualPrinter;
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
    let proxy = flaky_proxy(vp.address);
    let mut store = Store::create(
        &dir.path().join("till.db"),
        "S001",
        "T01",
        till_domain::Currency::CNY,
    )
    .unwrap();
    let committed = store
        .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
        .unwrap();
    store.enqueue_receipt(committed.record.seq, false).unwrap();
    let printer = ReceiptPrinter {
        printer: Printer::new(PrinterAddress::Tcp(proxy.to_string())),
        settings: PrintSettings {
            columns: 32,
            encoding: TextEncoding::Gb18030,
        },
        header: header(),
        language: Language::Zh,
    };
    // The print queue's thread keeps its memory from one pass to the next.
    let mut memory = PrintMemory::default();
    let error = print_due_with(&store, &printer, &mut memory).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("printer connection failed mid-receipt"),
        "{error}"
    );
    let pending = store.pending_print_jobs().unwrap();
    assert_eq!(pending.len(), 1, "the job stays queued");
    assert!(pending[0].last_error.is_some());
    assert_eq!(
        store.sale(1).unwrap(),
        committed.record,
        "the sale is untouched"
    );

    store.retry_print_jobs_now().unwrap();
    assert_eq!(print_due_with(&store, &printer, &mut memory).unwrap(), 1);
    for _ in 0..1000 {
        if vp.state.receipts_printed() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Part of the first attempt may have come out of the printer, so the whole receipt
    // comes out again marked as a copy, never as a second original.
    let text = vp.receipt(1).unwrap();
    assert!(
        text.starts_with("[center bold 2x] Till 便利店") && text.ends_with("[cut]\n"),
        "{text}"
    );
    assert!(text.contains("COPY"), "{text}");
    assert!(store.pending_print_jobs().unwrap().is_empty());
}

fn virtual_receipt_printer(address: std::net::SocketAddr) -> ReceiptPrinter {
    use till_drivers::printer::{Printer, PrinterAddress};
    ReceiptPrinter {
        printer: Printer::new(PrinterAddress::Tcp(address.to_string())),
        settings: PrintSettings {
            columns: 32,
            encoding: TextEncoding::Gb18030,
        },
        header: header(),
        language: Language::Zh,
    }
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_receipt_that_may_have_printed_never_prints_again_as_an_original() {
    use till_drivers::virtual_printer::VirtualPrinter;
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
    let db = dir.path().join("till.db");
    let mut store = Store::create(&db, "S001", "T01", till_domain::Currency::CNY).unwrap();
    let committed = store
        .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
        .unwrap();
    let printer = virtual_receipt_printer(vp.address);
    let after = after_commit(&store, Some(&printer), &committed.record);
    assert_eq!(after.drawer.unwrap().unwrap(), DrawerPulse::Buffered);
    wait_for("the drawer", || vp.state.drawer_openings() == 1);
    // The disk fills up just as the receipt has printed: marking the job done fails.
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER disk_full BEFORE UPDATE OF printed_at_ms ON print_jobs
                 WHEN NEW.printed_at_ms IS NOT NULL
                 BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
        )
        .unwrap();
    let mut memory = PrintMemory::default();
    let error = print_due_with(&store, &printer, &mut memory).unwrap_err();
    assert!(error.to_string().contains("disk is full"), "{error}");
    wait_for("the original", || vp.state.receipts_printed() == 1);
    assert!(!vp.receipt(1).unwrap().contains("COPY"));
    // The queue goes round while the disk is still full: it does not print again.
    assert!(print_due_with(&store, &printer, &mut memory).is_err());
    other.execute_batch("DROP TRIGGER disk_full").unwrap();
    assert_eq!(print_due_with(&store, &printer, &mut memory).unwrap(), 0);
    assert!(store.pending_print_jobs().unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(vp.state.receipts_printed(), 1, "the job printed once");

    // The same, but the till is killed before it could mark the job: after a restart the
    // job may have printed, so once it is clearly not printing any more, it prints as a
    // copy, and the drawer stays shut.
    let second = store
        .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
        .unwrap();
    store.enqueue_receipt(second.record.seq, false).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER disk_full BEFORE UPDATE OF printed_at_ms ON print_jobs
                 WHEN NEW.printed_at_ms IS NOT NULL
                 BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
        )
        .unwrap();
    assert!(print_due(&store, &printer).is_err());
    wait_for("the second original", || vp.state.receipts_printed() == 2);
    other.execute_batch("DROP TRIGGER disk_full").unwrap();
    // Just after, another process leaves it alone: it may be printing it right now.
    assert_eq!(print_due(&store, &printer).unwrap(), 0);
    other
        .execute("UPDATE print_jobs SET sent_at_ms = sent_at_ms - 120000", [])
        .unwrap();
    assert_eq!(print_due(&store, &printer).unwrap(), 1);
    wait_for("the copy", || vp.state.receipts_printed() == 3);
    let copy = vp.receipt(3).unwrap();
    assert!(copy.contains("重印 COPY"), "{copy}");
    assert!(!copy.contains("drawer"), "{copy}");
    assert_eq!(
        vp.state.drawer_openings(),
        1,
        "one drawer pulse, at the first commit"
    );
    assert!(store.pending_print_jobs().unwrap().is_empty());
}

#[test]
fn the_drawer_opens_at_the_commit_whatever_happens_to_the_receipt() {
    use std::sync::atomic::Ordering;
    use till_drivers::virtual_printer::VirtualPrinter;
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::spawn("127.0.0.1:0", &dir.path().join("paper")).unwrap();
    vp.state.paper_out.store(true, Ordering::SeqCst);
    let mut store = Store::create(
        &dir.path().join("till.db"),
        "S001",
        "T01",
        till_domain::Currency::CNY,
    )
    .unwrap();
    let printer = virtual_receipt_printer(vp.address);
    // Out of paper: the cash sale's drawer opens anyway (the real-time pulse), and the
    // receipt waits in the queue.
    let cash = store
        .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
        .unwrap();
    let after = after_commit(&store, Some(&printer), &cash.record);
    assert_eq!(after.drawer.unwrap().unwrap(), DrawerPulse::RealTime);
    assert!(after.receipt.unwrap().is_ok());
    wait_for("the drawer", || vp.state.drawer_openings() == 1);
    assert!(matches!(
        print_due(&store, &printer),
        Err(PrintJobError::Printer(PrintError::PaperOut))
    ));
    assert_eq!(vp.state.receipts_printed(), 0);
    // A card sale opens no drawer.
    let card = store
        .commit_sale(sale(groceries(), vec![("card", 900, None)]))
        .unwrap();
    assert!(
        after_commit(&store, Some(&printer), &card.record)
            .drawer
            .is_none()
    );
    // Paper back: both receipts print, and the drawer does not open again.
    vp.state.paper_out.store(false, Ordering::SeqCst);
    store.retry_print_jobs_now().unwrap();
    assert_eq!(print_due(&store, &printer).unwrap(), 2);
    wait_for("the receipts", || vp.state.receipts_printed() == 2);
    assert!(!vp.receipt(1).unwrap().contains("COPY"));
    assert_eq!(vp.state.drawer_openings(), 1);
    // No printer to reach: the sale stands, and the cashier is told the drawer is shut.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = virtual_receipt_printer(gone.local_addr().unwrap());
    drop(gone);
    let after = after_commit(&store, Some(&unreachable), &cash.record);
    assert!(matches!(
        after.drawer,
        Some(Err(PrintError::Unreachable(_)))
    ));
    assert!(after.warnings(cash.record.seq)[0].starts_with("the cash drawer did not open"));
}

#[test]
fn backoff_doubles_to_a_minute_with_jitter() {
    for (attempts, base) in [(0, 1), (1, 2), (3, 8), (6, 60), (20, 60)] {
        let delay = backoff(attempts).as_millis();
        let base = u128::from(base as u32) * 1000;
        assert!(
            delay >= base && delay <= base * 5 / 4,
            "{attempts}: {delay} ms"
        );
    }
}

/// The whole path: a committed anonymous sale and a member's sale, rendered from the store
/// as the print queue renders them and decoded back; the claim QR's payload verifies.
#[test]
fn printed_receipts_carry_a_verifiable_claim_code_or_the_member() {
    use till_sync::member::{ClaimKey, Phone, verify_claim};
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(
        &dir.path().join("till.db"),
        "S001",
        "T01",
        till_domain::Currency::CNY,
    )
    .unwrap();
    store
        .set_phone_pepper(&till_sync::member::PhonePepper::from_bytes([9; 32]), true)
        .unwrap();
    let key = ClaimKey::from_bytes([8; 32]);
    store.set_claim_key(&key).unwrap();
    store
        .upsert_member(&crate::store::MemberRecord {
            member_id: "10086".into(),
            display_name: "王小明".into(),
            tier: String::new(),
            points: 0,
            phone: Some(Phone::parse("13812345678").unwrap()),
            card_number: None,
            active: true,
        })
        .unwrap();
    store
        .commit_sale(sale(groceries(), vec![("cash", 1000, None)]))
        .unwrap();
    let mut member_sale = sale(groceries(), vec![("cash", 1000, None)]);
    member_sale.attribution = Attribution::Member {
        member_id: "10086".into(),
    };
    member_sale.loyalty = Some(till_sync::loyalty::SaleLoyalty { rule: 1, points: 9 });
    store.commit_sale(member_sale).unwrap();
    let printer = ReceiptPrinter {
        printer: Printer::new(till_drivers::printer::PrinterAddress::File(
            dir.path().join("paper"),
        )),
        settings: PrintSettings {
            columns: 32,
            encoding: TextEncoding::Gb18030,
        },
        header: header(),
        language: Language::Zh,
    };
    let printed = |seq: u64| {
        let job = PrintJob {
            id: 0,
            sale_seq: seq,
            copy: false,
            attempts: 0,
            last_error: None,
            sent_at_ms: None,
        };
        let bytes = printer.render(&store, &job).unwrap();
        let mut decoder = Decoder::new();
        let events = decoder.feed(&bytes);
        let [Event::Receipt(receipt)] = &events[..] else {
            panic!("{events:?}")
        };
        receipt.text()
    };
    let anonymous = printed(1);
    let url = anonymous
        .lines()
        .find_map(|l| l.strip_prefix("[qr] "))
        .expect("a claim QR code");
    let token = url.strip_prefix("https://hq.example.com/c/").expect(url);
    assert_eq!(
        verify_claim(&[key], token),
        Some(("S001".into(), "T01".into(), 1))
    );
    assert!(anonymous.contains("扫码入会，积分到账"));
    let member = printed(2);
    assert!(member.contains("会员 138****5678"), "{member}");
    assert!(member.contains("本次积分 +9"), "{member}");
    assert!(!member.contains("[qr]"), "{member}");
}

#[test]
fn member_receipt_shows_the_masked_phone_and_points() {
    let mut sale = sale(groceries(), vec![("cash", 1000, None)]);
    sale.attribution = Attribution::Member {
        member_id: "10086".into(),
    };
    let member = ReceiptMember {
        phone_masked: Some("138****5678".into()),
        points: Some(9),
    };
    check_member(
        &sale,
        &member,
        Language::Zh,
        32,
        false,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                --------------------------------
                农夫山泉 550ml
                  2 × ￥2.00             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00             ￥5.00
                --------------------------------
                小计                      ￥9.00
                其中税额                  ￥0.74
                [bold 2x] 合计      ￥9.00
                现金                     ￥10.00
                找零                      ￥1.00
                --------------------------------
                会员 138****5678
                本次积分 +9
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
    );
}

#[test]
fn anonymous_receipt_carries_the_claim_qr_code() {
    let mut sale = sale(groceries(), vec![("cash", 1000, None)]);
    sale.attribution = Attribution::Anonymous {
        claim_token: Some("S001-T01-42.ABCDEFGHIJKLMNOP".into()),
    };
    check(
        &sale,
        Language::En,
        false,
        32,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] Tax ID 91310000MA1FL0000X
                --------------------------------
                Nongfu Spring water 550ml
                  2 × ￥2.00             ￥4.00
                Master Kong braised beef noodles
                cup
                  1 × ￥5.00             ￥5.00
                --------------------------------
                Subtotal                  ￥9.00
                Tax included              ￥0.74
                [bold 2x] TOTAL     ￥9.00
                Cash                     ￥10.00
                Change                    ￥1.00
                --------------------------------
                [qr] https://hq.example.com/c/S001-T01-42.ABCDEFGHIJKLMNOP
                [center] Scan to join and collect points
                [barcode code128] TR1.S001.T01.42
                Sale 42  Terminal T01  Cashier
                1001
                2026-11-28 16:48:15
                [center] Thank you for shopping with us




                [cut]
            "#]],
    );
}

#[test]
fn chinese_receipt() {
    check(
        &sale(groceries(), vec![("cash", 1000, None)]),
        Language::Zh,
        false,
        32,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                --------------------------------
                农夫山泉 550ml
                  2 × ￥2.00             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00             ￥5.00
                --------------------------------
                小计                      ￥9.00
                其中税额                  ￥0.74
                [bold 2x] 合计      ￥9.00
                现金                     ￥10.00
                找零                      ￥1.00
                --------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
    );
}

#[test]
fn english_receipt() {
    check(
        &sale(groceries(), vec![("cash", 1000, None)]),
        Language::En,
        false,
        48,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] Tax ID 91310000MA1FL0000X
                ------------------------------------------------
                Nongfu Spring water 550ml
                  2 × ￥2.00                             ￥4.00
                Master Kong braised beef noodles cup
                  1 × ￥5.00                             ￥5.00
                ------------------------------------------------
                Subtotal                                  ￥9.00
                Tax included                              ￥0.74
                [bold 2x] TOTAL             ￥9.00
                Cash                                     ￥10.00
                Change                                    ￥1.00
                ------------------------------------------------
                [barcode code128] TR1.S001.T01.42
                Sale 42  Terminal T01  Cashier 1001
                2026-11-28 16:48:15
                [center] Thank you for shopping with us




                [cut]
            "#]],
    );
}

#[test]
fn weighed_item_receipt() {
    let apples = line(1, "红富士苹果", "Fuji apples", 1298, 356, true);
    check(
        &sale(
            vec![apples],
            vec![("wechat_pay", 462, Some("134567890123456789"))],
        ),
        Language::Zh,
        false,
        32,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                --------------------------------
                红富士苹果
                  0.356 kg × ￥12.98/kg  ￥4.62
                --------------------------------
                小计                      ￥4.62
                其中税额                  ￥0.38
                [bold 2x] 合计      ￥4.62
                微信支付 …6789           ￥4.62
                --------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
    );
}

#[test]
fn split_tender_receipt() {
    let tenders = vec![
        ("card", 500, Some("4321")),
        ("alipay", 300, Some("286543210987654321")),
        ("cash", 500, None),
    ];
    check(
        &sale(groceries(), tenders),
        Language::Zh,
        false,
        48,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                ------------------------------------------------
                农夫山泉 550ml
                  2 × ￥2.00                             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00                             ￥5.00
                ------------------------------------------------
                小计                                      ￥9.00
                其中税额                                  ￥0.74
                [bold 2x] 合计              ￥9.00
                银行卡 …4321                             ￥5.00
                支付宝 …4321                             ￥3.00
                现金                                      ￥5.00
                找零                                      ￥4.00
                ------------------------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
    );
}

#[test]
fn reprint_is_marked_copy_and_opens_no_drawer() {
    check(
        &sale(groceries(), vec![("cash", 1000, None)]),
        Language::Zh,
        true,
        32,
        expect![[r#"
                [center bold 2x] Till 便利店
                [center] 上海市黄浦区人民大道 100 号
                [center] 税号 91310000MA1FL0000X
                [center bold] *** 重印 COPY ***
                --------------------------------
                农夫山泉 550ml
                  2 × ￥2.00             ￥4.00
                康师傅红烧牛肉面 桶装
                  1 × ￥5.00             ￥5.00
                --------------------------------
                小计                      ￥9.00
                其中税额                  ￥0.74
                [bold 2x] 合计      ￥9.00
                现金                     ￥10.00
                找零                      ￥1.00
                --------------------------------
                [barcode code128] TR1.S001.T01.42
                单号 42  终端 T01  收银员 1001
                2026-11-28 16:48:15
                [center] 谢谢惠顾，欢迎再次光临




                [cut]
            "#]],
    );
}

/// A closed shift: two cash sales, a WeChat Pay sale, a return, paid in and out, ￥2.50 short.
fn z_figures() -> (
    till_domain::shift::ShiftReport,
    crate::receipt::ShiftReportMeta,
) {
    use till_domain::TenderKind;
    use till_domain::shift::{MovementKind, ReturnFigures, SaleHeader, ShiftTally};
    let mut tally = ShiftTally::new(50_000);
    for (seq, total, change, member, kind, paid) in [
        (41, 1_250, 750, true, TenderKind::Cash, 2_000),
        (42, 3_000, 0, false, TenderKind::WeChatPay, 3_000),
        (43, 990, 10, true, TenderKind::Cash, 1_000),
    ] {
        tally.add_sale(&SaleHeader {
            seq,
            subtotal: total,
            discount: 0,
            total,
            rounding: 0,
            change,
            member,
        });
        tally.add_sale_payment(kind, paid);
        tally.add_sale_tax(1300, total * 1300 / 11300);
    }
    tally.add_return(&ReturnFigures {
        refund: 500,
        taxes: vec![(1300, 57)],
        tenders: vec![(TenderKind::Cash, 500)],
    });
    tally.add_movement(MovementKind::PaidIn, 10_000);
    tally.add_movement(MovementKind::PaidOut, 2_000);
    tally.add_movement(MovementKind::NoSale, 0);
    tally.add_void();
    let report = tally.report(Some(59_490));
    let meta = crate::receipt::ShiftReportMeta {
        kind: crate::receipt::ReportKind::Z,
        shift: 7,
        terminal: "T01".into(),
        opened_at: "2026-12-01 08:00".into(),
        opened_by: "1001".into(),
        closed: Some(("2026-12-01 20:05".into(), "9001".into())),
        printed_at: "2026-12-01 20:05".into(),
        counts: vec![
            (10000, 5),
            (5000, 1),
            (2000, 2),
            (1000, 0),
            (100, 4),
            (50, 1),
            (10, 4),
        ],
        currency: till_domain::Currency::CNY,
    };
    (report, meta)
}

fn check_report(language: Language, columns: usize, expected: Expect) {
    let (report, meta) = z_figures();
    let receipt = crate::receipt::shift_report(&report, &meta, &header(), language);
    expected.assert_eq(&printed(&receipt, columns));
}

#[test]
fn z_report_in_chinese_on_58_mm_paper() {
    check_report(
        Language::Zh,
        32,
        expect![[r#"
        [center bold 2x] Till 便利店
        [center bold] Z 报表 No. 7
        终端 T01
        开班 2026-12-01 08:00  1001
        交班 2026-12-01 20:05  9001
        --------------------------------
        销售笔数                       3
        单号                       41-43
        销售额                   ￥52.40
        优惠                      ￥0.00
        退货 (1)                 -￥5.00
        [bold 2x] 净额     ￥47.40
        --------------------------------
        税额 13%                  ￥5.44
        现金                     ￥17.40
        微信支付                 ￥30.00
        --------------------------------
        备用金                  ￥500.00
        现金收入                 ￥17.40
        存入                    ￥100.00
        取出                    -￥20.00
        应有现金                ￥597.40
        实点现金                ￥594.90
        [bold 2x] 差额     -￥2.50
        --------------------------------
        ￥100.00 × 5           ￥500.00
        ￥50.00 × 1             ￥50.00
        ￥20.00 × 2             ￥40.00
        ￥1.00 × 4               ￥4.00
        ￥0.50 × 1               ￥0.50
        ￥0.10 × 4               ￥0.40
        --------------------------------
        会员销售               2 (66.7%)
        作废                           1
        无销售开箱                     1
        --------------------------------
        [center] 打印于 2026-12-01 20:05




        [cut]
    "#]],
    );
}

#[test]
fn z_report_in_english_on_80_mm_paper() {
    check_report(
        Language::En,
        48,
        expect![[r#"
        [center bold 2x] Till 便利店
        [center bold] Z REPORT No. 7
        Terminal T01
        Opened 2026-12-01 08:00  1001
        Closed 2026-12-01 20:05  9001
        ------------------------------------------------
        Sales                                          3
        Receipts                                   41-43
        Gross                                    ￥52.40
        Discounts                                 ￥0.00
        Returns (1)                              -￥5.00
        [bold 2x] NET              ￥47.40
        ------------------------------------------------
        Tax 13%                                   ￥5.44
        Cash                                     ￥17.40
        WeChat Pay                               ￥30.00
        ------------------------------------------------
        Opening float                           ￥500.00
        Cash takings                             ￥17.40
        Paid in                                 ￥100.00
        Paid out                                -￥20.00
        Expected cash                           ￥597.40
        Counted cash                            ￥594.90
        [bold 2x] Over/short       -￥2.50
        ------------------------------------------------
        ￥100.00 × 5                           ￥500.00
        ￥50.00 × 1                             ￥50.00
        ￥20.00 × 2                             ￥40.00
        ￥1.00 × 4                               ￥4.00
        ￥0.50 × 1                               ￥0.50
        ￥0.10 × 4                               ￥0.40
        ------------------------------------------------
        Member sales                           2 (66.7%)
        Voids                                          1
        No-sale openings                               1
        ------------------------------------------------
        [center] Printed 2026-12-01 20:05




        [cut]
    "#]],
    );
}

#[test]
fn z_report_in_chinese_on_80_mm_paper() {
    check_report(
        Language::Zh,
        48,
        expect![[r#"
        [center bold 2x] Till 便利店
        [center bold] Z 报表 No. 7
        终端 T01
        开班 2026-12-01 08:00  1001
        交班 2026-12-01 20:05  9001
        ------------------------------------------------
        销售笔数                                       3
        单号                                       41-43
        销售额                                   ￥52.40
        优惠                                      ￥0.00
        退货 (1)                                 -￥5.00
        [bold 2x] 净额             ￥47.40
        ------------------------------------------------
        税额 13%                                  ￥5.44
        现金                                     ￥17.40
        微信支付                                 ￥30.00
        ------------------------------------------------
        备用金                                  ￥500.00
        现金收入                                 ￥17.40
        存入                                    ￥100.00
        取出                                    -￥20.00
        应有现金                                ￥597.40
        实点现金                                ￥594.90
        [bold 2x] 差额             -￥2.50
        ------------------------------------------------
        ￥100.00 × 5                           ￥500.00
        ￥50.00 × 1                             ￥50.00
        ￥20.00 × 2                             ￥40.00
        ￥1.00 × 4                               ￥4.00
        ￥0.50 × 1                               ￥0.50
        ￥0.10 × 4                               ￥0.40
        ------------------------------------------------
        会员销售                               2 (66.7%)
        作废                                           1
        无销售开箱                                     1
        ------------------------------------------------
        [center] 打印于 2026-12-01 20:05




        [cut]
    "#]],
    );
}

#[test]
fn z_report_in_english_on_58_mm_paper() {
    check_report(
        Language::En,
        32,
        expect![[r#"
        [center bold 2x] Till 便利店
        [center bold] Z REPORT No. 7
        Terminal T01
        Opened 2026-12-01 08:00  1001
        Closed 2026-12-01 20:05  9001
        --------------------------------
        Sales                          3
        Receipts                   41-43
        Gross                    ￥52.40
        Discounts                 ￥0.00
        Returns (1)              -￥5.00
        [bold 2x] NET      ￥47.40
        --------------------------------
        Tax 13%                   ￥5.44
        Cash                     ￥17.40
        WeChat Pay               ￥30.00
        --------------------------------
        Opening float           ￥500.00
        Cash takings             ￥17.40
        Paid in                 ￥100.00
        Paid out                -￥20.00
        Expected cash           ￥597.40
        Counted cash            ￥594.90
        [bold 2x] Over/short
        [bold 2x]          -￥2.50
        --------------------------------
        ￥100.00 × 5           ￥500.00
        ￥50.00 × 1             ￥50.00
        ￥20.00 × 2             ￥40.00
        ￥1.00 × 4               ￥4.00
        ￥0.50 × 1               ￥0.50
        ￥0.10 × 4               ￥0.40
        --------------------------------
        Member sales           2 (66.7%)
        Voids                          1
        No-sale openings               1
        --------------------------------
        [center] Printed 2026-12-01 20:05




        [cut]
    "#]],
    );
}

/// Two of the three waters of sale #42 back to cash, from a member who loses 4 points.
fn water_return() -> crate::store::CommittedReturn {
    use till_sync::ops::{Op, OpRecord, RefundTender, Return, ReturnLine};
    let sale = sale(groceries(), vec![("cash", 1000, None)]);
    let ret = Return {
        sale_store: "S001".into(),
        sale_terminal: "T01".into(),
        sale_seq: 42,
        sale_id: sale.sale_id.clone(),
        member_id: Some("10086".into()),
        lines: vec![ReturnLine {
            line_no: 1,
            sku: "1".into(),
            name: "农夫山泉 550ml".into(),
            qty_milli: 1000,
            amount: 200,
            tax: 17,
            tax_rate_bp: 900,
        }],
        refund: 200,
        tenders: vec![RefundTender {
            kind: "cash".into(),
            amount: 200,
            reference: None,
        }],
        points: 2,
        reason: "破损 damaged".into(),
    };
    let record = OpRecord {
        v: 1,
        op_id: "01a20416-3a15-72fa-b280-718411aa7999".into(),
        store: "S001".into(),
        terminal: "T01".into(),
        seq: 7,
        at_ms: 1_795_859_295_000,
        utc_offset_s: 8 * 3600,
        staff: "1001".into(),
        approver: Some("9001".into()),
        shift: Some(3),
        op: Op::Return(ret.clone()),
    };
    crate::store::CommittedReturn { record, ret, sale }
}

fn check_return(language: Language, columns: usize, expected: Expect) {
    let receipt = crate::receipt::return_receipt(
        &water_return(),
        &header(),
        language,
        till_domain::Currency::CNY,
    );
    expected.assert_eq(&printed(&receipt, columns));
}

#[test]
fn return_receipt_in_chinese_on_58_mm_paper() {
    check_return(
        Language::Zh,
        32,
        expect![[r#"
            [center bold 2x] Till 便利店
            [center bold] 退货 RETURN
            原单 TR1.S001.T01.42
            --------------------------------
            农夫山泉 550ml
              -1 × ￥2.00           -￥2.00
            --------------------------------
            [bold 2x] 退款      ￥2.00
            现金                      ￥2.00
            扣回积分 -2
            原因 破损 damaged
            --------------------------------
            退货单 R7  终端 T01
            收银员 1001
            批准 9001
            2026-11-28 17:48:15




            [cut]
        "#]],
    );
}

#[test]
fn return_receipt_in_english_on_80_mm_paper() {
    check_return(
        Language::En,
        48,
        expect![[r#"
            [center bold 2x] Till 便利店
            [center bold] 退货 RETURN
            Original sale TR1.S001.T01.42
            ------------------------------------------------
            Nongfu Spring water 550ml
              -1 × ￥2.00                           -￥2.00
            ------------------------------------------------
            [bold 2x] REFUND            ￥2.00
            Cash                                      ￥2.00
            Points taken back -2
            Reason 破损 damaged
            ------------------------------------------------
            Return R7  Terminal T01
            Cashier 1001
            Approved by 9001
            2026-11-28 17:48:15




            [cut]
        "#]],
    );
}

fn check_cash_slip(language: Language, columns: usize, expected: Expect) {
    use till_sync::ops::{CashMovement, Op, OpRecord};
    let record = OpRecord {
        v: 1,
        op_id: "01a20416-3a15-72fa-b280-718411aa7998".into(),
        store: "S001".into(),
        terminal: "T01".into(),
        seq: 12,
        at_ms: 1_795_859_295_000,
        utc_offset_s: 8 * 3600,
        staff: "1001".into(),
        approver: Some("9001".into()),
        shift: Some(3),
        op: Op::PaidOut(CashMovement {
            amount: 12_050,
            reason: "供应商付款 supplier".into(),
        }),
    };
    let slip = crate::receipt::cash_slip(&record, &header(), language, till_domain::Currency::CNY)
        .unwrap();
    expected.assert_eq(&printed(&slip, columns));
}

#[test]
fn paid_out_slip_in_chinese_on_58_mm_paper() {
    check_cash_slip(
        Language::Zh,
        32,
        expect![[r#"
            [center bold 2x] Till 便利店
            [center bold] 取出 PAID OUT
            --------------------------------
            [bold 2x] 金额    ￥120.50
            原因 供应商付款 supplier
            --------------------------------
            #12  终端 T01  班次 3
            收银员 1001
            批准 9001
            签字：__________
            2026-11-28 17:48:15




            [cut]
        "#]],
    );
}

#[test]
fn paid_out_slip_in_english_on_80_mm_paper() {
    check_cash_slip(
        Language::En,
        48,
        expect![[r#"
            [center bold 2x] Till 便利店
            [center bold] 取出 PAID OUT
            ------------------------------------------------
            [bold 2x] AMOUNT          ￥120.50
            Reason 供应商付款 supplier
            ------------------------------------------------
            #12  Terminal T01  Shift 3
            Cashier 1001
            Approved by 9001
            Signed: __________
            2026-11-28 17:48:15




            [cut]
        "#]],
    );
}
