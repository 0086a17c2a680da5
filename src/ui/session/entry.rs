//! One entry field on the touchscreen (a PIN, a phone number, a figure) and what a keypad key
//! or a typed character does to it. Every screen's field is one of these, so the keypad rules
//! live here once.

/// What a field holds, which decides the keys it takes and its length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EntryKind {
    /// A PIN: digits only, at most 8.
    #[default]
    Pin,
    /// A phone number as typed: digits, `+`, `-` and spaces, at most 20 characters.
    Phone,
    /// A quantity, weight (kg, up to 3 decimals), amount or percentage: digits and one
    /// decimal point, at most 14 characters. Its meaning is checked when it is used.
    Figure,
    /// A whole count (notes or coins of one kind, a sale number): digits, at most 7.
    Count,
}

/// An entry field's value and the rules for keying it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    value: String,
    kind: EntryKind,
}

impl Entry {
    pub fn new(kind: EntryKind) -> Entry {
        Entry {
            value: String::new(),
            kind,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The number of characters keyed (a PIN shows this many dots).
    pub fn len(&self) -> usize {
        self.value.chars().count()
    }

    pub fn clear(&mut self) {
        self.value.clear();
    }

    /// The value, leaving the field empty.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.value)
    }

    /// Puts back a value this field held before (a code that was refused stays to be
    /// corrected; a scanner's burst is taken back out of the field it typed into).
    pub(in crate::ui::session) fn restore(&mut self, value: String) {
        self.value = value;
    }

    /// A keypad key (`"7"`, `"."`, `"back"`, `"clear"`) or a typed character. Returns whether
    /// the field took it: letters, a second decimal point, a fourth decimal, or a digit past
    /// the field's length change nothing.
    pub fn key(&mut self, key: &str) -> bool {
        let (max, decimals) = match self.kind {
            EntryKind::Pin => (8, false),
            EntryKind::Phone => (20, false),
            EntryKind::Figure => (14, true),
            EntryKind::Count => (7, false),
        };
        let value = &mut self.value;
        match key {
            // A phone number typed on a keyboard may come as +86 138-1234-5678.
            "+" | "-" | " " if self.kind == EntryKind::Phone && value.len() < max => {
                value.push_str(key)
            }
            "back" => {
                value.pop();
            }
            "clear" => value.clear(),
            "." if decimals && !value.contains('.') => {
                if value.is_empty() {
                    value.push('0');
                }
                value.push('.');
            }
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                // At most three decimals (weights in kg); a money field is checked later.
                let decimals_now = value.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
                if value.len() + digits.len() > max
                    || (value.contains('.') && decimals_now + digits.len() > 3)
                {
                    return false;
                }
                value.push_str(digits);
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys `keys` (space-separated; `␠` is a space) into an empty field of `kind` and checks
    /// what it then holds, and that each key was taken exactly when it changed the field
    /// (`back` on an empty field is taken and changes nothing).
    fn check(kind: EntryKind, keys: &str, expected: &str) {
        let mut entry = Entry::new(kind);
        for key in keys.split(' ') {
            let before = entry.clone();
            let taken = entry.key(&key.replace('␠', " "));
            let edit = matches!(key, "back" | "clear");
            assert_eq!(
                taken,
                edit || entry != before,
                "{kind:?}: {key:?} after {:?}",
                before.as_str()
            );
        }
        assert_eq!(entry.as_str(), expected, "{kind:?} after {keys:?}");
    }

    #[test]
    fn each_field_takes_the_keys_its_value_can_hold() {
        use EntryKind::*;
        check(Pin, "1 2 3 4", "1234");
        check(Pin, "1 2 3 4 5 6 7 8 9", "12345678");
        check(Pin, "1 a . + 2", "12");
        check(Pin, "1 2 back 3", "13");
        check(Pin, "1 2 clear 3", "3");
        check(Pin, "back", "");
        check(Phone, "+ 8 6 ␠ 1 3 8 - 1", "+86 138-1");
        check(Phone, "1 3 8 .", "138");
        check(
            Phone,
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 -",
            "12345678901234567890",
        );
        check(Figure, "1 2 . 5", "12.5");
        check(Figure, ". 5", "0.5");
        check(Figure, "1 . . 5", "1.5");
        check(Figure, "0 . 1 2 3 4", "0.123");
        check(Figure, "1 - 2 x", "12");
        check(Figure, "12345678901234 5", "12345678901234");
        // A burst of digits is taken whole or not at all.
        check(Figure, "1 . 2345", "1.");
    }

    #[test]
    fn a_field_says_whether_it_took_a_key_and_gives_its_value_back() {
        let mut entry = Entry::new(EntryKind::Figure);
        assert!(entry.key("3"));
        assert!(!entry.key("x"));
        assert_eq!(entry.len(), 1);
        assert_eq!(entry.take(), "3");
        assert!(entry.is_empty());
        entry.restore("12.5".into());
        assert_eq!(entry.as_str(), "12.5");
    }
}
