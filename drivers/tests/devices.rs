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
    for _ in 0..200 {
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
    let problems = vp.state.problems();
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
