//! Scans, from a wedge burst, a serial scanner or the keypad: which screen a code goes to, and
//! what the sale screen does with it (the payment screen's part is `payment.rs`).

use super::*;

impl Session {
    /// A code from a scanner: serial or keyboard wedge. Whatever is on screen, the scan is
    /// used or refused with a message; it is never silently dropped. A refused scan also
    /// counts an alert ([`Session::alerts`]): the till beeps and flashes, since a cashier
    /// looks at the goods, not the screen.
    pub fn scan(&mut self, code: &str) -> Option<Task> {
        let task = self.scan_here(code);
        if self.scan_was_refused() {
            self.alerts += 1;
        }
        task
    }

    /// Whether the scan just handled was refused: the screen it met shows an error.
    pub(in crate::ui::session) fn scan_was_refused(&self) -> bool {
        if self.approval.is_some() {
            return true;
        }
        let message = match self.screen {
            Screen::Login => self.login.message(),
            Screen::Sale | Screen::Complete => self.sale.message(),
            Screen::Payment => self.payment.message(),
            Screen::Parked => self.parked.message(),
            Screen::BackOffice => self.back_office.message(),
            Screen::Count => self.count.message(),
            Screen::Cash => self.cash.message(),
            Screen::Paper => self.paper.message(),
            Screen::Returns => self.returns.message(),
            Screen::Sales => self.sales.message(),
        };
        message.is_some_and(|m| m.error)
    }

    pub(in crate::ui::session) fn scan_here(&mut self, code: &str) -> Option<Task> {
        self.sale.confirm_cancel = false;
        if let Some(approval) = &mut self.approval {
            approval.say(self.lang.pick(
                &format!("先完成店长批准；扫码 {code} 未处理"),
                &format!("finish the manager approval first; scan {code} was not used"),
            ));
            return None;
        }
        if self.payment.committing() {
            self.payment.say(Message::error(self.lang.pick(
                &format!("正在保存本单；扫码 {code} 未处理，请稍后再扫"),
                &format!("the sale is being saved; scan {code} was not used, scan it again"),
            )));
            return None;
        }
        if self.sale.member_prompt.is_some() {
            self.sale.message = Message::error(self.lang.pick(
                &format!("先回答会员提示；扫码 {code} 未处理"),
                &format!("answer the member question first; scan {code} was not used"),
            ));
            return None;
        }
        match self.screen {
            Screen::Login => {
                self.login.say(Message::error(
                    self.t("请先登录再扫码", "log in before scanning"),
                ));
                None
            }
            Screen::Complete => {
                self.new_sale();
                self.scan_on_sale(code)
            }
            Screen::Sale => {
                // A new scan replaces a product still waiting for its weight, and ends phone
                // entry: the cashier has moved on (a member code attaches the member anyway).
                self.sale.leave_entry_modes();
                self.scan_on_sale(code)
            }
            Screen::Payment => {
                self.scan_on_payment(code);
                None
            }
            Screen::Parked => {
                self.parked.say(Message::error(self.lang.pick(
                    &format!("先关闭挂单列表再扫码；{code} 未处理"),
                    &format!("close the parked list to scan; {code} was not used"),
                )));
                None
            }
            Screen::BackOffice => {
                self.back_office.say(Message::error(self.lang.pick(
                    &format!("先返回销售再扫码；{code} 未处理"),
                    &format!("go back to the sale to scan; {code} was not used"),
                )));
                None
            }
            Screen::Returns => self.scan_on_returns(code),
            Screen::Sales => self.scan_on_sales(code),
            Screen::Count | Screen::Cash | Screen::Paper => {
                let text = self.lang.pick(
                    &format!("先完成或取消当前操作；扫码 {code} 未处理"),
                    &format!("finish or cancel this first; scan {code} was not used"),
                );
                self.say_on_ops_screen(Message::error(text));
                None
            }
        }
    }

    pub(in crate::ui::session) fn scan_on_sale(&mut self, code: &str) -> Option<Task> {
        // A number keyed before the scan is its quantity ("3", scan) or weight in kg.
        let quantity = if self.sale.entry.is_empty() {
            None
        } else {
            match Quantity::parse(self.sale.entry.as_str()) {
                Some(q) => Some(q),
                None => {
                    self.sale.message = Message::error(self.lang.pick(
                        &format!("数量 {} 无效", self.sale.entry()),
                        &format!("quantity {} is not valid", self.sale.entry()),
                    ));
                    return None;
                }
            }
        };
        match self
            .checkout
            .scan_with_quantity(code, crate::checkout::ScanContext::Sale, quantity)
        {
            Ok(ScanOutcome::Added(line)) => {
                self.sale.entry.clear();
                self.added(line);
            }
            Ok(ScanOutcome::Member(member_code)) => {
                if let Err(refusal) = self.attach_code(&member_code) {
                    self.sale.message = Message::error(refusal);
                }
            }
            Ok(ScanOutcome::Receipt(receipt)) => {
                // A receipt's barcode starts its return.
                return self.return_from_sale_screen(&receipt.encode());
            }
            Ok(ScanOutcome::PaymentReference(_)) => {}
            Err(CheckoutError::NeedsWeight(name)) if quantity.is_none() => {
                // Ask for the weight on the keypad rather than send the cashier back to scan.
                self.sale.message = Message::info(self.lang.pick(
                    &format!("{name} 按重量销售：输入重量（千克）后按 ↵"),
                    &format!("{name} is sold by weight: key the weight in kg and press ↵"),
                ));
                self.sale.weighing = Some((code.to_string(), name));
                self.sale.entry.clear();
                self.sale.entry_focused = true;
            }
            Err(error) => self.sale.message = Message::error(self.refusal(&error)),
        }
        None
    }

    pub(in crate::ui::session) fn added(&mut self, line: LineId) {
        self.sale.selected = Some(line);
        self.sale.entry_focused = true;
        let ticket = self.checkout.ticket();
        if let (Ok(l), Some(i)) = (
            ticket.line(line),
            ticket.lines().iter().position(|l| l.id == line),
        ) {
            let total = ticket.totals().lines[i].total;
            let name = l.item.name_zh.clone();
            let name = if self.lang == Lang::Zh || l.item.name_en.is_empty() {
                name
            } else {
                l.item.name_en.clone()
            };
            self.sale.message = Message::info(format!(
                "+ {name}  {} × {}  {}",
                self.lang.quantity(l.quantity, l.item.weighed),
                self.money(l.unit_price),
                self.money(total)
            ));
        }
    }

    /// News from a serial scanner: a code, or trouble worth telling the cashier about.
    pub fn scanner_event(&mut self, event: till_drivers::scanner::ScannerEvent) -> Option<Task> {
        use till_drivers::scanner::ScannerEvent;
        let note = match event {
            ScannerEvent::Scan { code, .. } => return self.scan(&code),
            ScannerEvent::Connected { .. } => return None,
            ScannerEvent::Discarded { scanner, reason } => self.lang.pick(
                &format!("扫码枪 {scanner}：{reason}，请重扫"),
                &format!("scanner {scanner}: {reason}; scan again"),
            ),
            ScannerEvent::Disconnected { scanner, reason } => self.lang.pick(
                &format!("扫码枪 {scanner} 断开（{reason}），正在重连"),
                &format!("scanner {scanner} disconnected ({reason}); reconnecting"),
            ),
        };
        match self.screen {
            Screen::Payment => self.payment.say(Message::error(note)),
            Screen::Login => self.login.say(Message::error(note)),
            _ => self.sale.message = Message::error(note),
        }
        None
    }
}
