//! Turns a laid-out [`Document`] into ESC/POS bytes, with the `escpos` crate as the encoder.
//!
//! Chinese printers get GB18030 text after `FS &` (Chinese character mode). Other printers get
//! a single-byte code page; characters it cannot hold print as `?` and are reported back as
//! warnings rather than failing the receipt.

use std::cell::RefCell;
use std::rc::Rc;

use encoding_rs::Encoding;
use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};

use crate::document::{Align, CharWidth, Cut, Document, Line, layout};

/// `FS &`: enter Chinese character mode, so GB18030 bytes print as Hanzi.
pub const CHINESE_MODE: [u8; 2] = [0x1C, 0x26];
/// `ESC p 0 25 250`: a 50 ms / 500 ms pulse on drawer pin 2. The escpos crate's own
/// `cash_drawer()` emits a truncated command, so Till sends all five bytes itself.
pub const DRAWER_PULSE: [u8; 5] = [0x1B, 0x70, 0x00, 0x19, 0xFA];
/// `DLE DC4 1 0 1`: the real-time drawer pulse (pin 2, 100 ms), which Epson-compatible
/// printers carry out at once even when out of paper, with the cover open or offline.
pub const REAL_TIME_DRAWER_PULSE: [u8; 5] = [0x10, 0x14, 0x01, 0x00, 0x01];

/// `GS V B 0`: partial cut (one point left uncut), no extra feed.
pub const PARTIAL_CUT: [u8; 4] = [0x1D, 0x56, 0x42, 0x00];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// GB18030 in Chinese character mode: every character prints.
    Gb18030,
    /// A Windows single-byte code page, selected with `ESC t n`.
    CodePage {
        encoding: &'static Encoding,
        escpos_table: u8,
    },
}

impl TextEncoding {
    /// How many columns each character takes on a printer in this mode.
    pub fn widths(self) -> CharWidth {
        match self {
            TextEncoding::Gb18030 => CharWidth::Gb18030,
            TextEncoding::CodePage { .. } => CharWidth::SingleByte,
        }
    }

    /// Western European printers: Windows-1252 is table 16 on Epson-compatible printers.
    pub const WESTERN: TextEncoding = TextEncoding::CodePage {
        encoding: encoding_rs::WINDOWS_1252,
        escpos_table: 16,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrintSettings {
    /// 32 for 58 mm paper, 48 for 80 mm, or whatever the printer's font gives.
    pub columns: usize,
    pub encoding: TextEncoding,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot encode the receipt: {0}")]
    Escpos(String),
    #[error("barcode data {0:?} is not printable ASCII")]
    BarcodeData(String),
}

/// Encoded bytes, with a warning for every character the code page could not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub warnings: Vec<String>,
}

/// Collects what the escpos printer writes, so encoding needs no device.
#[derive(Clone, Default)]
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Driver for Buffer {
    fn name(&self) -> String {
        "buffer".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

fn escpos_err(e: escpos::errors::PrinterError) -> EncodeError {
    EncodeError::Escpos(e.to_string())
}

/// Encodes a document for one printer.
pub fn encode(document: &Document, settings: &PrintSettings) -> Result<Encoded, EncodeError> {
    let buffer = Buffer::default();
    let encoding = match settings.encoding {
        TextEncoding::Gb18030 => encoding_rs::GB18030,
        TextEncoding::CodePage { encoding, .. } => encoding,
    };
    let protocol = Protocol::new(escpos::utils::Encoder::new(encoding));
    let mut printer = Printer::new(buffer.clone(), protocol, None);
    let mut warnings = Vec::new();
    printer.init().map_err(escpos_err)?;
    match settings.encoding {
        TextEncoding::Gb18030 => printer.custom(&CHINESE_MODE),
        TextEncoding::CodePage { escpos_table, .. } => printer.custom(&[0x1B, 0x74, escpos_table]),
    }
    .map_err(escpos_err)?;
    for line in layout(document, settings.columns, settings.encoding.widths()) {
        match line {
            Line::Text { text, style, align } => {
                let text = printable(&text, encoding, &mut warnings);
                printer
                    .justify(match align {
                        Align::Left => JustifyMode::LEFT,
                        Align::Center => JustifyMode::CENTER,
                        Align::Right => JustifyMode::RIGHT,
                    })
                    .and_then(|p| p.bold(style.bold))
                    .and_then(|p| {
                        if style.large {
                            p.size(2, 2)
                        } else {
                            p.reset_size()
                        }
                    })
                    .and_then(|p| p.writeln(&text))
                    .map_err(escpos_err)?;
            }
            Line::Barcode(data) => {
                let command = code128(&data)?;
                printer
                    .justify(JustifyMode::CENTER)
                    .and_then(|p| p.custom(&command))
                    .map_err(escpos_err)?;
            }
            Line::Qr(data) => {
                let option = QRCodeOption::new(QRCodeModel::Model2, 6, QRCodeCorrectionLevel::M);
                printer
                    .justify(JustifyMode::CENTER)
                    .and_then(|p| p.qrcode_option(&data, option))
                    .map_err(escpos_err)?;
            }
        }
    }
    printer
        .justify(JustifyMode::LEFT)
        .and_then(|p| p.reset_size())
        .and_then(|p| p.bold(false))
        .map_err(escpos_err)?;
    // The pulse goes before the cut, so it belongs to this receipt on any printer that
    // buffers until the cut.
    if document.open_drawer {
        printer.custom(&DRAWER_PULSE).map_err(escpos_err)?;
    }
    match document.cut {
        Cut::Full => printer.feeds(4).and_then(|p| p.cut()),
        // escpos 0.20's partial_cut() sends `GS V A 1`, which is a full cut after one line of
        // feed; `GS V B 0` is the partial cut.
        Cut::Partial => printer.feeds(4).and_then(|p| p.custom(&PARTIAL_CUT)),
        Cut::None => printer.feeds(2),
    }
    .map_err(escpos_err)?;
    printer.print().map_err(escpos_err)?;
    let bytes = buffer.0.borrow().clone();
    Ok(Encoded { bytes, warnings })
}

/// `text` with every character `encoding` cannot hold replaced by `?`, each one reported.
fn printable(text: &str, encoding: &'static Encoding, warnings: &mut Vec<String>) -> String {
    if encoding == encoding_rs::GB18030 {
        // GB18030 maps all of Unicode.
        return text.to_string();
    }
    text.chars()
        .map(|ch| {
            let mut utf8 = [0u8; 4];
            let (_, _, unmappable) = encoding.encode(ch.encode_utf8(&mut utf8));
            if unmappable {
                warnings.push(format!(
                    "{} cannot print {ch:?}; printed ? instead",
                    encoding.name()
                ));
                '?'
            } else {
                ch
            }
        })
        .collect()
}

/// `GS h`, `GS w`, `GS H` then `GS k 73`: a Code 128 barcode in code set B, 80 dots high,
/// with its text printed below.
fn code128(data: &str) -> Result<Vec<u8>, EncodeError> {
    if data.is_empty() || data.len() > 250 || !data.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return Err(EncodeError::BarcodeData(data.to_string()));
    }
    let mut command = vec![0x1D, 0x68, 80, 0x1D, 0x77, 2, 0x1D, 0x48, 2, 0x1D, 0x6B, 73];
    command.push(u8::try_from(data.len() + 2).unwrap_or(u8::MAX));
    command.extend_from_slice(b"{B");
    command.extend_from_slice(data.as_bytes());
    Ok(command)
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::decode::{Decoder, Event};
    use crate::document::{Block, Style};

    fn sample() -> Document {
        let mut doc = Document::default();
        doc.text("Till 便利店", Align::Center, Style::LARGE)
            .push(Block::Rule)
            .text(
                "康师傅红烧牛肉面 桶装 Master Kong braised beef noodles",
                Align::Left,
                Style::PLAIN,
            )
            .pair("  2 × ￥5.00", "￥10.00", Style::PLAIN)
            .pair("合计 Total", "￥10.00", Style::BOLD)
            .push(Block::Barcode("TR1.S001.T01.42".into()))
            .push(Block::Qr(
                "https://hq.example.com/c/S001-T01-42.ABCDEFGHIJKLMNOP".into(),
            ));
        doc.open_drawer = true;
        doc
    }

    fn decode_one(bytes: &[u8]) -> String {
        let mut decoder = Decoder::new();
        let events = decoder.feed(bytes);
        assert!(decoder.problems().is_empty(), "{:?}", decoder.problems());
        let receipts: Vec<String> = events
            .into_iter()
            .filter_map(|e| match e {
                Event::Receipt(r) => Some(r.text()),
                Event::StatusRequest(_) | Event::DrawerPulse { .. } => None,
            })
            .collect();
        assert_eq!(receipts.len(), 1);
        receipts[0].clone()
    }

    #[test]
    fn chinese_receipt_round_trips_through_gb18030() {
        let settings = PrintSettings {
            columns: 32,
            encoding: TextEncoding::Gb18030,
        };
        let encoded = encode(&sample(), &settings).unwrap();
        assert!(encoded.warnings.is_empty());
        assert!(encoded.bytes.windows(2).any(|w| w == CHINESE_MODE));
        assert!(
            encoded.bytes.windows(5).any(|w| w == DRAWER_PULSE),
            "the full 5-byte pulse"
        );
        expect![[r#"
            [center bold 2x] Till 便利店
            --------------------------------
            康师傅红烧牛肉面 桶装 Master
            Kong braised beef noodles
              2 × ￥5.00            ￥10.00
            [bold] 合计 Total               ￥10.00
            [barcode code128] TR1.S001.T01.42
            [qr] https://hq.example.com/c/S001-T01-42.ABCDEFGHIJKLMNOP
            [drawer pulse pin 2, 50 ms on, 500 ms off]




            [cut]
        "#]]
        .assert_eq(&decode_one(&encoded.bytes));
    }

    /// Columns a line takes on a printer in Chinese mode, worked out from the bytes it is sent
    /// as: a single GB18030 byte prints one column, a multi-byte character two.
    fn printed_columns(line: &str) -> usize {
        line.chars()
            .map(|ch| {
                let mut utf8 = [0u8; 4];
                let (bytes, _, _) = encoding_rs::GB18030.encode(ch.encode_utf8(&mut utf8));
                if bytes.len() == 1 { 1 } else { 2 }
            })
            .sum()
    }

    #[test]
    fn gb18030_lines_fit_the_paper_as_printed() {
        for columns in [32, 48] {
            for symbol in ["×", "·", "°", "±", "—", "…", "①", "α", "Ж", "é"] {
                let mut doc = Document::default();
                doc.pair(format!("  2 {symbol} ￥5.00"), "￥10.00", Style::PLAIN)
                    .pair(format!("温度 37{symbol}5 Temp"), "￥1.00", Style::PLAIN)
                    .text(symbol.repeat(40), Align::Left, Style::PLAIN);
                let settings = PrintSettings {
                    columns,
                    encoding: TextEncoding::Gb18030,
                };
                let text = decode_one(&encode(&doc, &settings).unwrap().bytes);
                let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
                for line in &lines {
                    assert!(
                        printed_columns(line) <= columns,
                        "{line:?} prints {} columns on {columns}-column paper",
                        printed_columns(line)
                    );
                }
                // The amounts stand flush with the right edge.
                for pair in &lines[..2] {
                    assert_eq!(printed_columns(pair), columns, "{pair:?}");
                }
            }
        }
    }

    #[test]
    fn a_code_page_printer_gets_question_marks_and_a_warning() {
        let settings = PrintSettings {
            columns: 48,
            encoding: TextEncoding::WESTERN,
        };
        let mut doc = Document::default();
        doc.text("Café 咖啡", Align::Left, Style::PLAIN);
        doc.cut = Cut::Partial;
        let encoded = encode(&doc, &settings).unwrap();
        assert_eq!(encoded.warnings.len(), 2, "{:?}", encoded.warnings);
        let text = decode_one(&encoded.bytes);
        assert!(text.starts_with("Café ??\n"), "{text}");
        assert!(text.ends_with("[partial cut]\n"), "{text}");
    }
}
