//! The drivers against real peers: the virtual printer over TCP on 127.0.0.1, and files.

use std::io::Write;
use std::sync::atomic::Ordering;

use till_drivers::document::{Align, Block, Cut, Document, Style};
use till_drivers::escpos::{PrintSettings, TextEncoding, encode};
use till_drivers::printer::{PrintError, Printer, PrinterAddress};
use till_drivers::virtual_printer::VirtualPrinter;

fn receipt(title: &str) -> Vec<u8> {
    let mut doc = Document::default();
    doc.text(title, Align::Center, Style::LARGE)
        .pair("红富士苹果 0.356 kg", "￥4.62", Style::PLAIN)
        .push(Block::Qr(
            "https://hq.example.com/c/S001-T01-7.ABCDEFGHIJKLMNOP".into(),
        ));
    doc.open_drawer = true;
    doc.cut = Cut::Full;
    encode(
        &doc,
        &PrintSettings {
            columns: 32,
            encoding: TextEncoding::Gb18030,
        },
    )
    .unwrap()
    .bytes
}

fn virtual_printer() -> (tempfile::TempDir, VirtualPrinter) {
    let dir = tempfile::tempdir().unwrap();
    let printer = VirtualPrinter::spawn("127.0.0.1:0", dir.path()).unwrap();
    (dir, printer)
}

fn wait_for(printer: &VirtualPrinter, receipts: usize) {
    for _ in 0..1000 {
        if printer.state.receipts_printed() >= receipts {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!(
        "printer has {} receipts, expected {receipts}",
        printer.state.receipts_printed()
    );
}

#[test]
fn prints_over_tcp_and_the_virtual_printer_reads_it_back() {
    let (_dir, vp) = virtual_printer();
    let printer = Printer::new(PrinterAddress::Tcp(vp.address.to_string()));
    assert_eq!(printer.status().unwrap().unwrap().blocking_error(), None);
    printer.print(&receipt("便利店")).unwrap();
    wait_for(&vp, 1);
    let text = vp.receipt(1).unwrap();
    assert!(text.starts_with("[center bold 2x] 便利店\n"), "{text}");
    let pair = text.lines().nth(1).unwrap();
    assert!(
        pair.starts_with("红富士苹果 0.356 kg ") && pair.ends_with(" ￥4.62"),
        "{text}"
    );
    assert_eq!(
        unicode_width::UnicodeWidthStr::width(pair),
        32,
        "amount flush right at 32 columns"
    );
    assert!(
        text.contains("[qr] https://hq.example.com/c/S001-T01-7.ABCDEFGHIJKLMNOP"),
        "{text}"
    );
    assert!(
        text.contains("[drawer pulse pin 2, 50 ms on, 500 ms off]"),
        "{text}"
    );
    assert!(text.ends_with("[cut]\n"), "{text}");
    assert!(vp.state.problems().is_empty(), "{:?}", vp.state.problems());
}

#[test]
fn paper_out_is_reported_and_nothing_is_sent() {
    let (_dir, vp) = virtual_printer();
    vp.state.paper_out.store(true, Ordering::SeqCst);
    let printer = Printer::new(PrinterAddress::Tcp(vp.address.to_string()));
    assert!(printer.status().unwrap().unwrap().paper_out);
    assert_eq!(printer.print(&receipt("one")), Err(PrintError::PaperOut));
    vp.state.paper_out.store(false, Ordering::SeqCst);
    printer.print(&receipt("two")).unwrap();
    wait_for(&vp, 1);
    assert!(vp.receipt(1).unwrap().contains("two"));
    assert!(vp.receipt(2).is_err(), "the refused receipt never printed");
}

#[test]
fn an_unreachable_printer_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let printer = Printer::new(PrinterAddress::Tcp(port.to_string()));
    let error = printer.print(&receipt("x")).unwrap_err();
    assert!(matches!(error, PrintError::Unreachable(_)), "{error}");
    assert!(
        error.to_string().starts_with("printer unreachable: "),
        "{error}"
    );
}

#[test]
fn a_stream_cut_off_mid_command_is_reported_not_fatal() {
    let (_dir, vp) = virtual_printer();
    let bytes = receipt("whole");
    // Everything up to the middle of the QR code's store command, then the connection drops.
    let qr = bytes
        .windows(3)
        .position(|w| w == [0x1D, 0x28, 0x6B])
        .unwrap();
    let mut stream = std::net::TcpStream::connect(vp.address).unwrap();
    stream.write_all(&bytes[..qr + 20]).unwrap();
    drop(stream);
    Printer::new(PrinterAddress::Tcp(vp.address.to_string()))
        .print(&bytes)
        .unwrap();
    wait_for(&vp, 1);
    assert!(
        vp.receipt(1).unwrap().contains("whole"),
        "the next receipt prints whole"
    );
    // The cut-off connection is decoded on its own thread, which may finish after the whole
    // receipt has printed: give it a moment to report.
    let mut problems = vp.state.problems();
    for _ in 0..200 {
        if problems.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        problems = vp.state.problems();
    }
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("stream ends inside a command at byte")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p == "the last receipt was not cut"),
        "{problems:?}"
    );
}

#[test]
fn prints_to_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printer.bin");
    let printer = Printer::new(PrinterAddress::File(path.clone()));
    assert_eq!(
        printer.status().unwrap(),
        None,
        "a file cannot report status"
    );
    printer.print(&receipt("first")).unwrap();
    printer.print(&receipt("second")).unwrap();
    let mut decoder = till_drivers::decode::Decoder::new();
    let receipts = decoder.feed(&std::fs::read(&path).unwrap());
    assert_eq!(receipts.len(), 2);
}

mod scanners {
    use std::sync::mpsc::{Receiver, channel};
    use std::time::{Duration, Instant};

    use till_drivers::scanner::{Framing, ScannerConfig, ScannerEvent, spawn};
    use till_drivers::virtual_scanner::VirtualScanner;

    fn next(events: &Receiver<ScannerEvent>) -> ScannerEvent {
        events
            .recv_timeout(Duration::from_secs(10))
            .expect("a scanner event within 10 s")
    }

    /// Skips connection events and returns the next scan or discard.
    fn next_scan(events: &Receiver<ScannerEvent>) -> ScannerEvent {
        loop {
            match next(events) {
                ScannerEvent::Connected { .. } => continue,
                other => return other,
            }
        }
    }

    fn scanned(code: &str) -> ScannerEvent {
        ScannerEvent::Scan {
            scanner: "handheld".into(),
            code: code.into(),
        }
    }

    fn attach(
        port: &str,
        framing: Framing,
    ) -> (till_drivers::scanner::ScannerHandle, Receiver<ScannerEvent>) {
        let mut config = ScannerConfig::new("handheld", port);
        config.framing = framing;
        config.max_len = 64;
        let (tx, rx) = channel();
        let handle = spawn(config, tx).unwrap();
        assert!(matches!(next(&rx), ScannerEvent::Connected { .. }));
        (handle, rx)
    }

    #[test]
    fn every_framing_through_a_real_pty() {
        for framing in [Framing::Cr, Framing::Lf, Framing::CrLf] {
            let mut vs = VirtualScanner::new(9600).unwrap();
            let (_handle, events) = attach(vs.path.to_str().unwrap(), framing);
            vs.scan("4006381333931", framing).unwrap();
            vs.scan("TM1.10086.59372011.ABCDEFGHIJ234567", framing)
                .unwrap();
            assert_eq!(next_scan(&events), scanned("4006381333931"), "{framing:?}");
            assert_eq!(
                next_scan(&events),
                scanned("TM1.10086.59372011.ABCDEFGHIJ234567"),
                "{framing:?}"
            );
        }
    }

    #[test]
    fn a_code_split_across_reads_arrives_whole() {
        let mut vs = VirtualScanner::new(9600).unwrap();
        let (_handle, events) = attach(vs.path.to_str().unwrap(), Framing::CrLf);
        vs.write_raw(b"400638").unwrap();
        std::thread::sleep(Duration::from_millis(250));
        vs.write_raw(b"1333931\r").unwrap();
        std::thread::sleep(Duration::from_millis(250));
        vs.write_raw(b"\n").unwrap();
        assert_eq!(next_scan(&events), scanned("4006381333931"));
    }

    #[test]
    fn a_burst_of_100_codes_loses_none() {
        let mut vs = VirtualScanner::new(115_200).unwrap();
        let (_handle, events) = attach(vs.path.to_str().unwrap(), Framing::Cr);
        let codes: Vec<String> = (0..100).map(|i| format!("69{i:011}")).collect();
        let burst: Vec<u8> = codes
            .iter()
            .flat_map(|c| format!("{c}\r").into_bytes())
            .collect();
        vs.write_raw(&burst).unwrap();
        for code in &codes {
            assert_eq!(next_scan(&events), scanned(code));
        }
    }

    #[test]
    fn garbage_and_over_long_input_are_discarded_with_a_reason() {
        let mut vs = VirtualScanner::new(9600).unwrap();
        let (_handle, events) = attach(vs.path.to_str().unwrap(), Framing::Cr);
        vs.write_raw(b"4006\x07381333931\r").unwrap();
        vs.write_raw(&[b'7'; 10 * 1024]).unwrap();
        vs.write_raw(b"\r73513537\r").unwrap();
        let discarded = |e: ScannerEvent| match e {
            ScannerEvent::Discarded { reason, .. } => reason,
            other => panic!("expected a discard, got {other:?}"),
        };
        assert_eq!(
            discarded(next_scan(&events)),
            "garbage byte 0x07 inside a scan; discarded"
        );
        assert_eq!(
            discarded(next_scan(&events)),
            "over-long input discarded (10240 bytes, at most 64)"
        );
        assert_eq!(next_scan(&events), scanned("73513537"));
    }

    #[test]
    fn unplugging_and_replugging_recovers() {
        let dir = tempfile::tempdir().unwrap();
        // Like /dev/serial/by-id/…: a stable name that points at whatever device is plugged in.
        let link = dir.path().join("scanner");
        let vs = VirtualScanner::new(9600).unwrap();
        std::os::unix::fs::symlink(&vs.path, &link).unwrap();
        let (_handle, events) = attach(link.to_str().unwrap(), Framing::Cr);

        drop(vs);
        let started = Instant::now();
        assert!(
            matches!(next(&events), ScannerEvent::Disconnected { .. }),
            "the till notices the unplug"
        );
        assert!(started.elapsed() < Duration::from_secs(5));

        let mut replugged = VirtualScanner::new(9600).unwrap();
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&replugged.path, &link).unwrap();
        assert!(
            matches!(next(&events), ScannerEvent::Connected { .. }),
            "and reconnects"
        );
        replugged.scan("6901028075831", Framing::Cr).unwrap();
        assert_eq!(next_scan(&events), scanned("6901028075831"));
    }

    #[test]
    fn a_missing_port_is_reported_and_retried() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttyACM9");
        let (tx, rx) = channel();
        let _handle = spawn(ScannerConfig::new("handheld", path.to_str().unwrap()), tx).unwrap();
        let ScannerEvent::Disconnected { reason, .. } = next(&rx) else {
            panic!("no report")
        };
        assert!(
            reason.starts_with(&format!("cannot open {}", path.display())),
            "{reason}"
        );
        let mut vs = VirtualScanner::new(9600).unwrap();
        std::os::unix::fs::symlink(&vs.path, &path).unwrap();
        assert!(matches!(next(&rx), ScannerEvent::Connected { .. }));
        vs.scan("73513537", Framing::Cr).unwrap();
        assert_eq!(
            next_scan(&rx),
            ScannerEvent::Scan {
                scanner: "handheld".into(),
                code: "73513537".into()
            }
        );
    }
}

/// Real devices, run with `cargo test -p till-drivers --features hardware-tests` and
/// `TILL_TEST_PRINTER=tcp:192.168.1.50:9100` (or `usb:/dev/usb/lp0`, `serial:/dev/ttyUSB0`)
/// and `TILL_TEST_SCANNER=/dev/ttyACM0`.
#[cfg(feature = "hardware-tests")]
mod hardware {
    use std::time::Duration;

    use till_drivers::document::{Align, Block, Document, Style};
    use till_drivers::escpos::{PrintSettings, TextEncoding, encode};
    use till_drivers::printer::{Printer, PrinterAddress};
    use till_drivers::scanner::{ScannerConfig, ScannerEvent, spawn};

    fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| panic!("set {name} to run the hardware tests"))
    }

    #[test]
    fn a_real_printer_reports_status_and_prints_chinese() {
        let address = PrinterAddress::parse(&env("TILL_TEST_PRINTER"), 9600).unwrap();
        let printer = Printer::new(address);
        if let Some(status) = printer.status().unwrap() {
            assert_eq!(status.blocking_error(), None, "{status:?}");
        }
        let mut doc = Document::default();
        doc.text("Till 硬件测试", Align::Center, Style::LARGE)
            .pair("康师傅红烧牛肉面", "￥5.00", Style::PLAIN)
            .push(Block::Barcode("TR1.TEST.T01.1".into()))
            .push(Block::Qr("https://example.com/till".into()));
        let bytes = encode(
            &doc,
            &PrintSettings {
                columns: 48,
                encoding: TextEncoding::Gb18030,
            },
        )
        .unwrap()
        .bytes;
        printer.print(&bytes).unwrap();
    }

    #[test]
    fn a_real_scanner_delivers_a_scan() {
        let (tx, rx) = std::sync::mpsc::channel();
        let _scanner = spawn(
            ScannerConfig::new("hardware", &env("TILL_TEST_SCANNER")),
            tx,
        )
        .unwrap();
        println!("scan any barcode within 30 s");
        loop {
            match rx
                .recv_timeout(Duration::from_secs(30))
                .expect("no scan within 30 s")
            {
                ScannerEvent::Scan { code, .. } => {
                    assert!(!code.is_empty());
                    return;
                }
                ScannerEvent::Disconnected { reason, .. } => panic!("{reason}"),
                _ => {}
            }
        }
    }
}
