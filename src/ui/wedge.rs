//! Telling a keyboard-wedge scanner from a person at the keyboard.
//!
//! A wedge scanner "types" its code much faster than anyone can, then presses Enter. Every
//! key passes through here before any field sees it: the characters go to the focused field
//! as typed, but the burst is remembered, and when Enter ends a fast enough, long enough burst
//! it is a scan: the caller puts the field back as it was when the burst began and handles the
//! code. So a scan never lands in a field, whatever has focus (the Odoo failure).

use std::time::{Duration, Instant};

/// The longest pause between two scanner keystrokes. Scanners send a character every few
/// milliseconds; people need 80 ms or more even when typing fast.
pub const MAX_GAP: Duration = Duration::from_millis(35);
/// The shortest code that counts as a scan (GTIN-8 is the shortest barcode the till sells).
pub const MIN_LEN: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WedgeKey {
    /// A character for the focused field; `starts_burst` when it may be the first of a scan,
    /// so the caller can remember the field as it was.
    Char { c: char, starts_burst: bool },
    /// Enter that ended a scanner burst: the code.
    Scan(String),
    /// Enter pressed by a person.
    Enter,
}

#[derive(Debug, Default)]
pub struct Wedge {
    burst: String,
    last: Option<Instant>,
}

impl Wedge {
    /// Feeds one key press: `text` is what the key produced (`"\n"` or `"\r"` for Enter).
    /// Returns None for keys that are neither characters nor Enter.
    ///
    /// A modifier key (Shift, Caps Lock, AltGr, …) arrives as a press of its own, between
    /// the characters of a burst: a USB scanner types `T` as Shift down, `t`, Shift up. It
    /// produces no character and leaves the burst, and its timing, as they were.
    pub fn key(&mut self, text: &str, now: Instant) -> Option<WedgeKey> {
        if is_modifier(text) {
            return None;
        }
        let fast = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) <= MAX_GAP);
        if !fast {
            self.burst.clear();
        }
        self.last = Some(now);
        if text == "\n" || text == "\r" {
            let burst = std::mem::take(&mut self.burst);
            self.last = None;
            if fast && burst.chars().count() >= MIN_LEN {
                return Some(WedgeKey::Scan(burst));
            }
            return Some(WedgeKey::Enter);
        }
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            // Slint sends function and arrow keys as private-use characters (U+F700…).
            (Some(c), None) if !c.is_control() && !('\u{f700}'..='\u{f8ff}').contains(&c) => {
                let starts_burst = self.burst.is_empty();
                self.burst.push(c);
                Some(WedgeKey::Char { c, starts_burst })
            }
            _ => {
                // A function or navigation key breaks any burst.
                self.burst.clear();
                self.last = None;
                None
            }
        }
    }
}

/// Whether `text` is a modifier key as Slint reports it: Shift (left and right), Control,
/// Alt, AltGr, Caps Lock and Meta are the control characters U+0010 to U+0018.
pub fn is_modifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(
        (chars.next(), chars.next()),
        (Some('\u{10}'..='\u{18}'), None)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Types `keys` with `gap` between presses and returns the last result.
    fn check(keys: &str, gap: Duration, expected: Option<WedgeKey>) {
        let mut wedge = Wedge::default();
        let mut now = Instant::now();
        let mut last = None;
        for c in keys.chars() {
            last = wedge.key(&c.to_string(), now);
            now += gap;
        }
        assert_eq!(last, expected, "{keys:?} at {gap:?}");
    }

    #[test]
    fn bursts_and_people() {
        let fast = Duration::from_millis(4);
        let human = Duration::from_millis(120);
        check(
            "6901028075831\n",
            fast,
            Some(WedgeKey::Scan("6901028075831".into())),
        );
        check(
            "TR1.S001.T01.42\r",
            fast,
            Some(WedgeKey::Scan("TR1.S001.T01.42".into())),
        );
        check("6901028075831\n", human, Some(WedgeKey::Enter));
        check("12\n", fast, Some(WedgeKey::Enter));
        check(
            "5",
            human,
            Some(WedgeKey::Char {
                c: '5',
                starts_burst: true,
            }),
        );
        check(
            "55",
            fast,
            Some(WedgeKey::Char {
                c: '5',
                starts_burst: false,
            }),
        );
        check("\n", fast, Some(WedgeKey::Enter));
        check("\u{f70f}", fast, None);
    }

    /// Types `code` as a USB scanner does on an X keyboard: every capital (and every shifted
    /// symbol) between a Shift press and a Shift release, each its own key event.
    fn scanner_keys(code: &str) -> Vec<String> {
        const SHIFT: &str = "\u{10}";
        let mut keys = Vec::new();
        for c in code.chars() {
            let shifted = c.is_ascii_uppercase() || ":_+?".contains(c);
            if shifted {
                keys.push(SHIFT.to_string());
            }
            keys.push(c.to_string());
            if shifted {
                keys.push(SHIFT.to_string());
            }
        }
        keys.push("\n".into());
        keys
    }

    #[test]
    fn modifier_keys_inside_a_burst_belong_to_it() {
        let check = |code: &str, extra: &[&str]| {
            let mut wedge = Wedge::default();
            let mut now = Instant::now();
            let mut last = None;
            let mut keys = scanner_keys(code);
            // Caps Lock, AltGr and the right Shift may come anywhere in the burst.
            for (i, key) in extra.iter().enumerate() {
                keys.insert(1 + i * 2, key.to_string());
            }
            for key in keys {
                last = wedge.key(&key, now);
                now += Duration::from_millis(3);
            }
            assert_eq!(
                last,
                Some(WedgeKey::Scan(code.into())),
                "{code:?} {extra:?}"
            );
        };
        check("TM1.10086.59000000.ABCDEFGHIJKLMNOP", &[]);
        check("TR1.S001.T01.1", &[]);
        check("tr1.s001.t01.1", &[]);
        check("https://hq.example.com/c/S001-T01-7.ABCD", &[]);
        check("A-b/C:d.E", &["\u{14}", "\u{13}", "\u{15}"]);
        for modifier in ["\u{10}", "\u{13}", "\u{14}", "\u{15}", "\u{18}"] {
            assert!(is_modifier(modifier));
        }
        for key in ["a", "\n", "\u{8}", "\u{1b}", "\u{f70f}", "\u{10}x"] {
            assert!(!is_modifier(key), "{key:?}");
        }
    }

    #[test]
    fn typed_digits_then_a_scan_only_takes_the_burst() {
        let mut wedge = Wedge::default();
        let start = Instant::now();
        // A person keys "3" (a quantity), pauses, then the scanner fires.
        assert_eq!(
            wedge.key("3", start),
            Some(WedgeKey::Char {
                c: '3',
                starts_burst: true
            })
        );
        let mut now = start + Duration::from_millis(600);
        for c in "73513537".chars() {
            wedge.key(&c.to_string(), now);
            now += Duration::from_millis(3);
        }
        assert_eq!(
            wedge.key("\n", now),
            Some(WedgeKey::Scan("73513537".into()))
        );
    }
}
