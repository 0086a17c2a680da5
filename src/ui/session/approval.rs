//! The manager-approval overlay: its PIN pad, lockout and the action it approves.

use super::*;

impl Session {
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
        if crate::staff::check_pin_shape(&approval.pin).is_err() {
            approval.message = Some(
                self.lang
                    .pick("PIN 为 4 到 8 位数字", "a PIN is 4 to 8 digits"),
            );
            return None;
        }
        let managers: Vec<(StaffMember, String)> = self
            .staff
            .iter()
            .filter(|s| s.role == Role::Manager)
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
            pin: std::mem::take(&mut approval.pin),
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
        if approval.pending == Pending::OpenBackOffice {
            return self.enter_back_office();
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
            self.sale.message =
                Message::error(self.t("未批准，没有改动", "not approved: nothing changed"));
        }
    }
}
