//! The sale screen: the entry field, lines, quantities, voids, discounts, parking, quick keys,
//! the way to the back office and to payment; its children handle scans and the member panel.

use super::*;

mod members;
mod scans;

/// The sale screen's controller, besides the ticket (which is the checkout engine's): the
/// entry field, the member panel's phone entry and question, the selected line, the last
/// message, the quick keys and how many tickets are parked. Its fields are private to this module
/// and its children: other modules change it only through its methods, and the adapter only
/// reads it.
#[derive(Clone, Debug)]
pub struct SaleScreen {
    entry: Entry,
    entry_focused: bool,
    /// A product sold by weight that was scanned or keyed without one: the code, and its name.
    /// The entry takes its weight in kg next, and ↵ adds the line.
    weighing: Option<(String, String)>,
    selected: Option<LineId>,
    message: Option<Message>,
    show_quick_keys: bool,
    quick_keys: Vec<QuickItem>,
    parked_count: usize,
    /// The phone number being keyed, when the member panel is taking one.
    phone: Option<Entry>,
    /// A question about members waiting for the cashier or the customer.
    member_prompt: Option<MemberPrompt>,
    /// "Cancel ticket" was tapped once: the next tap cancels, anything else forgets it.
    confirm_cancel: bool,
}

impl SaleScreen {
    pub fn new(quick_keys: Vec<QuickItem>, parked_count: usize) -> SaleScreen {
        SaleScreen {
            entry: Entry::new(EntryKind::Figure),
            entry_focused: true,
            weighing: None,
            selected: None,
            message: None,
            show_quick_keys: false,
            quick_keys,
            parked_count,
            phone: None,
            member_prompt: None,
            confirm_cancel: false,
        }
    }

    /// The figure keyed: a quantity, a weight in kg, a percentage or a code.
    pub fn entry(&self) -> &str {
        self.entry.as_str()
    }

    /// Whether typed keys go to the entry (a touched line takes the focus away).
    pub fn entry_focused(&self) -> bool {
        self.entry_focused
    }

    /// The name of the product waiting for its weight.
    pub fn weighing(&self) -> Option<&str> {
        self.weighing.as_ref().map(|(_, name)| name.as_str())
    }

    pub fn selected(&self) -> Option<LineId> {
        self.selected
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub fn show_quick_keys(&self) -> bool {
        self.show_quick_keys
    }

    pub fn quick_keys(&self) -> &[QuickItem] {
        &self.quick_keys
    }

    fn set_quick_keys(&mut self, keys: Vec<QuickItem>) {
        self.quick_keys = keys;
    }

    pub fn parked_count(&self) -> usize {
        self.parked_count
    }

    /// The phone number being keyed, if the member panel is taking one.
    pub fn phone(&self) -> Option<&str> {
        self.phone.as_ref().map(Entry::as_str)
    }

    pub fn member_prompt(&self) -> Option<&MemberPrompt> {
        self.member_prompt.as_ref()
    }

    pub(in crate::ui::session) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.entry
    }

    pub(in crate::ui::session) fn phone_mut(&mut self) -> Option<&mut Entry> {
        self.phone.as_mut()
    }

    /// A key for the entry. A keypad key puts the focus back on the entry, even a digit the
    /// full field cannot take: the cashier is keying a figure, not acting on the line.
    pub(in crate::ui::session) fn edit(&mut self, key: &str) {
        let digits = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
        if self.entry.key(key) || digits {
            self.entry_focused = true;
        }
    }

    pub(in crate::ui::session) fn say(&mut self, message: Option<Message>) {
        self.message = message;
    }

    pub(in crate::ui::session) fn focus(&mut self) {
        self.entry_focused = true;
    }

    /// Whether the last action was refused: the screen shows an error.
    pub(in crate::ui::session) fn refused(&self) -> bool {
        self.message.as_ref().is_some_and(|m| m.error)
    }

    pub(in crate::ui::session) fn set_parked_count(&mut self, count: usize) {
        self.parked_count = count;
    }

    /// A ticket came back (resumed, or the cashier's own at login): its last line selected,
    /// `message` said, `parked` tickets left.
    pub(in crate::ui::session) fn ticket_back(
        &mut self,
        last_line: Option<LineId>,
        parked: usize,
        message: Option<Message>,
    ) {
        self.selected = last_line;
        self.parked_count = parked;
        self.message = message;
    }

    /// The ticket is gone (sold or abandoned): nothing selected or keyed.
    pub(in crate::ui::session) fn ticket_gone(&mut self) {
        self.selected = None;
        self.entry.clear();
    }

    /// Ends phone entry and any product waiting for its weight (the cashier moved on).
    pub(in crate::ui::session) fn leave_entry_modes(&mut self) {
        self.phone = None;
        self.weighing = None;
    }

    /// Stops keying a phone number; whether one was being keyed.
    pub(in crate::ui::session) fn leave_phone_entry(&mut self) -> bool {
        self.phone.take().is_some()
    }

    /// The sale screen as a new sale finds it: focus on an empty entry, no message.
    pub(in crate::ui::session) fn start(&mut self) {
        self.entry.clear();
        self.entry_focused = true;
        self.message = None;
    }

    /// Clears what was keyed and said (Esc, logout), keeping the ticket and its selection.
    pub(in crate::ui::session) fn reset(&mut self) {
        self.entry.clear();
        self.weighing = None;
        self.message = None;
    }

    /// A new ticket starts (the engine gives it its own identity): no question pending, no
    /// phone being keyed.
    pub(in crate::ui::session) fn fresh_ticket(&mut self) {
        self.member_prompt = None;
        self.phone = None;
    }
}

impl Session {
    pub fn sale_key(&mut self, key: &str) -> Option<Task> {
        self.sale.confirm_cancel = false;
        if self.sale.member_prompt.is_some() {
            return None;
        }
        if self.sale.phone.is_some() {
            if key == "enter" {
                return self.lookup_phone();
            }
            self.edit_field(Field::Phone, key);
            return None;
        }
        if key != "enter" {
            self.edit_field(Field::SaleEntry, key);
            return None;
        }
        if self.sale.entry.is_empty() {
            return None;
        }
        if let Some((code, name)) = self.sale.weighing.take() {
            // The entry holds the weight of the product waiting for one.
            let task = self.scan_on_sale(&code);
            if self.sale.refused() {
                self.sale.weighing = Some((code, name));
            }
            return task;
        }
        // A code keyed by hand (a damaged barcode, a PLU).
        let code = self.sale.entry.take();
        let task = self.scan_on_sale(&code);
        if self.sale.refused() {
            self.sale.entry.restore(code);
        }
        task
    }

    pub fn focus_entry(&mut self) {
        self.sale.entry_focused = true;
    }

    pub fn select_line(&mut self, index: usize) {
        self.sale.confirm_cancel = false;
        let Some(line) = self.checkout.ticket().lines().get(index).map(|l| l.id) else {
            return;
        };
        // Touching the selected line again deselects it, so a discount goes to the ticket.
        self.sale.selected = if self.sale.selected == Some(line) {
            None
        } else {
            Some(line)
        };
        self.sale.entry_focused = false;
    }

    pub fn quantity(&mut self) {
        self.sale.confirm_cancel = false;
        let Some(line) = self.sale.selected else {
            self.sale.message = Message::error(self.t("先选择一行", "select a line first"));
            return;
        };
        let Some(quantity) = Quantity::parse(self.sale.entry.as_str()) else {
            self.sale.message = Message::error(
                self.t("先输入数量，再按“数量”", "key the quantity, then press Qty"),
            );
            return;
        };
        match self.checkout.set_quantity(line, quantity) {
            Ok(()) => {
                self.sale.entry.clear();
                self.sale.message = None;
            }
            Err(error) => self.sale.message = Message::error(self.refusal(&error)),
        }
    }

    pub fn void_line(&mut self) {
        self.sale.confirm_cancel = false;
        let Some(line) = self.sale.selected else {
            self.sale.message =
                Message::error(self.t("先选择要删除的行", "select the line to void"));
            return;
        };
        self.run(Pending::Void(line), None);
    }

    pub fn discount(&mut self) {
        self.sale.confirm_cancel = false;
        let percent = if self.sale.entry.is_empty() {
            None
        } else {
            Money::parse(self.sale.entry.as_str(), Currency::CNY)
                .ok()
                .map(|m| m.minor())
        };
        let Some(basis_points) = percent.and_then(|p| u32::try_from(p).ok()) else {
            self.sale.message = Message::error(self.t(
                "先输入折扣百分比（如 10），再按“折扣%”",
                "key the percentage (for example 10), then press Discount %",
            ));
            return;
        };
        let discount = Discount::Percent(basis_points);
        match self.sale.selected {
            Some(line) => self.run(Pending::DiscountLine(line, discount), None),
            None => self.run(Pending::DiscountTicket(discount), None),
        }
    }

    /// Runs an action the approval policy may reserve for a manager: at once when allowed,
    /// or after a manager's PIN.
    pub(in crate::ui::session) fn run(
        &mut self,
        action: Pending,
        approval: Option<&ManagerApproval>,
    ) {
        // A manager at the till approves their own actions.
        let own = self
            .cashier
            .as_ref()
            .filter(|c| c.role == Role::Manager)
            .map(|c| ManagerApproval {
                manager: c.id.clone(),
            });
        let approval = approval.or(own.as_ref());
        let result = match &action {
            Pending::Void(line) => self.checkout.void_line(*line, approval),
            Pending::DiscountLine(line, discount) => {
                self.checkout.discount_line(*line, *discount, approval)
            }
            Pending::DiscountTicket(discount) => self.checkout.discount_ticket(*discount, approval),
            Pending::CancelTicket => self.checkout.cancel_ticket(approval),
            Pending::Op(_) => Ok(()),
        };
        match result {
            Ok(()) if action == Pending::CancelTicket => {
                self.fresh_ticket();
                self.sale.ticket_gone();
                self.sale.message = Message::info(self.t("整单已取消", "ticket cancelled"));
            }
            Ok(()) => {
                self.sale.entry.clear();
                self.sale.message = None;
                if let Pending::Void(line) = action
                    && self.sale.selected == Some(line)
                {
                    self.sale.selected = self.checkout.ticket().lines().last().map(|l| l.id);
                }
            }
            Err(CheckoutError::NeedsApproval(what)) => {
                // The keyed figure now lives in the pending action.
                self.sale.entry.clear();
                let reason = self.lang.approval_reason(what);
                self.ask_manager(action, reason);
            }
            Err(error) => self.sale.message = Message::error(self.refusal(&error)),
        }
    }

    /// Parks the open ticket with its member under its cashier (`auto`: by the till, to come
    /// back at their next login) and starts an empty one.
    pub(in crate::ui::session) fn park_open_ticket(
        &mut self,
        auto: bool,
    ) -> Result<i64, CheckoutError> {
        let nonce = self.checkout.ticket_nonce().to_string();
        let id = self.checkout.park_with(auto, Some(&nonce))?;
        self.fresh_ticket();
        self.sale.parked_count += 1;
        self.sale.selected = None;
        Ok(id)
    }

    pub fn park(&mut self) {
        self.sale.confirm_cancel = false;
        match self.park_open_ticket(false) {
            Ok(id) => {
                self.sale.entry.clear();
                self.sale.message = Message::info(
                    self.lang
                        .pick(&format!("已挂单 #{id}"), &format!("ticket parked as #{id}")),
                );
            }
            Err(error) => self.sale.message = Message::error(self.refusal(&error)),
        }
    }

    pub fn quick_key(&mut self, index: usize) -> Option<Task> {
        let code = self.sale.quick_keys.get(index)?.code.clone();
        self.sale.leave_entry_modes();
        self.scan_on_sale(&code)
    }

    /// The quick keys, as the catalog now has them (a sync may change their prices).
    pub fn set_quick_keys(&mut self, keys: Vec<QuickItem>) {
        self.sale.set_quick_keys(keys);
    }

    pub fn toggle_quick_keys(&mut self) {
        self.sale.show_quick_keys = !self.sale.show_quick_keys;
    }

    /// A new ticket starts (the engine gives it its own identity): no question pending.
    pub(in crate::ui::session) fn fresh_ticket(&mut self) {
        self.sale.fresh_ticket();
    }

    /// "Cancel ticket": the first tap asks, the second cancels every line (an approval when
    /// `[approval] cancel_ticket` says so). The cancel is in the audit trail.
    pub fn cancel_whole_ticket(&mut self) {
        if self.checkout.ticket().is_empty() {
            self.sale.message = Message::info(self.t("小票是空的", "the ticket is empty"));
            return;
        }
        if !self.sale.confirm_cancel {
            self.sale.confirm_cancel = true;
            let lines = self.checkout.ticket().lines().len();
            let en = match lines {
                1 => "tap Cancel ticket again to remove its line".to_string(),
                n => format!("tap Cancel ticket again to remove all {n} lines"),
            };
            self.sale.message = Message::error(
                self.lang
                    .pick(&format!("再按一次“取消整单”将删除全部 {lines} 行"), &en),
            );
            return;
        }
        self.sale.confirm_cancel = false;
        self.run(Pending::CancelTicket, None);
    }

    /// "Menu": the back office, open to every role; each of its operations asks `[roles]`
    /// whether the cashier may, and for an approval when not.
    pub fn open_back_office(&mut self) -> Option<Task> {
        self.enter_back_office()
    }

    pub(in crate::ui::session) fn enter_back_office(&mut self) -> Option<Task> {
        self.screen = Screen::BackOffice;
        self.back_office.say(None);
        Some(Task::LoadBackOffice)
    }

    pub fn pay(&mut self) -> Option<Task> {
        self.sale.confirm_cancel = false;
        if self.checkout.ticket().is_empty() {
            self.sale.message = Message::error(self.t(
                "小票是空的：先扫商品再收款",
                "the ticket is empty: scan an item before Pay",
            ));
            return None;
        }
        if self.checkout.settings().require_shift && self.open_shift_number().is_none() {
            // No money is taken for a sale that cannot be saved: the ticket waits.
            self.sale.message = Message::error(self.t(
                "没有开着的班次，不能收款：请主管或店长在“后台 → 开班”开班，本单保留",
                "no shift is open, so no payment: a supervisor or manager opens one in Menu → \
                 Open shift; the ticket waits",
            ));
            return None;
        }
        self.screen = Screen::Payment;
        self.sale.leave_entry_modes();
        self.payment.start();
        // Everything may already be paid if the cashier came back from the payment screen.
        self.commit_if_paid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen() -> SaleScreen {
        SaleScreen::new(Vec::new(), 2)
    }

    #[test]
    fn a_keypad_digit_takes_the_focus_back_from_a_touched_line_even_when_the_entry_is_full() {
        let mut screen = screen();
        for key in [
            "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "1", "2", "3", "4",
        ] {
            screen.edit(key);
        }
        screen.entry_focused = false;
        screen.edit("x");
        assert!(!screen.entry_focused(), "a letter is not a keypad key");
        screen.edit("5");
        assert_eq!(screen.entry(), "12345678901234");
        assert!(screen.entry_focused());
    }

    #[test]
    fn reset_keeps_the_line_and_a_new_sale_or_ticket_clears_what_belongs_to_it() {
        let mut screen = screen();
        let line = LineId(7);
        screen.ticket_back(Some(line), 1, Message::info("resumed ticket #3".into()));
        assert_eq!((screen.selected(), screen.parked_count()), (Some(line), 1));
        screen.edit("3");
        screen.weighing = Some(("00042".into(), "Fuji apples".into()));
        // Esc: what was keyed and said goes; the selected line stays.
        screen.reset();
        assert_eq!(
            (screen.entry(), screen.weighing(), screen.message()),
            ("", None, None)
        );
        assert_eq!(screen.selected(), Some(line));
        // A new ticket: the member panel's phone and question go too.
        screen.phone = Some(Entry::new(EntryKind::Phone));
        screen.edit("9");
        screen.fresh_ticket();
        screen.ticket_gone();
        assert_eq!(
            (screen.phone(), screen.selected(), screen.entry()),
            (None, None, "")
        );
        // Leaving entry modes ends phone entry and a product waiting for its weight only.
        screen.phone = Some(Entry::new(EntryKind::Phone));
        screen.weighing = Some(("00042".into(), "Fuji apples".into()));
        screen.edit("1");
        screen.leave_entry_modes();
        assert_eq!(
            (screen.phone(), screen.weighing(), screen.entry()),
            (None, None, "1")
        );
        assert!(!screen.leave_phone_entry());
    }
}
