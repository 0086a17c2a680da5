//! Decodes an ESC/POS byte stream back into readable receipts: the virtual printer's core, and
//! how tests read what Till really sent.
//!
//! The decoder is fed bytes as they arrive and keeps an incomplete command until the rest
//! comes. Every printed line becomes text; styles, barcodes, QR codes, cuts and drawer pulses
//! become bracketed markers, e.g. `[center bold 2x] 合计 ￥24.62`, `[qr] https://…`, `[cut]`.

use std::fmt::Write;

/// What the stream asked for besides printing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A receipt ended with a cut.
    Receipt(DecodedReceipt),
    /// `DLE EOT n`: the host wants real-time status `n` (1–4) and waits for one byte.
    StatusRequest(u8),
    /// A cash drawer pulse on its own, outside any receipt: `ESC p m t1 t2` between receipts,
    /// or the real-time `DLE DC4 1 m t`, which a printer carries out even when it is out of
    /// paper or its cover is open.
    DrawerPulse {
        /// The connector pin, 2 or 5.
        pin: u8,
        /// How long the pulse is on, in ms.
        on_ms: u32,
        /// Sent as the real-time command.
        real_time: bool,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedReceipt {
    pub lines: Vec<String>,
}

impl DecodedReceipt {
    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Style {
    bold: bool,
    double_width: bool,
    double_height: bool,
    align: u8,
}

#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    /// Bytes consumed so far, to say where a problem is.
    offset: usize,
    text: Vec<u8>,
    style: Style,
    line_style: Option<Style>,
    chinese: bool,
    code_page: u8,
    qr_data: Option<String>,
    partial_line: String,
    current: DecodedReceipt,
    done: Vec<DecodedReceipt>,
    problems: Vec<String>,
}

enum Step {
    /// A whole command of this many bytes was handled.
    Consumed(usize),
    /// The command continues past the bytes we have.
    NeedMore,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Things the stream did wrong: unknown commands, and a stream cut off mid-command.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Decodes what it can of `bytes` and returns what happened.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match self.step(at, &mut events) {
                Step::Consumed(n) => at += n,
                Step::NeedMore => break,
            }
        }
        self.pending.drain(..at);
        self.offset += at;
        events.extend(self.done.drain(..).map(Event::Receipt));
        events
    }

    /// Ends the stream: reports a command left incomplete and a receipt that was never cut.
    pub fn finish(&mut self) -> Option<DecodedReceipt> {
        if !self.pending.is_empty() {
            self.problems.push(format!(
                "stream ends inside a command at byte {} ({})",
                self.offset,
                hex(&self.pending[..self.pending.len().min(8)])
            ));
            self.pending.clear();
        }
        self.end_line(false);
        if self.current.lines.is_empty() {
            return None;
        }
        self.problems.push("the last receipt was not cut".into());
        Some(std::mem::take(&mut self.current))
    }

    fn step(&mut self, at: usize, events: &mut Vec<Event>) -> Step {
        let buf = &self.pending[at..];
        let arg = |i: usize| buf.get(i).copied();
        match buf[0] {
            0x0A => {
                self.end_line(true);
                Step::Consumed(1)
            }
            0x0D => Step::Consumed(1),
            0x10 => match (arg(1), arg(2)) {
                (Some(0x04), Some(n)) => {
                    events.push(Event::StatusRequest(n));
                    Step::Consumed(3)
                }
                (Some(0x14), Some(1)) => match (arg(3), arg(4)) {
                    (Some(m), Some(t)) => {
                        events.push(Event::DrawerPulse {
                            pin: (m & 1) * 3 + 2,
                            on_ms: u32::from(t.clamp(1, 8)) * 100,
                            real_time: true,
                        });
                        Step::Consumed(5)
                    }
                    _ => Step::NeedMore,
                },
                (Some(_), Some(_)) => self.unknown(at, 2),
                _ => Step::NeedMore,
            },
            0x1B => self.esc(at, events),
            0x1D => self.gs(at),
            0x1C => match arg(1) {
                Some(0x26) => {
                    self.flush_text();
                    self.chinese = true;
                    Step::Consumed(2)
                }
                Some(0x2E) => {
                    self.flush_text();
                    self.chinese = false;
                    Step::Consumed(2)
                }
                Some(_) => self.unknown(at, 2),
                None => Step::NeedMore,
            },
            byte => {
                if self.line_style.is_none() {
                    self.line_style = Some(self.style);
                }
                self.text.push(byte);
                Step::Consumed(1)
            }
        }
    }

    fn esc(&mut self, at: usize, events: &mut Vec<Event>) -> Step {
        let buf = &self.pending[at..];
        let Some(&command) = buf.get(1) else {
            return Step::NeedMore;
        };
        let need = |n: usize| buf.len() >= n;
        match command {
            b'@' => {
                self.flush_text();
                self.style = Style::default();
                self.chinese = false;
                Step::Consumed(2)
            }
            b'a' | b'E' | b'!' | b't' | b'd' | b'-' | b'G' | b'M' | b'3' | b'J' | b'{' | b'V'
            | b'R' => {
                if !need(3) {
                    return Step::NeedMore;
                }
                let n = buf[2];
                match command {
                    b'a' => self.style.align = n % 48,
                    b'E' => self.style.bold = n & 1 == 1,
                    b'!' => {
                        self.style.bold = n & 0x08 != 0;
                        self.style.double_height = n & 0x10 != 0;
                        self.style.double_width = n & 0x20 != 0;
                    }
                    b't' => self.code_page = n,
                    b'd' => {
                        // Print and feed n lines: the first feed ends a pending text line.
                        let had_text = !self.text.is_empty() || !self.partial_line.is_empty();
                        self.end_line(false);
                        for _ in 0..n.saturating_sub(u8::from(had_text)) {
                            self.current.lines.push(String::new());
                        }
                    }
                    _ => {}
                }
                Step::Consumed(3)
            }
            b'2' => Step::Consumed(2),
            b'p' => {
                if !need(5) {
                    return Step::NeedMore;
                }
                let (pin, on, off) = (buf[2] & 1, u32::from(buf[3]) * 2, u32::from(buf[4]) * 2);
                self.end_line(false);
                if self.current.lines.is_empty() {
                    // Between receipts: the drawer opens on its own.
                    events.push(Event::DrawerPulse {
                        pin: pin * 3 + 2,
                        on_ms: on,
                        real_time: false,
                    });
                    return Step::Consumed(5);
                }
                self.current.lines.push(format!(
                    "[drawer pulse pin {}, {on} ms on, {off} ms off]",
                    pin * 3 + 2
                ));
                Step::Consumed(5)
            }
            _ => self.unknown(at, 2),
        }
    }

    fn gs(&mut self, at: usize) -> Step {
        let buf = &self.pending[at..];
        let Some(&command) = buf.get(1) else {
            return Step::NeedMore;
        };
        match command {
            b'!' => {
                let Some(&n) = buf.get(2) else {
                    return Step::NeedMore;
                };
                self.style.double_width = n & 0xF0 != 0;
                self.style.double_height = n & 0x0F != 0;
                Step::Consumed(3)
            }
            b'h' | b'w' | b'H' | b'f' | b'a' | b'B' | b'b' => {
                if buf.len() < 3 {
                    Step::NeedMore
                } else {
                    Step::Consumed(3)
                }
            }
            b'V' => {
                let Some(&m) = buf.get(2) else {
                    return Step::NeedMore;
                };
                let (partial, len) = match m {
                    0 | 48 => (false, 3),
                    1 | 49 => (true, 3),
                    65 => (false, 4),
                    66 => (true, 4),
                    _ => return self.unknown(at, 3),
                };
                if buf.len() < len {
                    return Step::NeedMore;
                }
                self.end_line(false);
                self.current.lines.push(if partial {
                    "[partial cut]".into()
                } else {
                    "[cut]".into()
                });
                self.complete_receipt();
                Step::Consumed(len)
            }
            b'k' => self.barcode(at),
            b'(' => self.function(at),
            _ => self.unknown(at, 2),
        }
    }

    /// `GS k m …`: a 1D barcode.
    fn barcode(&mut self, at: usize) -> Step {
        let buf = &self.pending[at..];
        let Some(&system) = buf.get(2) else {
            return Step::NeedMore;
        };
        let (data, len) = if system <= 6 {
            let Some(end) = buf[3..].iter().position(|b| *b == 0) else {
                return Step::NeedMore;
            };
            (&buf[3..3 + end], 3 + end + 1)
        } else {
            let Some(&n) = buf.get(3) else {
                return Step::NeedMore;
            };
            let len = 4 + usize::from(n);
            if buf.len() < len {
                return Step::NeedMore;
            }
            (&buf[4..len], len)
        };
        let name = match system {
            73 => "code128",
            67 | 2 => "ean13",
            68 | 3 => "ean8",
            65 | 0 => "upc-a",
            69 | 4 => "code39",
            _ => "barcode",
        };
        let mut text = String::from_utf8_lossy(data).into_owned();
        if system == 73 && text.len() >= 2 && text.starts_with('{') {
            // Code 128 data starts with the code set: {A, {B or {C.
            text.drain(..2);
        }
        self.end_line(false);
        self.current.lines.push(format!("[barcode {name}] {text}"));
        Step::Consumed(len)
    }

    /// `GS ( k pL pH cn fn …`: the 2D-code function family; Till uses QR store and print.
    fn function(&mut self, at: usize) -> Step {
        let buf = &self.pending[at..];
        if buf.len() < 5 {
            return Step::NeedMore;
        }
        let body_len = usize::from(buf[3]) | usize::from(buf[4]) << 8;
        let len = 5 + body_len;
        if buf.len() < len {
            return Step::NeedMore;
        }
        if buf[2] != b'k' || body_len < 2 {
            return Step::Consumed(len);
        }
        let (symbol, function) = (buf[5], buf[6]);
        if symbol == 49 {
            match function {
                80 if body_len >= 3 => {
                    self.qr_data = Some(String::from_utf8_lossy(&buf[8..len]).into_owned());
                }
                81 => {
                    let data = self.qr_data.take().unwrap_or_default();
                    self.end_line(false);
                    self.current.lines.push(format!("[qr] {data}"));
                }
                _ => {}
            }
        }
        Step::Consumed(len)
    }

    fn unknown(&mut self, at: usize, len: usize) -> Step {
        let buf = &self.pending[at..];
        self.problems.push(format!(
            "unknown command {} at byte {}",
            hex(&buf[..len.min(buf.len())]),
            self.offset + at
        ));
        Step::Consumed(len.min(buf.len()))
    }

    fn flush_text(&mut self) {
        // Text is decoded at line end; a mode change mid-line decodes what came before it.
        if !self.text.is_empty() {
            let decoded = self.decode_text();
            self.partial_line.push_str(&decoded);
        }
    }

    fn decode_text(&mut self) -> String {
        let bytes = std::mem::take(&mut self.text);
        let encoding = if self.chinese {
            encoding_rs::GB18030
        } else {
            // Table 16 (Windows-1252) is what Till selects; other tables are shown as if they
            // were it, which is right for ASCII and close for Western text.
            encoding_rs::WINDOWS_1252
        };
        let (text, _, malformed) = encoding.decode(&bytes);
        if malformed {
            self.problems.push(format!(
                "text that is not valid {} near byte {}",
                encoding.name(),
                self.offset
            ));
        }
        text.into_owned()
    }

    fn end_line(&mut self, explicit: bool) {
        self.flush_text();
        let text = std::mem::take(&mut self.partial_line);
        let style = self.line_style.take().unwrap_or(self.style);
        if text.is_empty() && !explicit {
            return;
        }
        let mut tags = Vec::new();
        match style.align {
            1 => tags.push("center"),
            2 => tags.push("right"),
            _ => {}
        }
        if style.bold {
            tags.push("bold");
        }
        if style.double_width || style.double_height {
            tags.push("2x");
        }
        let line = if tags.is_empty() || text.is_empty() {
            text
        } else {
            format!("[{}] {text}", tags.join(" "))
        };
        self.current.lines.push(line);
    }

    fn complete_receipt(&mut self) {
        let receipt = std::mem::take(&mut self.current);
        self.done.push(receipt);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}
