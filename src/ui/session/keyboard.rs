//! The keyboard: keys from the window, the entry fields they edit, and keyboard-wedge bursts told apart from typing.

use super::*;

impl Session {
    /// A key from the hardware keyboard or a keyboard-wedge scanner. Returns whether the till
    /// used it, and any slow work it started.
    pub fn key(&mut self, text: &str, control: bool, now: Instant) -> (bool, Option<Task>) {
        if control {
            return (false, None);
        }
        let is = |key: Key| text.chars().eq(std::iter::once(char::from(key)));
        if is(Key::Escape) {
            return (true, self.escape());
        }
        if is(Key::F12) {
            return match self.screen {
                Screen::Sale if self.approval.is_none() => (true, self.pay()),
                _ => (true, None),
            };
        }
        if is(Key::Backspace) {
            self.edit_field(self.field(), "back");
            return (true, None);
        }
        let Some(key) = self.wedge.key(text, now) else {
            return (false, None);
        };
        match key {
            WedgeKey::Char { c, starts_burst } => {
                let field = self.field();
                if starts_burst {
                    self.burst_snapshot = Some((field, self.field_value(field)));
                }
                self.edit_field(field, &c.to_string());
                (true, None)
            }
            WedgeKey::Scan(code) => {
                let pin_field = matches!(self.field(), Field::LoginPin | Field::ApprovalPin);
                if pin_field && crate::staff::check_pin_shape(&code).is_ok() {
                    // A PIN typed quickly on a keyboard, not a barcode: it is already in the
                    // field, and Enter submits it.
                    self.burst_snapshot = None;
                    return (true, self.enter());
                }
                // The scanner's characters went to the field as they came; put it back.
                if let Some((field, value)) = self.burst_snapshot.take() {
                    self.set_field_value(field, value);
                }
                (true, self.scan(&code))
            }
            WedgeKey::Enter => {
                self.burst_snapshot = None;
                (true, self.enter())
            }
        }
    }

    pub(super) fn field(&self) -> Field {
        if self.approval.is_some() {
            return Field::ApprovalPin;
        }
        match self.screen {
            Screen::Login => Field::LoginPin,
            Screen::Sale if self.member_prompt.is_some() => Field::None,
            Screen::Sale if self.phone_entry.is_some() => Field::Phone,
            Screen::Sale => Field::SaleEntry,
            Screen::Payment if self.payment.confirm.is_none() => Field::PaymentEntry,
            _ => Field::None,
        }
    }

    pub(super) fn field_value(&self, field: Field) -> String {
        match field {
            Field::LoginPin => self.login.pin.clone(),
            Field::ApprovalPin => self
                .approval
                .as_ref()
                .map(|a| a.pin.clone())
                .unwrap_or_default(),
            Field::SaleEntry => self.sale.entry.clone(),
            Field::Phone => self.phone_entry.clone().unwrap_or_default(),
            Field::PaymentEntry => self.payment.entry.clone(),
            Field::None => String::new(),
        }
    }

    pub(super) fn set_field_value(&mut self, field: Field, value: String) {
        match field {
            Field::LoginPin => self.login.pin = value,
            Field::ApprovalPin => {
                if let Some(a) = &mut self.approval {
                    a.pin = value;
                }
            }
            Field::SaleEntry => self.sale.entry = value,
            Field::Phone => self.phone_entry = Some(value),
            Field::PaymentEntry => self.payment.entry = value,
            Field::None => {}
        }
    }

    /// A keypad key (`"7"`, `"."`, `"back"`, `"clear"`) or a typed character for a field.
    /// Letters and anything else a field cannot hold are ignored.
    pub(super) fn edit_field(&mut self, field: Field, key: &str) {
        let (mut value, max, decimals) = match field {
            Field::LoginPin | Field::ApprovalPin => (self.field_value(field), 8, false),
            Field::Phone => (self.field_value(field), 20, false),
            Field::SaleEntry | Field::PaymentEntry => (self.field_value(field), 14, true),
            Field::None => return,
        };
        match key {
            // A phone number typed on a keyboard may come as +86 138-1234-5678.
            "+" | "-" | " " if field == Field::Phone && value.len() < max => value.push_str(key),
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
                if value.len() + digits.len() <= max
                    && (!value.contains('.') || decimals_now + digits.len() <= 3)
                {
                    value.push_str(digits);
                }
            }
            _ => return,
        }
        self.set_field_value(field, value);
        if field == Field::SaleEntry {
            self.sale.entry_focused = true;
        }
    }

    pub(super) fn escape(&mut self) -> Option<Task> {
        if self.member_prompt.is_some() {
            self.answer_member_prompt(false);
        } else if self.phone_entry.is_some() {
            self.phone_entry = None;
        } else if self.approval.is_some() {
            self.cancel_approval();
        } else if self.payment.confirm.is_some() {
            self.confirm_tender(false);
        } else {
            match self.screen {
                Screen::Payment => self.back_to_sale(),
                Screen::Parked | Screen::BackOffice => self.screen = Screen::Sale,
                Screen::Sale => {
                    self.sale.entry.clear();
                    self.sale.weighing = None;
                    self.sale.message = None;
                }
                Screen::Login => self.login.pin.clear(),
                Screen::Complete => self.new_sale(),
            }
        }
        None
    }

    pub(super) fn enter(&mut self) -> Option<Task> {
        if self.approval.is_some() {
            return self.approval_key("enter");
        }
        match self.screen {
            Screen::Login => self.login_key("enter"),
            Screen::Sale if self.member_prompt.is_some() => None,
            Screen::Sale => self.sale_key("enter"),
            Screen::Payment => self.payment_key("enter"),
            Screen::Complete => {
                self.new_sale();
                None
            }
            _ => None,
        }
    }
}
