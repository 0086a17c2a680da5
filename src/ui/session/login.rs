//! The login screen: staff, PIN entry, the lockout that survives a restart, logout (which parks the open ticket), and the open ticket kept on disk.

use till_sync::ops::{Lockout, Op, Session as SessionOp};

use super::*;

/// The login screen's controller: the name tapped, the PIN keyed so far, the last message,
/// and whether a PIN is being checked (on a worker: argon2 is slow by design). Its fields are
/// private: other modules change it only through its methods, and the adapter only reads it.
#[derive(Clone, Debug)]
pub struct LoginScreen {
    /// An index into [`Session::staff`].
    selected: Option<usize>,
    pin: Entry,
    message: Option<Message>,
    checking: bool,
}

impl LoginScreen {
    /// The screen for a till with `staff` names: one name needs no tap.
    pub fn new(staff: usize) -> LoginScreen {
        LoginScreen {
            selected: (staff == 1).then_some(0),
            pin: Entry::new(EntryKind::Pin),
            message: None,
            checking: false,
        }
    }

    /// The name tapped, as an index into the staff list.
    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    /// The PIN as dots, one a digit: the PIN itself is never shown.
    pub fn pin_dots(&self) -> String {
        "●".repeat(self.pin.len())
    }

    /// The PIN keyed, for the keyboard's burst snapshot; never shown.
    pub(super) fn pin(&self) -> &str {
        self.pin.as_str()
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub fn checking(&self) -> bool {
        self.checking
    }

    /// Taps name `index` of `staff` names: a new PIN starts.
    fn select(&mut self, index: usize, staff: usize) {
        if index < staff {
            self.selected = Some(index);
            self.pin.clear();
            self.message = None;
        }
    }

    pub(super) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.pin
    }

    pub(super) fn say(&mut self, message: Option<Message>) {
        self.message = message;
    }

    /// Back to an empty PIN and no message, as logging out leaves it.
    pub(super) fn reset(&mut self) {
        self.pin.clear();
        self.message = None;
    }
}

impl Session {
    pub fn select_staff(&mut self, index: usize) {
        self.login.select(index, self.staff.len());
    }

    pub fn login_key(&mut self, key: &str) -> Option<Task> {
        if key != "enter" {
            self.edit_field(Field::LoginPin, key);
            return None;
        }
        if self.login.checking {
            return None;
        }
        if let Some(left) = self.login_guard.locked_for(now_ms()) {
            self.login.message = Message::error(self.locked_message(left));
            self.login.pin.clear();
            return None;
        }
        let Some(member) = self.login.selected.and_then(|i| self.staff.get(i)).cloned() else {
            self.login.message = Message::error(self.t("先选择你的名字", "choose your name first"));
            return None;
        };
        if crate::staff::check_pin_shape(self.login.pin.as_str()).is_err() {
            self.login.message =
                Message::error(self.t("PIN 为 4 到 8 位数字", "a PIN is 4 to 8 digits"));
            return None;
        }
        let Ok(hash) = self.checkout.store().staff_pin_hash(&member.id) else {
            self.login.message =
                Message::error(self.t("此员工已停用", "this staff member is not active"));
            return None;
        };
        self.login.checking = true;
        self.login.message = None;
        Some(Task::CheckPin {
            purpose: PinPurpose::Login,
            pin: self.login.pin.take(),
            candidates: vec![(member, hash)],
        })
    }

    /// The answer to a login [`Task::CheckPin`].
    pub fn logged_in(&mut self, who: Option<StaffMember>) {
        self.login.checking = false;
        match who {
            Some(member) => {
                self.guard_succeeded(PinPrompt::Login);
                self.checkout.set_cashier(&member.id);
                let id = member.id.clone();
                self.audit_session(&id, Op::Login(SessionOp { how: "pin".into() }));
                self.cashier = Some(member);
                self.login.message = None;
                self.screen = Screen::Sale;
                self.sale.focus();
                self.sale.say(None);
                self.bring_back_open_ticket(&id);
                self.shift_check_at_login();
            }
            None => {
                let text = self.wrong_pin(PinPrompt::Login);
                self.login.message = Message::error(text);
            }
        }
    }

    /// Counts a wrong PIN at `prompt`, keeps the count on disk, and says how many tries are
    /// left, or that the prompt is now locked.
    pub(super) fn wrong_pin(&mut self, prompt: PinPrompt) -> String {
        let guard = match prompt {
            PinPrompt::Login => &mut self.login_guard,
            PinPrompt::Approval => &mut self.approval_guard,
        };
        let left = guard.failed(now_ms());
        let saved = *guard;
        self.deferred.push(Task::SavePinGuard(prompt, saved));
        let wrong = match prompt {
            PinPrompt::Login => self.t("PIN 错误", "wrong PIN"),
            PinPrompt::Approval if self.approval.as_ref().is_some_and(|a| a.by_role()) => self.t(
                "PIN 错误或此人无权批准",
                "wrong PIN, or not someone allowed to approve this",
            ),
            PinPrompt::Approval => self.t("店长 PIN 错误", "wrong manager PIN"),
        };
        if left == 0 {
            let who = match prompt {
                PinPrompt::Login => self
                    .login
                    .selected
                    .and_then(|i| self.staff.get(i))
                    .map_or_else(|| "login".to_string(), |s| s.id.clone()),
                PinPrompt::Approval => self.checkout.cashier().to_string(),
            };
            let for_ms = i64::try_from(saved.last_lockout().as_millis()).unwrap_or(i64::MAX);
            let lockout = Op::Lockout(Lockout {
                prompt: prompt.as_str().to_string(),
                for_ms,
            });
            self.audit_session(&who, lockout);
            let secs = saved.last_lockout().as_secs();
            self.lang.pick(
                &format!("{wrong} 5 次，锁定 {secs} 秒"),
                &format!("5 wrong PINs: locked for {secs} s"),
            )
        } else {
            self.lang.pick(
                &format!("{wrong}，还可尝试 {left} 次"),
                &format!("{wrong}: {left} tries left"),
            )
        }
    }

    /// Queues a login, logout, lockout or no-sale opening for the audit trail, written by the
    /// sales worker.
    pub(super) fn audit_session(&mut self, staff: &str, op: Op) {
        self.deferred
            .push(Task::RecordAudit(Box::new(crate::checkout::AuditRecord {
                staff: staff.to_string(),
                approver: None,
                op,
            })));
    }

    pub(super) fn guard_succeeded(&mut self, prompt: PinPrompt) {
        let guard = match prompt {
            PinPrompt::Login => &mut self.login_guard,
            PinPrompt::Approval => &mut self.approval_guard,
        };
        if *guard != PinGuard::default() {
            guard.succeeded();
            self.deferred
                .push(Task::SavePinGuard(prompt, PinGuard::default()));
        }
    }

    pub(super) fn locked_message(&self, left: std::time::Duration) -> String {
        self.lang.pick(
            &format!("PIN 错误次数过多，请 {} 秒后再试", left.as_secs() + 1),
            &format!("too many wrong PINs: try again in {} s", left.as_secs() + 1),
        )
    }

    /// Tasks that followed from the last action without being its answer: durable writes
    /// for a worker thread.
    pub fn take_deferred(&mut self) -> Vec<Task> {
        // Audit records first: a void is on record before the ticket it changed is saved.
        for record in self.checkout.take_audit() {
            self.deferred.push(Task::RecordAudit(Box::new(record)));
        }
        self.note_open_ticket();
        std::mem::take(&mut self.deferred)
    }

    /// Queues a save of the open ticket if it changed. Not while a commit is under way: the
    /// commit removes the saved copy itself, and must not find it saved again behind it.
    pub(super) fn note_open_ticket(&mut self) {
        if self.payment.committing() {
            return;
        }
        // This runs after every key: compare in place, and copy only what changed.
        let ticket = self.checkout.ticket();
        let member_id = self.checkout.member().map(|m| m.member_id.as_str());
        let nonce = self.checkout.ticket_nonce();
        let open = self.cashier.is_some() && !ticket.is_empty();
        let unchanged = match &self.saved_ticket {
            None => !open,
            Some(saved) => {
                open && saved.nonce == nonce
                    && saved.member_id.as_deref() == member_id
                    && saved.ticket == *ticket
            }
        };
        if unchanged {
            return;
        }
        let now = open.then(|| OpenTicket {
            nonce: nonce.to_string(),
            cashier: self.checkout.cashier().to_string(),
            member_id: member_id.map(str::to_string),
            ticket: ticket.clone(),
        });
        self.saved_ticket = now.clone();
        self.deferred.push(Task::SaveOpenTicket(now.map(Box::new)));
    }

    /// The ticket this cashier had open when they logged out, or when the till stopped,
    /// comes back to them, with its member.
    pub(super) fn bring_back_open_ticket(&mut self, cashier: &str) {
        if !self.checkout.ticket().is_empty() {
            return;
        }
        let Ok(Some(id)) = self.checkout.store().auto_parked_for(cashier) else {
            return;
        };
        self.fresh_ticket();
        let nonce = self.checkout.ticket_nonce().to_string();
        if self.checkout.resume_with(id, Some(&nonce)).is_ok() {
            let parked = self.sale.parked_count().saturating_sub(1);
            let last = self.checkout.ticket().lines().last().map(|l| l.id);
            let message = Message::info(self.t("你未完成的小票已取回", "your open ticket is back"));
            self.sale.ticket_back(last, parked, message);
        }
    }

    /// Logs the cashier out. Their open ticket is parked under their name, to come back when
    /// they log in again: the next cashier starts with an empty ticket. A ticket with
    /// payments taken cannot be parked, so it must be finished first.
    pub fn logout(&mut self) {
        if !self.checkout.ticket().is_empty() {
            match self.park_open_ticket(true) {
                Ok(_) => {}
                Err(CheckoutError::PaymentInProgress) => {
                    self.back_office.say(Message::error(self.t(
                        "本单已收款：先完成或删除付款，再退出登录",
                        "payments are taken on the open ticket: finish it or remove them before logging out",
                    )));
                    return;
                }
                Err(error) => {
                    self.back_office.say(Message::error(self.refusal(&error)));
                    return;
                }
            }
        }
        if let Some(cashier) = &self.cashier {
            let id = cashier.id.clone();
            self.audit_session(
                &id,
                Op::Logout(SessionOp {
                    how: "logout".into(),
                }),
            );
        }
        self.sale.reset();
        self.cashier = None;
        self.screen = Screen::Login;
        self.login.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_is_chosen_already_and_a_tap_starts_a_new_pin() {
        assert_eq!(LoginScreen::new(1).selected(), Some(0));
        let mut screen = LoginScreen::new(3);
        assert_eq!(screen.selected(), None);
        screen.entry_mut().key("1");
        screen.entry_mut().key("2");
        assert_eq!(screen.pin_dots(), "●●");
        screen.say(Message::error("wrong PIN".into()));
        screen.select(2, 3);
        assert_eq!(
            (screen.selected(), screen.pin_dots()),
            (Some(2), String::new())
        );
        assert!(screen.message().is_none());
        // A tap past the list changes nothing.
        screen.entry_mut().key("7");
        screen.select(3, 3);
        assert_eq!(
            (screen.selected(), screen.pin_dots()),
            (Some(2), "●".to_string())
        );
    }
}
