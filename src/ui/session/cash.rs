//! Paid in, paid out and no-sale openings on the touchscreen: the amount on the keypad, a
//! reason from `[cash]`, and the drawer opened once the store has recorded it.

use super::*;
use crate::store::StoreError;
use till_domain::shift::MovementKind;

/// Paid in, paid out or a no-sale opening: the amount keyed and the reason tapped.
#[derive(Clone, Debug)]
pub struct CashScreen {
    kind: MovementKind,
    amount: Entry,
    reason: Option<usize>,
    approver: Option<String>,
    busy: bool,
    message: Option<Message>,
}

impl Default for CashScreen {
    fn default() -> Self {
        CashScreen::new(MovementKind::NoSale, None)
    }
}

impl CashScreen {
    pub(super) fn new(kind: MovementKind, approver: Option<String>) -> CashScreen {
        CashScreen {
            kind,
            amount: Entry::new(EntryKind::Figure),
            reason: None,
            approver,
            busy: false,
            message: None,
        }
    }

    pub fn kind(&self) -> MovementKind {
        self.kind
    }

    pub fn amount(&self) -> &str {
        self.amount.as_str()
    }

    /// The reason tapped, as its index in the configured list.
    pub fn reason(&self) -> Option<usize> {
        self.reason
    }

    pub fn busy(&self) -> bool {
        self.busy
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub(super) fn say(&mut self, message: Option<Message>) {
        self.message = message;
    }

    pub(super) fn entry_mut(&mut self) -> Option<&mut Entry> {
        (self.kind != MovementKind::NoSale).then_some(&mut self.amount)
    }
}

impl Session {
    pub fn cash(&self) -> &CashScreen {
        &self.cash
    }

    /// The configured reasons for the cash screen's movement.
    pub fn cash_reasons(&self) -> &[String] {
        self.ops.reasons(self.cash.kind)
    }

    /// A keypad key for the amount; ↵ confirms, as the green button does.
    pub fn cash_key(&mut self, key: &str) -> Option<Task> {
        if self.cash.busy {
            return None;
        }
        if key == "enter" {
            return self.confirm_cash();
        }
        if let Some(entry) = self.cash.entry_mut() {
            entry.key(key);
            self.cash.message = None;
        }
        None
    }

    pub fn select_reason(&mut self, index: usize) {
        if index < self.cash_reasons().len() {
            self.cash.reason = Some(index);
            self.cash.message = None;
        }
    }

    /// "Pay in", "Pay out" or "Open drawer" on the cash screen.
    pub fn confirm_cash(&mut self) -> Option<Task> {
        if self.cash.busy {
            return None;
        }
        let kind = self.cash.kind;
        let amount = if kind == MovementKind::NoSale {
            0
        } else {
            let typed = self.cash.amount.as_str().to_string();
            match Money::parse(&typed, self.currency) {
                Ok(m) if m.minor() > 0 => m.minor(),
                _ if typed.is_empty() || typed.trim_start_matches(['0', '.']).is_empty() => {
                    self.cash.message =
                        Message::error(self.t("输入大于零的金额", "key an amount above zero"));
                    return None;
                }
                _ => {
                    self.cash.message = Message::error(self.lang.pick(
                        &format!("金额 {typed} 无效：最多两位小数"),
                        &format!("{typed} is not an amount: at most two decimals"),
                    ));
                    return None;
                }
            }
        };
        let Some(reason) = self
            .cash
            .reason
            .and_then(|i| self.cash_reasons().get(i).cloned())
        else {
            self.cash.message = Message::error(self.t("请选择原因", "tap a reason"));
            return None;
        };
        if kind != MovementKind::NoSale && self.shift.is_none() {
            self.cash.message = Message::error(
                self.lang
                    .store_refusal(&StoreError::NoOpenShift, self.currency),
            );
            return None;
        }
        self.cash.busy = true;
        self.cash.message = Message::info(self.t("正在打开钱箱…", "opening the drawer…"));
        Some(Task::MoveCash {
            staff: self.staff_id(),
            approver: self.cash.approver.clone(),
            kind,
            amount,
            reason,
        })
    }

    /// The answer to [`Task::MoveCash`] (the drawer's own answer follows).
    pub fn cash_moved(&mut self, result: Result<(), StoreError>) -> Option<Task> {
        self.cash.busy = false;
        match result {
            Ok(()) => {
                let amount =
                    Money::parse(self.cash.amount(), self.currency).map_or(0, |m| m.minor());
                let amount = self.money(amount);
                let reason = self
                    .cash
                    .reason
                    .and_then(|i| self.cash_reasons().get(i).cloned())
                    .unwrap_or_default();
                let text = match self.cash.kind {
                    MovementKind::PaidIn => self.lang.pick(
                        &format!("已存入 {amount}（{reason}）"),
                        &format!("paid in {amount} ({reason})"),
                    ),
                    MovementKind::PaidOut => self.lang.pick(
                        &format!("已取出 {amount}（{reason}）"),
                        &format!("paid out {amount} ({reason})"),
                    ),
                    MovementKind::NoSale => self.lang.pick(
                        &format!("无销售开箱（{reason}）"),
                        &format!("no sale ({reason})"),
                    ),
                };
                self.drawer = Some(DrawerState::Opening);
                self.back_to_office(Message::info(text))
            }
            Err(error) => {
                self.cash.message = Message::error(self.lang.store_refusal(&error, self.currency));
                None
            }
        }
    }
}
