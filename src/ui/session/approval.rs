//! The manager-approval overlay: its PIN pad, lockout and the action it approves.

use super::*;

/// The manager-approval overlay's controller: the action waiting, why it needs a manager, the
/// PIN keyed, the last message, and whether the PIN is being checked. Its fields are private:
/// other modules change it only through its methods, and the adapter only reads it.
#[derive(Clone, Debug)]
pub struct Approval {
    /// Tells this prompt from the next, for the PIN check's answer.
    id: u64,
    pending: Pending,
    /// The `[roles]` action whose roles may approve; None: a manager's approval.
    action: Option<crate::roles::Action>,
    reason: String,
    pin: Entry,
    message: Option<String>,
    checking: bool,
}

impl Approval {
    fn new(
        id: u64,
        pending: Pending,
        reason: String,
        action: Option<crate::roles::Action>,
    ) -> Approval {
        Approval {
            id,
            pending,
            action,
            reason,
            pin: Entry::new(EntryKind::Pin),
            message: None,
            checking: false,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether anyone whose role `[roles]` allows may approve (else only a manager).
    pub fn by_role(&self) -> bool {
        self.action.is_some()
    }

    /// Why a manager is needed, in the till's language.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The PIN as dots, one a digit.
    pub fn pin_dots(&self) -> String {
        "●".repeat(self.pin.len())
    }

    /// The PIN keyed, for the keyboard's burst snapshot; never shown.
    pub(super) fn pin(&self) -> &str {
        self.pin.as_str()
    }

    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub fn checking(&self) -> bool {
        self.checking
    }

    pub(super) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.pin
    }

    pub(super) fn say(&mut self, message: String) {
        self.message = Some(message);
    }
}

impl Session {
    /// Opens the approval overlay for `pending`, numbered after the prompts before it.
    pub(super) fn ask_manager(&mut self, pending: Pending, reason: String) {
        self.ask_approval(pending, reason, None);
    }

    /// Opens the approval overlay for `pending`: the PIN of anyone whose role may do `action`
    /// (`[roles]`; None: a manager's) approves it.
    pub(super) fn ask_approval(
        &mut self,
        pending: Pending,
        reason: String,
        action: Option<crate::roles::Action>,
    ) {
        self.approvals += 1;
        self.approval = Some(Approval::new(self.approvals, pending, reason, action));
    }

    pub fn approval_key(&mut self, key: &str) -> Option<Task> {
        if key != "enter" {
            self.edit_field(Field::ApprovalPin, key);
            return None;
        }
        let approval = self.approval.as_mut()?;
        if approval.checking {
            return None;
        }
        if let Some(left) = self.approval_guard.locked_for(now_ms()) {
            let text = self.locked_message(left);
            let approval = self.approval.as_mut()?;
            approval.message = Some(text);
            approval.pin.clear();
            return None;
        }
        let approval = self.approval.as_mut()?;
        if crate::staff::check_pin_shape(approval.pin.as_str()).is_err() {
            approval.message = Some(
                self.lang
                    .pick("PIN 为 4 到 8 位数字", "a PIN is 4 to 8 digits"),
            );
            return None;
        }
        let action = approval.action;
        let roles = &self.ops.roles;
        let managers: Vec<(StaffMember, String)> = self
            .staff
            .iter()
            .filter(|s| match action {
                Some(action) => roles.may(s.role, action),
                None => s.role == Role::Manager,
            })
            .filter_map(|s| {
                let hash = self.checkout.store().staff_pin_hash(&s.id).ok()?;
                Some((s.clone(), hash))
            })
            .collect();
        let approval = self.approval.as_mut()?;
        approval.checking = true;
        approval.message = None;
        Some(Task::CheckPin {
            purpose: PinPurpose::Approval(approval.id),
            pin: approval.pin.take(),
            candidates: managers,
        })
    }

    /// The answer to the [`Task::CheckPin`] of approval prompt `id`. A wrong PIN counts
    /// towards the lockout even if the prompt was cancelled meanwhile; a right one approves
    /// only the prompt it was keyed into.
    pub fn approved(&mut self, id: u64, manager: Option<StaffMember>) -> Option<Task> {
        let current = self.approval.as_ref().is_some_and(|a| a.id == id);
        let Some(manager) = manager else {
            let text = self.wrong_pin(PinPrompt::Approval);
            if current {
                let approval = self.approval.as_mut()?;
                approval.checking = false;
                approval.message = Some(text);
            }
            return None;
        };
        self.guard_succeeded(PinPrompt::Approval);
        if !current {
            return None;
        }
        let approval = self.approval.take()?;
        if let Pending::Op(start) = approval.pending {
            return self.start_op(start, Some(manager.id));
        }
        self.run(
            approval.pending,
            Some(&ManagerApproval {
                manager: manager.id,
            }),
        );
        None
    }

    pub fn cancel_approval(&mut self) {
        if self.approval.take().is_some() {
            self.returns_after_approval = None;
            let said = Message::error(self.t("未批准，没有改动", "not approved: nothing changed"));
            match self.screen {
                Screen::BackOffice => self.back_office.say(said),
                Screen::Returns => self.returns_say(said),
                Screen::Sales => self.sales_say(said),
                _ => self.sale.say(said),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_shows_dots_for_its_pin_and_its_reason() {
        let mut approval = Approval::new(
            4,
            Pending::Op(OpStart::XReport),
            "needs a manager".into(),
            None,
        );
        assert_eq!((approval.id(), approval.reason()), (4, "needs a manager"));
        for key in ["9", "9", "x", "9"] {
            approval.entry_mut().key(key);
        }
        assert_eq!(approval.pin_dots(), "●●●");
        assert_eq!(approval.pin(), "999");
        assert!(approval.message().is_none() && !approval.checking());
        approval.say("wrong manager PIN".into());
        assert_eq!(approval.message(), Some("wrong manager PIN"));
    }
}
