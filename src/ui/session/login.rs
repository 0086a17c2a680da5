//! The login screen: staff, PIN entry, the lockout that survives a restart, logout (which parks the open ticket), and the open ticket kept on disk.

use super::*;

/// What the login screen shows: the name tapped, the PIN keyed so far, the last message, and
/// whether a PIN is being checked (on a worker: argon2 is slow by design).
#[derive(Clone, Debug, Default)]
pub struct LoginScreen {
    /// An index into [`Session::staff`].
    pub selected: Option<usize>,
    pub pin: String,
    pub message: Option<Message>,
    pub checking: bool,
}

impl Session {
    pub fn select_staff(&mut self, index: usize) {
        if index < self.staff.len() {
            self.login.selected = Some(index);
            self.login.pin.clear();
            self.login.message = None;
        }
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
        if crate::staff::check_pin_shape(&self.login.pin).is_err() {
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
            pin: std::mem::take(&mut self.login.pin),
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
                self.cashier = Some(member);
                self.login.message = None;
                self.screen = Screen::Sale;
                self.sale.entry_focused = true;
                self.sale.message = None;
                self.bring_back_open_ticket(&id);
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
            PinPrompt::Approval => self.t("店长 PIN 错误", "wrong manager PIN"),
        };
        if left == 0 {
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
        self.note_open_ticket();
        std::mem::take(&mut self.deferred)
    }

    /// Queues a save of the open ticket if it changed. Not while a commit is under way: the
    /// commit removes the saved copy itself, and must not find it saved again behind it.
    pub(super) fn note_open_ticket(&mut self) {
        if self.payment.committing {
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
            self.sale.parked_count = self.sale.parked_count.saturating_sub(1);
            self.sale.selected = self.checkout.ticket().lines().last().map(|l| l.id);
            self.sale.message =
                Message::info(self.t("你未完成的小票已取回", "your open ticket is back"));
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
                    self.back_office.message = Message::error(self.t(
                        "本单已收款：先完成或删除付款，再退出登录",
                        "payments are taken on the open ticket: finish it or remove them before logging out",
                    ));
                    return;
                }
                Err(error) => {
                    self.back_office.message = Message::error(self.refusal(&error));
                    return;
                }
            }
        }
        self.sale.entry.clear();
        self.sale.weighing = None;
        self.sale.message = None;
        self.cashier = None;
        self.screen = Screen::Login;
        self.login.pin.clear();
        self.login.message = None;
    }
}
