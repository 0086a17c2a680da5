//! Member capture on the sale screen: the phone being keyed, the member code, the which-member question, detaching; the rules are the checkout engine's (`checkout::members`).

use super::*;

impl Session {
    /// The member panel: start keying the customer's phone number (scanning their member QR
    /// code works at any time without this).
    pub fn member(&mut self) {
        if self.sale.member_prompt.is_some() {
            return;
        }
        self.sale.phone = Some(Entry::new(EntryKind::Phone));
        self.sale.message = Message::info(self.t(
            "输入顾客手机号，按 ↵ 查找；或扫描会员码",
            "key the customer's phone number and press ↵, or scan their member code",
        ));
    }

    /// ↵ on the phone being keyed: a number that cannot be a mobile stays on the keypad to be
    /// corrected; a good one is hashed on a worker ([`Task::HashPhone`]: Argon2id is slow by
    /// design), and [`Session::phone_hashed`] finds its member.
    pub(in crate::ui::session) fn lookup_phone(&mut self) -> Option<Task> {
        let keyed = self.sale.phone().unwrap_or_default().to_string();
        let hashing = crate::checkout::members::parse_phone(&keyed)
            .and_then(|phone| Ok((self.checkout.phone_hasher()?, phone)));
        match hashing {
            Ok((hasher, phone)) => {
                self.sale.message =
                    Message::info(self.t("正在查找会员…", "looking the member up…"));
                Some(Task::HashPhone(Box::new(hasher), phone))
            }
            Err(error @ CheckoutError::Member(MemberRefusal::BadPhone(_))) => {
                self.sale.message = Message::error(self.refusal(&error));
                None
            }
            Err(error) => {
                self.sale.phone = None;
                self.sale.message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    /// The answer to [`Task::HashPhone`]: the phone's member goes on the ticket (or the
    /// cashier is asked which to keep), or a number no member has asks for consent. Dropped
    /// if the cashier has left phone entry or changed the number meanwhile.
    pub fn phone_hashed(&mut self, phone: HashedPhone) {
        let keyed = self.sale.phone().map(crate::checkout::members::parse_phone);
        if !matches!(keyed, Some(Ok(ref now)) if now == phone.phone()) {
            return;
        }
        match self.checkout.find_hashed(phone) {
            Ok(PhoneLookup::Member(member)) => {
                self.sale.phone = None;
                self.sale.message = None;
                self.offer(member, None);
            }
            Ok(PhoneLookup::NotEnrolled(phone)) => {
                self.sale.phone = None;
                self.sale.message = None;
                self.sale.member_prompt = Some(MemberPrompt::Consent { phone });
            }
            Err(error) => {
                self.sale.phone = None;
                self.sale.message = Message::error(self.refusal(&error));
            }
        }
    }

    /// Verifies a scanned member code and attaches its member (asking which member first if
    /// another is on the ticket), or says why not. The rules are the engine's.
    pub(in crate::ui::session) fn attach_code(&mut self, code: &MemberCode) -> Result<(), String> {
        let now = now_step();
        let member = self
            .checkout
            .check_member_code(code, now)
            .map_err(|e| self.refusal(&e))?;
        self.offer(member, Some(code.clone()));
        Ok(())
    }

    /// Puts a member found by code or phone on the ticket, or asks which one to keep if
    /// another is already there.
    pub(in crate::ui::session) fn offer(&mut self, member: Member, code: Option<MemberCode>) {
        if self
            .ticket_member()
            .is_some_and(|current| current.member_id != member.member_id)
        {
            self.sale.member_prompt = Some(MemberPrompt::Replace { new: member, code });
            return;
        }
        self.take_member(member, code, false);
    }

    pub(in crate::ui::session) fn take_member(
        &mut self,
        member: Member,
        code: Option<MemberCode>,
        replace: bool,
    ) {
        let attached = match &code {
            Some(code) => self
                .checkout
                .attach_code(code, now_step(), replace)
                .cloned(),
            None => self.checkout.attach(member, replace).cloned(),
        };
        self.sale.message = match attached {
            Ok(member) => Message::info(self.lang.pick(
                &format!("已关联会员 {}", member_title(&member)),
                &format!("member {} attached", member_title(&member)),
            )),
            Err(error) => Message::error(self.refusal(&error)),
        };
    }

    /// The customer's or cashier's answer: accept consent / keep the new member (true), or
    /// refuse consent / keep the current member (false).
    pub fn answer_member_prompt(&mut self, yes: bool) {
        let Some(prompt) = self.sale.member_prompt.take() else {
            return;
        };
        match (prompt, yes) {
            (MemberPrompt::Consent { phone }, true) => {
                let now = jiff::Timestamp::now().as_millisecond();
                match self.checkout.enroll(&phone, now, true) {
                    Ok(_) => {
                        self.sale.message = Message::info(self.lang.pick(
                            &format!("新会员 {} 已入会，本单积分已计入", phone.masked()),
                            &format!(
                                "new member {} enrolled; this sale earns points",
                                phone.masked()
                            ),
                        ));
                    }
                    Err(error) => self.sale.message = Message::error(self.refusal(&error)),
                }
            }
            (MemberPrompt::Consent { .. }, false) => {
                self.sale.message = Message::info(self.t(
                    "顾客未同意，本单按匿名销售（小票附领取码）",
                    "consent refused: the sale stays anonymous (the receipt carries a claim code)",
                ));
            }
            (MemberPrompt::Replace { new, code }, true) => self.take_member(new, code, true),
            (MemberPrompt::Replace { .. }, false) => {
                self.sale.message = Message::info(self.t("保留原会员", "kept the first member"));
            }
        }
    }

    /// The member panel's ✕: leaves phone entry if a number is being keyed, or else detaches
    /// the member from the ticket.
    pub fn detach_member(&mut self) {
        if self.sale.phone.take().is_some() {
            self.sale.message = None;
            return;
        }
        if let Some(member) = self.checkout.detach_member() {
            self.sale.message = Message::info(self.lang.pick(
                &format!("已取消关联会员 {}", member_title(&member)),
                &format!("member {} detached", member_title(&member)),
            ));
        }
    }

    /// Points the open ticket would earn a member: the engine's rule, on what they pay.
    pub fn points_this_sale(&self) -> i64 {
        self.checkout.points_this_sale()
    }
}
