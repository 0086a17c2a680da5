//! The sale screen: the entry field, lines, quantities, voids, discounts, parking and resuming, quick keys, the way to the back office and to payment.

use super::*;

/// What the sale screen shows besides the ticket (which is the checkout engine's): the entry
/// field, the selected line, the last message, the quick keys and how many tickets are parked.
#[derive(Clone, Debug)]
pub struct SaleScreen {
    pub entry: String,
    pub entry_focused: bool,
    /// A product sold by weight that was scanned or keyed without one: the code, and its name.
    /// The entry takes its weight in kg next, and ↵ adds the line.
    pub weighing: Option<(String, String)>,
    pub selected: Option<LineId>,
    pub message: Option<Message>,
    pub show_quick_keys: bool,
    pub quick_keys: Vec<QuickItem>,
    pub parked_count: usize,
}

impl Session {
    pub fn sale_key(&mut self, key: &str) -> Option<Task> {
        if self.member_prompt.is_some() {
            return None;
        }
        if self.phone_entry.is_some() {
            if key == "enter" {
                self.lookup_phone();
            } else {
                self.edit_field(Field::Phone, key);
            }
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
            if matches!(&self.sale.message, Some(m) if m.error) {
                self.sale.weighing = Some((code, name));
            }
            return task;
        }
        // A code keyed by hand (a damaged barcode, a PLU).
        let code = std::mem::take(&mut self.sale.entry);
        let task = self.scan_on_sale(&code);
        if matches!(&self.sale.message, Some(m) if m.error) {
            self.sale.entry = code;
        }
        task
    }

    pub fn focus_entry(&mut self) {
        self.sale.entry_focused = true;
    }

    pub fn select_line(&mut self, index: usize) {
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
        let Some(line) = self.sale.selected else {
            self.sale.message = Message::error(self.t("先选择一行", "select a line first"));
            return;
        };
        let Some(quantity) = Quantity::parse(&self.sale.entry) else {
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
        let Some(line) = self.sale.selected else {
            self.sale.message =
                Message::error(self.t("先选择要删除的行", "select the line to void"));
            return;
        };
        self.run(Pending::Void(line), None);
    }

    pub fn discount(&mut self) {
        let percent = if self.sale.entry.is_empty() {
            None
        } else {
            Money::parse(&self.sale.entry, Currency::CNY)
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
    pub(super) fn run(&mut self, action: Pending, approval: Option<&ManagerApproval>) {
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
            Pending::OpenBackOffice => Ok(()),
        };
        match result {
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
                self.approvals += 1;
                self.approval = Some(Approval {
                    id: self.approvals,
                    reason: self.lang.approval_reason(what),
                    pending: action,
                    pin: String::new(),
                    message: None,
                    checking: false,
                });
            }
            Err(error) => self.sale.message = Message::error(self.refusal(&error)),
        }
    }

    /// Parks the open ticket with its member under its cashier (`auto`: by the till, to come
    /// back at their next login) and starts an empty one.
    pub(super) fn park_open_ticket(&mut self, auto: bool) -> Result<i64, CheckoutError> {
        let nonce = self.checkout.ticket_nonce().to_string();
        let id = self.checkout.park_with(auto, Some(&nonce))?;
        self.fresh_ticket();
        self.sale.parked_count += 1;
        self.sale.selected = None;
        Ok(id)
    }

    pub fn park(&mut self) {
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

    pub fn show_parked(&mut self) {
        match self.checkout.parked() {
            Ok(list) => {
                self.sale.parked_count = list.len();
                self.parked = list;
                self.parked_message = None;
                self.screen = Screen::Parked;
            }
            Err(error) => self.sale.message = Message::error(self.refusal(&error)),
        }
    }

    pub fn resume(&mut self, index: usize) {
        let Some(id) = self.parked.get(index).map(|p| p.id) else {
            return;
        };
        let nonce = self.checkout.ticket_nonce().to_string();
        match self.checkout.resume_with(id, Some(&nonce)) {
            Ok(_) => {
                self.parked.remove(index);
                self.sale.parked_count = self.parked.len();
                self.sale.selected = self.checkout.ticket().lines().last().map(|l| l.id);
                self.screen = Screen::Sale;
                self.sale.message = Message::info(self.lang.pick(
                    &format!("已取回挂单 #{id}"),
                    &format!("resumed ticket #{id}"),
                ));
            }
            Err(error) => self.parked_message = Message::error(self.refusal(&error)),
        }
    }

    pub fn quick_key(&mut self, index: usize) -> Option<Task> {
        let code = self.sale.quick_keys.get(index)?.code.clone();
        self.phone_entry = None;
        self.sale.weighing = None;
        self.scan_on_sale(&code)
    }

    pub fn toggle_quick_keys(&mut self) {
        self.sale.show_quick_keys = !self.sale.show_quick_keys;
    }

    /// A new ticket starts (the engine gives it its own identity): no question pending.
    pub(super) fn fresh_ticket(&mut self) {
        self.member_prompt = None;
        self.phone_entry = None;
    }

    pub fn open_back_office(&mut self) -> Option<Task> {
        let manager = self
            .cashier
            .as_ref()
            .is_some_and(|c| c.role == Role::Manager);
        if manager {
            self.enter_back_office()
        } else {
            self.approvals += 1;
            self.approval = Some(Approval {
                id: self.approvals,
                reason: self.t("后台需要店长登录", "the back office needs a manager"),
                pending: Pending::OpenBackOffice,
                pin: String::new(),
                message: None,
                checking: false,
            });
            None
        }
    }

    pub(super) fn enter_back_office(&mut self) -> Option<Task> {
        self.screen = Screen::BackOffice;
        self.back_office.message = None;
        Some(Task::LoadBackOffice)
    }

    pub fn pay(&mut self) -> Option<Task> {
        if self.checkout.ticket().is_empty() {
            self.sale.message = Message::error(self.t(
                "小票是空的：先扫商品再收款",
                "the ticket is empty: scan an item before Pay",
            ));
            return None;
        }
        self.screen = Screen::Payment;
        self.phone_entry = None;
        self.sale.weighing = None;
        self.payment.kind = TenderKind::Cash;
        self.payment.entry.clear();
        self.payment.reference.clear();
        self.payment.message = None;
        self.payment.confirm = None;
        // Everything may already be paid if the cashier came back from the payment screen.
        self.commit_if_paid()
    }
}
