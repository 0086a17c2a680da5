//! A printable document (text, label/amount pairs, rules, barcodes, QR codes) and its layout
//! into a fixed number of columns, measured as the printer will print them ([`CharWidth`]), so
//! that CJK text, two columns a character, lines up.

use unicode_width::UnicodeWidthChar;

/// How many columns a character takes on paper. This depends on the printer's text mode, not
/// on Unicode alone: a printer in Chinese mode prints every character that GB18030 encodes in
/// more than one byte (`×`, `·`, `°`, `—`, `①`, Greek, Cyrillic as well as Hanzi) from its
/// full-width Hanzi font, two columns wide, while a terminal would show `×` in one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CharWidth {
    /// Display width per Unicode (UAX #11): East Asian wide characters take two columns.
    /// For screens and previews.
    #[default]
    Unicode,
    /// A printer in Chinese mode (GB18030 after `FS &`): ASCII takes one column, every other
    /// character two.
    Gb18030,
    /// A printer on a single-byte code page: every character takes one column (one that the
    /// code page cannot hold prints as `?`).
    SingleByte,
}

impl CharWidth {
    /// Columns `ch` takes; control characters take none.
    pub fn char(self, ch: char) -> usize {
        if ch.is_control() {
            return 0;
        }
        match self {
            CharWidth::Unicode => ch.width().unwrap_or(0),
            CharWidth::Gb18030 if ch.is_ascii() => 1,
            CharWidth::Gb18030 => 2,
            CharWidth::SingleByte => 1,
        }
    }

    /// Columns `text` takes.
    pub fn str(self, text: &str) -> usize {
        text.chars().map(|ch| self.char(ch)).sum()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    /// Double width and height, for totals and titles. Takes two columns a column.
    pub large: bool,
}

impl Style {
    pub const PLAIN: Style = Style {
        bold: false,
        large: false,
    };
    pub const BOLD: Style = Style {
        bold: true,
        large: false,
    };
    pub const LARGE: Style = Style {
        bold: true,
        large: true,
    };
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// Text that wraps at the paper width.
    Text {
        text: String,
        align: Align,
        style: Style,
    },
    /// A label and a value on one line, the value flush right; a long label wraps above it.
    Pair {
        left: String,
        right: String,
        style: Style,
    },
    /// A dashed line across the paper.
    Rule,
    /// A Code 128 barcode with its text printed below.
    Barcode(String),
    /// A QR code, printed natively by the printer (`GS ( k`).
    Qr(String),
    /// Blank lines.
    Feed(u8),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cut {
    #[default]
    Full,
    Partial,
    None,
}

/// What one receipt prints, and what happens after: cut, and the cash drawer pulse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    pub blocks: Vec<Block>,
    pub cut: Cut,
    pub open_drawer: bool,
}

impl Document {
    pub fn text(&mut self, text: impl Into<String>, align: Align, style: Style) -> &mut Self {
        self.blocks.push(Block::Text {
            text: text.into(),
            align,
            style,
        });
        self
    }

    pub fn pair(
        &mut self,
        left: impl Into<String>,
        right: impl Into<String>,
        style: Style,
    ) -> &mut Self {
        self.blocks.push(Block::Pair {
            left: left.into(),
            right: right.into(),
            style,
        });
        self
    }

    pub fn push(&mut self, block: Block) -> &mut Self {
        self.blocks.push(block);
        self
    }
}

/// One laid-out line: text already padded to its place within the paper width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Text {
        text: String,
        style: Style,
        align: Align,
    },
    Barcode(String),
    Qr(String),
}

/// Lays a document out for `columns` columns (32 on 58 mm paper, 48 on 80 mm), each character
/// taking the columns `widths` says the printer gives it.
pub fn layout(document: &Document, columns: usize, widths: CharWidth) -> Vec<Line> {
    let columns = columns.max(8);
    let mut lines = Vec::new();
    for block in &document.blocks {
        match block {
            Block::Text { text, align, style } => {
                let width = if style.large { columns / 2 } else { columns };
                for piece in wrap(text, width, widths) {
                    lines.push(Line::Text {
                        text: piece,
                        style: *style,
                        align: *align,
                    });
                }
            }
            Block::Pair { left, right, style } => {
                let width = if style.large { columns / 2 } else { columns };
                let right_width = widths.str(right);
                let mut pieces = wrap(left, width, widths);
                let last = pieces.pop().unwrap_or_default();
                for piece in pieces {
                    lines.push(Line::Text {
                        text: piece,
                        style: *style,
                        align: Align::Left,
                    });
                }
                let last_width = widths.str(&last);
                let text = if last_width + 1 + right_width <= width {
                    format!(
                        "{last}{}{right}",
                        " ".repeat(width - last_width - right_width)
                    )
                } else {
                    // The value does not fit beside the label: give it its own line.
                    lines.push(Line::Text {
                        text: last,
                        style: *style,
                        align: Align::Left,
                    });
                    format!("{}{right}", " ".repeat(width.saturating_sub(right_width)))
                };
                lines.push(Line::Text {
                    text,
                    style: *style,
                    align: Align::Left,
                });
            }
            Block::Rule => lines.push(Line::Text {
                text: "-".repeat(columns),
                style: Style::PLAIN,
                align: Align::Left,
            }),
            Block::Barcode(data) => lines.push(Line::Barcode(data.clone())),
            Block::Qr(data) => lines.push(Line::Qr(data.clone())),
            Block::Feed(n) => {
                for _ in 0..*n {
                    lines.push(Line::Text {
                        text: String::new(),
                        style: Style::PLAIN,
                        align: Align::Left,
                    });
                }
            }
        }
    }
    lines
}

/// Splits `text` into lines of at most `width` columns as `widths` measures them, at spaces
/// where possible and anywhere in a run of CJK (which has no spaces), never inside a wide
/// character.
pub fn wrap(text: &str, width: usize, widths: CharWidth) -> Vec<String> {
    let width = width.max(2);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        for word in split_words(paragraph, widths) {
            let word_width = widths.str(word);
            if line_width + word_width <= width {
                line.push_str(word);
                line_width += word_width;
                continue;
            }
            if !line.trim().is_empty() {
                lines.push(line.trim_end().to_string());
            }
            line = String::new();
            line_width = 0;
            let word = if word == " " { "" } else { word };
            for ch in word.chars() {
                let w = widths.char(ch);
                if line_width + w > width {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0;
                }
                line.push(ch);
                line_width += w;
            }
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// Words for wrapping: runs of wide (CJK) characters, runs of other non-space characters, and
/// single spaces. A run longer than the line is broken between characters.
fn split_words(text: &str, widths: CharWidth) -> Vec<&str> {
    #[derive(PartialEq)]
    enum Kind {
        Space,
        Wide,
        Narrow,
    }
    let kind = |ch: char| match ch {
        ' ' => Kind::Space,
        c if widths.char(c) > 1 => Kind::Wide,
        _ => Kind::Narrow,
    };
    let mut words = Vec::new();
    let mut start = 0;
    let mut current: Option<Kind> = None;
    for (i, ch) in text.char_indices() {
        let k = kind(ch);
        if current
            .as_ref()
            .is_some_and(|c| *c != k || k == Kind::Space)
        {
            words.push(&text[start..i]);
            start = i;
        }
        current = Some(k);
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    fn check(text: &str, width: usize, expected: &[&str]) {
        let got = wrap(text, width, CharWidth::Unicode);
        assert_eq!(got, expected, "wrapping {text:?} at {width}");
        for line in &got {
            assert!(line.width() <= width, "{line:?} is wider than {width}");
        }
    }

    #[test]
    fn wraps_by_display_width() {
        check("Coca-Cola 500ml", 32, &["Coca-Cola 500ml"]);
        check(
            "Master Kong braised beef noodles cup",
            20,
            &["Master Kong braised", "beef noodles cup"],
        );
        check(
            "康师傅红烧牛肉面 桶装",
            10,
            &["康师傅红烧", "牛肉面", "桶装"],
        );
        check("乐事薯片Lay's chips", 12, &["乐事薯片", "Lay's chips"]);
        check(
            "Supercalifragilisticexpialidocious",
            10,
            &["Supercalif", "ragilistic", "expialidoc", "ious"],
        );
        check("", 10, &[""]);
    }

    #[test]
    fn pairs_put_the_amount_flush_right_after_cjk() {
        let mut doc = Document::default();
        doc.pair("  2 × ￥2.00", "￥4.00", Style::PLAIN).pair(
            "农夫山泉饮用天然水 550ml 特价装",
            "￥12.50",
            Style::PLAIN,
        );
        let lines = layout(&doc, 32, CharWidth::Unicode);
        let texts: Vec<String> = lines
            .iter()
            .map(|l| match l {
                Line::Text { text, .. } => text.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert!(texts[0].starts_with("  2 × ￥2.00 ") && texts[0].ends_with(" ￥4.00"));
        assert_eq!(texts[0].width(), 32);
        for text in &texts {
            assert!(text.width() <= 32, "{text:?}");
        }
        let last = texts.last().unwrap();
        assert!(last.ends_with("￥12.50") && last.width() == 32, "{last:?}");
    }
}
