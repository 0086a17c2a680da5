//! The payment screen: tenders, quick cash, the large-cash confirmation, committing, and the sale-complete screen.

use super::*;

/// The payment screen's controller: the tender kind chosen, the amount and reference keyed,
/// the last message, a large cash tender waiting to be confirmed, and whether the paid ticket
/// is being committed (on a worker). Its fields are private: other modules change it only through its methods, and
/// the adapter only reads it.
#[derive(Clone, Debug)]
pub struct PaymentScreen {
    kind: TenderKind,
    entry: Entry,
    reference: String,
    message: Option<Message>,
    confirm: Option<Tender>,
    committing: bool,
}

impl Default for PaymentScreen {
    fn default() -> Self {
        PaymentScreen {
            kind: TenderKind::Cash,
            entry: Entry::new(EntryKind::Figure),
            reference: String::new(),
            message: None,
            confirm: None,
            committing: false,
        }
    }
}

impl PaymentScreen {
    pub fn kind(&self) -> TenderKind {
        self.kind
    }

    /// The amount keyed, in the currency's major units as typed.
    pub fn entry(&self) -> &str {
        self.entry.as_str()
    }

    /// The payment code scanned for a mobile tender.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    /// A large cash tender waiting for the cashier to confirm it.
    pub fn confirm(&self) -> Option<&Tender> {
        self.confirm.as_ref()
    }

    /// Whether the paid ticket is being committed: the screen takes nothing meanwhile.
    pub fn committing(&self) -> bool {
        self.committing
    }

    pub(super) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.entry
    }

    pub(super) fn say(&mut self, message: Option<Message>) {
        self.message = message;
    }

    /// Chooses a tender kind; a payment code read for another kind is dropped.
    fn choose(&mut self, kind: TenderKind) {
        if kind != self.kind {
            self.reference.clear();
        }
        self.kind = kind;
        self.message = None;
    }

    /// The screen as the cashier finds it on pressing Pay: cash, nothing keyed.
    pub(super) fn start(&mut self) {
        *self = PaymentScreen {
            committing: self.committing,
            ..PaymentScreen::default()
        };
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
        Money::parse(self.payment.entry.as_str(), self.currency)
            .ok()
            .map(|m| m.minor())
    }

    pub fn select_kind(&mut self, index: usize) {
        if let Some(kind) = PAYMENT_KINDS.get(index) {
            self.payment.choose(*kind);
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
                &format!("金额 {} 无效", self.payment.entry()),
                &format!("amount {} is not valid", self.payment.entry()),
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
                let extras = self.checkout.sale_extras(true);
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
    pub fn committed(&mut self, result: Result<SaleRecord, CommitFailure>) {
        self.payment.committing = false;
        match result {
            Ok(record) => {
                // Its receipt is queued now; the printer's own report follows within a second.
                if let Some(printer) = &mut self.printer {
                    printer.pending += 1;
                }
                self.checkout.sold();
                self.fresh_ticket();
                self.sale.ticket_gone();
                self.sale.say(None);
                // The drawer's own pulse follows at once, if there is a printer to send it.
                self.drawer = (self.printer.is_some() && crate::receipt::opens_drawer(&record))
                    .then_some(DrawerState::Opening);
                self.last_sale = Some(record);
                self.screen = Screen::Complete;
            }
            Err(failure) => {
                let error = match failure {
                    CommitFailure::Store(error) => self.lang.store_refusal(&error, self.currency),
                    CommitFailure::Other(error) => error,
                };
                self.payment.message = Message::error(self.lang.pick(
                    &format!("销售未保存：{error}；本单仍在，请重试"),
                    &format!("the sale was not saved: {error}; the ticket is kept, try again"),
                ));
            }
        }
    }

    /// Abandons the open ticket without selling it (the benchmark's next customer).
    pub fn cancel_ticket(&mut self) {
        self.checkout.clear();
        self.fresh_ticket();
        self.sale.ticket_gone();
    }

    pub fn new_sale(&mut self) {
        self.screen = Screen::Sale;
        self.sale.start();
    }

    pub(in crate::ui::session) fn scan_on_payment(&mut self, code: &str) {
        let store = self.checkout.store();
        let is_internal = |c: &str| store.is_internal_code(c).unwrap_or(false);
        match classify(code, &self.checkout.settings().scan, &is_internal) {
            Scan::Payment(payment) => {
                let kind = match payment.provider {
                    PaymentProvider::WeChatPay => TenderKind::WeChatPay,
                    PaymentProvider::Alipay => TenderKind::Alipay,
                    PaymentProvider::UnionPay => TenderKind::UnionPay,
                };
                self.payment.kind = kind;
                self.payment.reference = payment.code.clone();
                let amount = self.pay_amount().unwrap_or(0);
                self.payment.message = Message::info(self.lang.pick(
                    &format!(
                        "已读取{}付款码，按“收取”收款 {}",
                        self.lang.tender(kind),
                        self.money(amount)
                    ),
                    &format!(
                        "{} code read: press Tender to charge {}",
                        self.lang.tender(kind),
                        self.money(amount)
                    ),
                ));
            }
            Scan::Member(member_code) => {
                // The sale is not committed yet, so the member can still be attached.
                self.payment.message = match self.attach_code(&member_code) {
                    Ok(()) => self.ticket_member().map(|m| Message {
                        text: self.lang.pick(
                            &format!("已关联会员 {}", member_title(m)),
                            &format!("member {} attached", member_title(m)),
                        ),
                        error: false,
                    }),
                    Err(refusal) => Message::error(refusal),
                };
            }
            Scan::Unknown(reason) => {
                self.payment.message =
                    Message::error(self.refusal(&CheckoutError::Unrecognised(reason)));
            }
            Scan::Product(_) | Scan::Weighed { .. } | Scan::Receipt(_) => {
                self.payment.message = Message::error(self.lang.pick(
                    &format!("正在收款：要加商品请先返回销售（{code} 未处理）"),
                    &format!(
                        "taking payment: go back to the sale to add items ({code} was not used)"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_tender_kind_drops_the_code_read_for_the_first() {
        let mut screen = PaymentScreen::default();
        screen.choose(TenderKind::WeChatPay);
        screen.reference = "134567890123456789".into();
        screen.choose(TenderKind::WeChatPay);
        assert_eq!(screen.reference(), "134567890123456789");
        screen.choose(TenderKind::Card);
        assert_eq!((screen.kind(), screen.reference()), (TenderKind::Card, ""));
    }

    #[test]
    fn pay_starts_on_cash_with_nothing_keyed_or_waiting() {
        let mut screen = PaymentScreen::default();
        screen.choose(TenderKind::Alipay);
        screen.reference = "281234567890123456".into();
        screen.committing = true;
        screen.entry_mut().key("5");
        screen.say(Message::error("amount 5 is not valid".into()));
        screen.confirm = Some(Tender {
            kind: TenderKind::Cash,
            amount: LARGE_CASH + 1,
            reference: None,
        });
        screen.start();
        assert_eq!(screen.kind(), TenderKind::Cash);
        assert_eq!((screen.entry(), screen.reference()), ("", ""));
        // A commit under way is not forgotten by coming back to the screen.
        assert!(screen.committing());
        assert!(screen.message().is_none() && screen.confirm().is_none());
    }
}
