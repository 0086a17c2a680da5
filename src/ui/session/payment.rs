//! The payment screen: tenders, quick cash, the large-cash confirmation, committing, and the sale-complete screen.

use super::*;

/// What the payment screen shows: the tender kind chosen, the amount and reference keyed, the
/// last message, a large cash tender waiting to be confirmed, and whether the paid ticket is
/// being committed (on a worker).
#[derive(Clone, Debug)]
pub struct PaymentScreen {
    pub kind: TenderKind,
    pub entry: String,
    pub reference: String,
    pub message: Option<Message>,
    pub confirm: Option<Tender>,
    pub committing: bool,
}

impl Default for PaymentScreen {
    fn default() -> Self {
        PaymentScreen {
            kind: TenderKind::Cash,
            entry: String::new(),
            reference: String::new(),
            message: None,
            confirm: None,
            committing: false,
        }
    }
}

impl Session {
    pub(super) fn payment_state(&self) -> till_domain::ticket::PaymentState {
        self.checkout.ticket().payment()
    }

    /// What the keyed amount (or, with nothing keyed, the amount still due) would tender.
    pub(super) fn pay_amount(&self) -> Option<i64> {
        if self.payment.entry.is_empty() {
            return Some(if self.payment.kind == TenderKind::Cash {
                self.checkout.ticket().cash_due()
            } else {
                self.payment_state().remaining
            });
        }
        Money::parse(&self.payment.entry, self.currency)
            .ok()
            .map(|m| m.minor())
    }

    pub fn select_kind(&mut self, index: usize) {
        if let Some(kind) = PAYMENT_KINDS.get(index) {
            if *kind != self.payment.kind {
                self.payment.reference.clear();
            }
            self.payment.kind = *kind;
            self.payment.message = None;
        }
    }

    pub fn payment_key(&mut self, key: &str) -> Option<Task> {
        if self.payment.committing {
            return None;
        }
        if key != "enter" {
            self.edit_field(Field::PaymentEntry, key);
            return None;
        }
        let Some(amount) = self.pay_amount() else {
            self.payment.message = Message::error(self.lang.pick(
                &format!("金额 {} 无效", self.payment.entry),
                &format!("amount {} is not valid", self.payment.entry),
            ));
            return None;
        };
        let reference = self
            .payment
            .kind
            .needs_reference()
            .then(|| self.payment.reference.clone())
            .filter(|r| !r.is_empty());
        self.tender(Tender {
            kind: self.payment.kind,
            amount,
            reference,
        })
    }

    /// The quick-cash buttons: exact, then the notes that cover what is due.
    pub fn quick_cash(&self) -> Vec<i64> {
        let due = self.checkout.ticket().cash_due();
        let mut amounts = vec![due];
        for note in [5_000, 10_000] {
            if note > due {
                amounts.push(note);
            }
        }
        if amounts.len() == 1 {
            // Over ￥100: the next round hundreds.
            amounts.push((due / 10_000 + 1) * 10_000);
        }
        amounts
    }

    pub fn quick_cash_pressed(&mut self, index: usize) -> Option<Task> {
        if self.payment.committing {
            return None;
        }
        let amount = *self.quick_cash().get(index)?;
        self.payment.kind = TenderKind::Cash;
        self.tender(Tender {
            kind: TenderKind::Cash,
            amount,
            reference: None,
        })
    }

    pub(super) fn tender(&mut self, tender: Tender) -> Option<Task> {
        if tender.kind == TenderKind::Cash
            && tender.amount > LARGE_CASH
            && self.payment.confirm.is_none()
        {
            self.payment.confirm = Some(tender);
            return None;
        }
        match self.checkout.add_tender(tender) {
            Ok(()) => {
                self.payment.entry.clear();
                self.payment.reference.clear();
                self.payment.message = None;
                self.commit_if_paid()
            }
            Err(error) => {
                self.payment.message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    pub fn confirm_text(&self) -> Option<String> {
        let tender = self.payment.confirm.as_ref()?;
        let amount = self.money(tender.amount);
        Some(self.lang.pick(
            &format!("确认收取现金 {amount}？金额超过 ￥100,000，请核对。"),
            &format!("Take {amount} in cash? That is over ¥100,000: check the amount."),
        ))
    }

    pub fn confirm_tender(&mut self, yes: bool) -> Option<Task> {
        let tender = self.payment.confirm.take()?;
        if !yes {
            self.payment.entry.clear();
            self.payment.message =
                Message::error(self.t("已取消，没有收款", "cancelled: nothing tendered"));
            return None;
        }
        match self.checkout.add_tender(tender) {
            Ok(()) => {
                self.payment.entry.clear();
                self.commit_if_paid()
            }
            Err(error) => {
                self.payment.message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    pub fn remove_tender(&mut self, index: usize) {
        if self.payment.committing {
            return;
        }
        if let Err(error) = self.checkout.remove_tender(index) {
            self.payment.message = Message::error(self.refusal(&error));
        }
    }

    pub fn back_to_sale(&mut self) {
        if self.payment.committing {
            return;
        }
        self.payment.confirm = None;
        self.screen = Screen::Sale;
    }

    pub(super) fn commit_if_paid(&mut self) -> Option<Task> {
        if self.payment_state().remaining > 0 {
            return None;
        }
        match self.checkout.draft() {
            Ok(draft) => {
                self.payment.committing = true;
                let extras = SaleExtras {
                    open_ticket: Some(self.checkout.ticket_nonce().to_string()),
                    member_codes: self.checkout.member_codes().to_vec(),
                };
                Some(Task::Commit(Box::new(draft), extras))
            }
            Err(CheckoutError::Ticket(TicketError::Underpaid { .. })) => None,
            Err(error) => {
                self.payment.message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    /// The answer to [`Task::Commit`]: the committed record, or why it was not saved.
    pub fn committed(&mut self, result: Result<SaleRecord, String>) {
        self.payment.committing = false;
        match result {
            Ok(record) => {
                // Its receipt is queued now; the printer's own report follows within a second.
                if let Some(printer) = &mut self.printer {
                    printer.pending += 1;
                }
                self.checkout.sold();
                self.fresh_ticket();
                self.sale.selected = None;
                self.sale.entry.clear();
                self.sale.message = None;
                // The drawer's own pulse follows at once, if there is a printer to send it.
                self.drawer = (self.printer.is_some() && crate::receipt::opens_drawer(&record))
                    .then_some(DrawerState::Opening);
                self.last_sale = Some(record);
                self.screen = Screen::Complete;
            }
            Err(error) => {
                self.payment.message = Message::error(self.lang.pick(
                    &format!("销售未保存：{error}；小票仍在，请重试"),
                    &format!("the sale was not saved: {error}; the ticket is kept, try again"),
                ));
            }
        }
    }

    /// Abandons the open ticket without selling it (the benchmark's next customer).
    pub fn cancel_ticket(&mut self) {
        self.checkout.clear();
        self.fresh_ticket();
        self.sale.selected = None;
        self.sale.entry.clear();
    }

    pub fn new_sale(&mut self) {
        self.screen = Screen::Sale;
        self.sale.message = None;
        self.sale.entry.clear();
        self.sale.entry_focused = true;
    }
}
