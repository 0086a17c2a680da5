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
            Screen::Sale if self.sale.member_prompt().is_some() => Field::None,
            Screen::Sale if self.sale.phone().is_some() => Field::Phone,
            Screen::Sale => Field::SaleEntry,
            Screen::Payment if self.payment.confirm().is_none() => Field::PaymentEntry,
            Screen::Count => Field::CountRow,
            Screen::Cash => Field::CashAmount,
            Screen::Returns => Field::ReturnEntry,
            Screen::Sales => Field::SalesSearch,
            _ => Field::None,
        }
    }

    /// The entry field `field` names, if it is open.
    fn entry_mut(&mut self, field: Field) -> Option<&mut Entry> {
        match field {
            Field::LoginPin => Some(self.login.entry_mut()),
            Field::ApprovalPin => self.approval.as_mut().map(Approval::entry_mut),
            Field::SaleEntry => Some(self.sale.entry_mut()),
            Field::Phone => self.sale.phone_mut(),
            Field::PaymentEntry => Some(self.payment.entry_mut()),
            Field::CountRow => self.count.entry_mut(),
            Field::CashAmount => self.cash.entry_mut(),
            Field::ReturnEntry => Some(self.returns.entry_mut()),
            Field::SalesSearch => Some(self.sales.entry_mut()),
            Field::None => None,
        }
    }

    pub(super) fn field_value(&self, field: Field) -> String {
        match field {
            Field::LoginPin => self.login.pin(),
            Field::ApprovalPin => self.approval.as_ref().map_or("", Approval::pin),
            Field::SaleEntry => self.sale.entry(),
            Field::Phone => self.sale.phone().unwrap_or_default(),
            Field::PaymentEntry => self.payment.entry(),
            Field::CountRow => self.count.value(),
            Field::CashAmount => self.cash.amount(),
            Field::ReturnEntry => self.returns.entry(),
            Field::SalesSearch => self.sales.search(),
            Field::None => "",
        }
        .to_string()
    }

    pub(super) fn set_field_value(&mut self, field: Field, value: String) {
        if let Some(entry) = self.entry_mut(field) {
            entry.restore(value);
        }
    }

    /// A keypad key (`"7"`, `"."`, `"back"`, `"clear"`) or a typed character for a field;
    /// the field's own rules ([`Entry::key`]) say what it takes.
    pub(super) fn edit_field(&mut self, field: Field, key: &str) {
        if field == Field::SaleEntry {
            // Keying a figure puts the focus back on the entry.
            self.sale.edit(key);
        } else if field == Field::CountRow {
            // The count pad says why it refuses a key (a letter, a minus).
            self.count_key(key);
        } else if let Some(entry) = self.entry_mut(field) {
            entry.key(key);
        }
    }

    pub(super) fn escape(&mut self) -> Option<Task> {
        if self.sale.member_prompt().is_some() {
            self.answer_member_prompt(false);
        } else if self.sale.phone().is_some() {
            self.sale.leave_phone_entry();
        } else if self.approval.is_some() {
            self.cancel_approval();
        } else if self.payment.confirm().is_some() {
            self.confirm_tender(false);
        } else {
            match self.screen {
                Screen::Payment => self.back_to_sale(),
                Screen::Parked | Screen::BackOffice => self.screen = Screen::Sale,
                Screen::Sale => self.sale.reset(),
                Screen::Login => self.login.entry_mut().clear(),
                Screen::Complete => self.new_sale(),
                Screen::Count | Screen::Cash => return self.cancel_operation(),
                Screen::Paper => return self.close_paper(),
                Screen::Returns => return self.close_returns(),
                Screen::Sales => return self.close_sales(),
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
            Screen::Sale if self.sale.member_prompt().is_some() => None,
            Screen::Sale => self.sale_key("enter"),
            Screen::Payment => self.payment_key("enter"),
            Screen::Complete => {
                self.new_sale();
                None
            }
            Screen::Count => {
                self.count_key("enter");
                None
            }
            Screen::Returns => self.return_key("enter"),
            Screen::Cash => self.cash_key("enter"),
            Screen::Sales => self.sales_key("enter"),
            _ => None,
        }
    }
}
