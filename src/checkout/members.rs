//! Member capture, the reason Till exists, in one place for every front-end (touchscreen,
//! `till run`, `till sell`, `till demo`, `till scan classify`): which member a scanned code,
//! a card or a phone number names, whether it may be used now, enrolling a new member with
//! consent, and which member the open ticket is for.
//!
//! Refusals are one typed error, [`MemberRefusal`], which each front-end words in its
//! cashier's language; nothing is attached or changed when one is returned.

use crate::store::{CodeUse, HashedPhone, Member, MemberCodeSpend, PhoneHasher, StoreError};
use till_domain::scan::MemberCode;
use till_sync::member::{MemberError, Phone, step_at, verify_dynamic, verify_tm2};

use super::{Checkout, CheckoutError};

/// Why a member cannot be attached to the ticket.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemberRefusal {
    /// The till has no member key yet (it has never synced), so it can check no member code
    /// and hash no phone number.
    #[error("no member key on this till yet: members can be found only after it syncs with HQ")]
    NoKey,
    /// A `TM2` code signed by a key this till does not hold: HQ rotated its key since this
    /// till last synced, or the code is forged.
    #[error("member code is signed by key {0}, which this till does not know: sync with HQ")]
    UnknownKey(u64),
    /// A version-1 code on a till whose chain no longer accepts them (`[member] accept_tm1`).
    #[error(
        "old member code (TM1) no longer accepted: ask the member to update their app or open their member pass"
    )]
    Tm1Refused,
    #[error("member code expired: ask for a fresh one")]
    Expired,
    #[error("member code is not yet valid: check this till's clock")]
    NotYetValid,
    /// The signature does not verify with any key this till holds: forged, altered, or made
    /// with a key the till never had.
    #[error("member code invalid (bad signature)")]
    BadSignature,
    #[error("unknown member {0}")]
    UnknownMember(String),
    #[error("unknown member card {0}")]
    UnknownCard(String),
    #[error("member {0} is deactivated and cannot be used")]
    Deactivated(String),
    /// The same dynamic code was used for another sale within its window.
    #[error("member code already used: ask for a fresh one")]
    AlreadyUsed,
    #[error("phone number {0} is not valid: 11 digits starting with 1")]
    BadPhone(String),
    /// A phone number no member has: enrolling needs the customer's consent.
    #[error("no member has phone {0}: enrolling needs the customer's consent")]
    NotEnrolled(String),
    /// Another member is already on the ticket: the cashier must say which one it is for.
    #[error("member {current} is already on this ticket, not {new}: take {current} off first")]
    AnotherMember { current: String, new: String },
}

/// What looking a phone number up found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneLookup {
    Member(Member),
    /// No member has it: the customer may enroll, with consent (its hashes made already).
    NotEnrolled(HashedPhone),
}

/// A keyed phone number, or why it is not one (it stays on the keypad to be corrected).
pub fn parse_phone(keyed: &str) -> Result<Phone, CheckoutError> {
    Phone::parse(keyed).map_err(|_| MemberRefusal::BadPhone(keyed.trim().to_string()).into())
}

/// The time a member code is checked at, as a 30-second step.
pub fn now_step() -> u64 {
    step_at(jiff::Timestamp::now().as_second().max(0).unsigned_abs())
}

impl Checkout {
    /// The member the open ticket is for, if any.
    pub fn member(&self) -> Option<&Member> {
        self.member.as_ref()
    }

    /// The open ticket's identity, which the replay cache of member codes (and the
    /// touchscreen's saved open ticket) keys on. A new ticket gets a new one.
    pub fn ticket_nonce(&self) -> &str {
        &self.nonce
    }

    /// Which member a member code names, if it verifies at `now_step`, without using it: a
    /// dynamic code's signature and window, the member's standing, and whether another sale
    /// already used it. For `till scan classify`.
    pub fn check_member_code(
        &self,
        code: &MemberCode,
        now_step: u64,
    ) -> Result<Member, CheckoutError> {
        Ok(self.verify(code, now_step)?.0)
    }

    /// Verifies a scanned member code and attaches its member to the open ticket. A dynamic
    /// code is spent in the sale's own transaction, and remembered across restarts, so no
    /// other sale can use it within its window; a ticket that is not sold spends nothing.
    /// With another member already attached, it is refused with
    /// [`MemberRefusal::AnotherMember`] unless `replace`.
    pub fn attach_code(
        &mut self,
        code: &MemberCode,
        now_step: u64,
        replace: bool,
    ) -> Result<&Member, CheckoutError> {
        let (member, spend) = self.verify(code, now_step)?;
        self.check_replace(&member, replace)?;
        self.codes = spend.into_iter().collect();
        Ok(self.member.insert(member))
    }

    /// The dynamic codes the sale will spend when it commits (the attached member's).
    pub fn member_codes(&self) -> &[MemberCodeSpend] {
        &self.codes
    }

    /// Looks a keyed phone number up (`138 1234 5678`, `+86-138-1234-5678` and the like).
    pub fn find_by_phone(&self, keyed: &str) -> Result<PhoneLookup, CheckoutError> {
        let phone = parse_phone(keyed)?;
        let hashed = self.phone_hasher()?.hash(phone);
        self.find_hashed(hashed)
    }

    /// What hashing a phone needs (the chain's pepper and any version-1 keys), for a caller
    /// that hashes off its own thread (the touchscreen) and then calls [`Self::find_hashed`].
    pub fn phone_hasher(&self) -> Result<PhoneHasher, CheckoutError> {
        self.store.phone_hasher().map_err(no_key)
    }

    /// [`Self::find_by_phone`] for a phone hashed already.
    pub fn find_hashed(&self, phone: HashedPhone) -> Result<PhoneLookup, CheckoutError> {
        match self.store.member_by_hashes(&phone)? {
            Some(member) if !member.active => {
                Err(MemberRefusal::Deactivated(member.member_id).into())
            }
            Some(member) => Ok(PhoneLookup::Member(member)),
            None => Ok(PhoneLookup::NotEnrolled(phone)),
        }
    }

    /// Attaches the member with this phone number; a number no member has is refused with
    /// [`MemberRefusal::NotEnrolled`] (see [`Self::enroll`]).
    pub fn attach_phone(&mut self, keyed: &str, replace: bool) -> Result<&Member, CheckoutError> {
        match self.find_by_phone(keyed)? {
            PhoneLookup::Member(member) => self.attach(member, replace),
            PhoneLookup::NotEnrolled(phone) => {
                Err(MemberRefusal::NotEnrolled(phone.masked()).into())
            }
        }
    }

    /// Enrolls the customer with this phone, who accepted the configured consent text at
    /// `now_ms`, under a provisional ID HQ confirms on sync, and attaches them. Works offline.
    pub fn enroll(
        &mut self,
        phone: &HashedPhone,
        now_ms: i64,
        replace: bool,
    ) -> Result<&Member, CheckoutError> {
        if let Some(current) = &self.member
            && !replace
        {
            return Err(MemberRefusal::AnotherMember {
                current: current.member_id.clone(),
                new: phone.masked(),
            }
            .into());
        }
        let member = self
            .store
            .enroll_hashed(phone, &self.settings.consent_version, now_ms)
            .map_err(no_key)?;
        self.codes.clear();
        Ok(self.member.insert(member))
    }

    /// Attaches a member found another way (a parked ticket's, or one the cashier chose).
    pub fn attach(&mut self, member: Member, replace: bool) -> Result<&Member, CheckoutError> {
        if !member.active {
            return Err(MemberRefusal::Deactivated(member.member_id).into());
        }
        self.check_replace(&member, replace)?;
        if self.member.as_ref().map(|m| &m.member_id) != Some(&member.member_id) {
            self.codes.clear();
        }
        Ok(self.member.insert(member))
    }

    /// Takes the member off the open ticket; the sale will be anonymous.
    pub fn detach_member(&mut self) -> Option<Member> {
        self.codes.clear();
        self.member.take()
    }

    fn check_replace(&self, member: &Member, replace: bool) -> Result<(), MemberRefusal> {
        match &self.member {
            Some(current) if current.member_id != member.member_id && !replace => {
                Err(MemberRefusal::AnotherMember {
                    current: current.member_id.clone(),
                    new: member.member_id.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The member a code names, if it may be used now, and for a dynamic code what the sale
    /// must spend.
    fn verify(
        &self,
        code: &MemberCode,
        now_step: u64,
    ) -> Result<(Member, Option<MemberCodeSpend>), CheckoutError> {
        let store = &self.store;
        match code {
            MemberCode::Tm2 {
                member_id,
                step,
                kid,
                signature,
            } => {
                let keys = store.code_keys()?;
                if keys.is_empty() {
                    return Err(MemberRefusal::NoKey.into());
                }
                let valid_until = verify_tm2(&keys, member_id, *step, *kid, signature, now_step)
                    .map_err(code_refusal)?;
                self.spend(member_id, *step, "TM2", valid_until, now_step)
            }
            MemberCode::Tm1 {
                member_id,
                step,
                mac,
            } => {
                if !self.settings.accept_tm1 {
                    return Err(MemberRefusal::Tm1Refused.into());
                }
                let keys = store.member_keys()?;
                if keys.is_empty() {
                    return Err(MemberRefusal::NoKey.into());
                }
                let valid_until =
                    verify_dynamic(&keys, member_id, *step, mac, now_step).map_err(code_refusal)?;
                self.spend(member_id, *step, "TM1", valid_until, now_step)
            }
            MemberCode::Card(card) => {
                let member = store
                    .member_by_card(card)?
                    .ok_or_else(|| MemberRefusal::UnknownCard(card.clone()))?;
                if !member.active {
                    return Err(MemberRefusal::Deactivated(member.member_id).into());
                }
                Ok((member, None))
            }
        }
    }

    /// The member a verified dynamic code names, if active and the code unused: what the
    /// sale must spend. `version` keeps a `TM1` and a `TM2` code of one step apart, as the
    /// till remembered them before.
    fn spend(
        &self,
        member_id: &str,
        step: u64,
        version: &str,
        valid_until: u64,
        now_step: u64,
    ) -> Result<(Member, Option<MemberCodeSpend>), CheckoutError> {
        let store = &self.store;
        let member = store
            .member(member_id)?
            .ok_or_else(|| MemberRefusal::UnknownMember(member_id.to_string()))?;
        if !member.active {
            return Err(MemberRefusal::Deactivated(member.member_id).into());
        }
        // One key per member and step, however the code was typed or scanned.
        let spend = MemberCodeSpend {
            key: format!("{version}.{member_id}.{step}"),
            member_id: member_id.to_string(),
            ticket: self.nonce.clone(),
            valid_until_step: valid_until,
            now_step,
        };
        match self
            .store
            .member_code_use(&spend.key, &self.nonce, now_step)?
        {
            CodeUse::Fresh => Ok((member, Some(spend))),
            CodeUse::AlreadyUsed => Err(MemberRefusal::AlreadyUsed.into()),
        }
    }
}

/// Why a dynamic code's signature or step refuses it, as the cashier is told.
fn code_refusal(error: MemberError) -> MemberRefusal {
    match error {
        MemberError::Expired => MemberRefusal::Expired,
        MemberError::FromTheFuture => MemberRefusal::NotYetValid,
        MemberError::UnknownKey(kid) => MemberRefusal::UnknownKey(kid),
        _ => MemberRefusal::BadSignature,
    }
}

/// A phone lookup or enrollment before the till has a key is a member refusal, not a fault.
fn no_key(error: StoreError) -> CheckoutError {
    match error {
        StoreError::NoMemberKey => MemberRefusal::NoKey.into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkout::{CheckoutSettings, ScanContext, ScanOutcome};
    use crate::config::{CONFIG_FILE, Config, DATABASE_FILE};
    use crate::store::Store;
    use till_domain::{Tender, TenderKind};
    use till_sync::member::{CodeSigningKey, MemberKey, demo_code_key, dynamic_code};

    /// The demo terminal: its member key, members 10086 (card 8800010086, phone
    /// 13812345678), 10087, and 10088 (deactivated).
    fn till() -> (tempfile::TempDir, Checkout) {
        let dir = tempfile::tempdir().unwrap();
        crate::demo::create_terminal(dir.path(), None).unwrap();
        let checkout = open(dir.path());
        (dir, checkout)
    }

    fn open(dir: &std::path::Path) -> Checkout {
        open_with(dir, |_| {})
    }

    /// The terminal at `dir`, with `change` made to its config.
    fn open_with(dir: &std::path::Path, change: impl FnOnce(&mut Config)) -> Checkout {
        let mut config = Config::load(&dir.join(CONFIG_FILE)).unwrap();
        change(&mut config);
        let store = Store::open(&dir.join(DATABASE_FILE)).unwrap();
        Checkout::new(
            store,
            CheckoutSettings::from_config(&config).unwrap(),
            "1001",
        )
    }

    /// The version-1 key the demo terminal holds.
    fn v1_key(c: &Checkout) -> MemberKey {
        c.store().member_keys().unwrap()[0].clone()
    }

    /// Scans `raw` as the till would and attaches its member; the member ID or the refusal.
    fn scan(c: &mut Checkout, raw: &str, now: u64) -> Result<String, MemberRefusal> {
        let before = c.member().cloned();
        let outcome = c
            .scan(raw, ScanContext::Sale)
            .map_err(|e| panic!("{raw}: {e}"));
        let Ok(ScanOutcome::Member(code)) = outcome else {
            panic!("{raw} is not a member code: {outcome:?}")
        };
        match c.attach_code(&code, now, false) {
            Ok(m) => Ok(m.member_id.clone()),
            Err(CheckoutError::Member(refusal)) => {
                assert_eq!(
                    c.member().cloned(),
                    before,
                    "{raw}: a refusal changed the member"
                );
                Err(refusal)
            }
            Err(other) => panic!("{raw}: {other}"),
        }
    }

    fn sell(c: &mut Checkout) -> till_sync::SaleRecord {
        c.scan(&crate::demo::sample_ean13(2), ScanContext::Sale)
            .unwrap();
        let due = c.ticket().cash_due();
        c.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due,
            reference: None,
        })
        .unwrap();
        c.commit().unwrap().record
    }

    fn check(
        c: &mut Checkout,
        what: &str,
        raw: &str,
        now: u64,
        expected: Result<&str, MemberRefusal>,
    ) {
        c.detach_member();
        let got = scan(c, raw, now);
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "{what}");
    }

    #[test]
    fn the_member_code_table() {
        let (dir, mut c) = till();
        let k = demo_code_key();
        let now = 59_000_000;
        let code = |id: &str, step: u64| k.code(id, step);
        let mut flipped = code("10086", now);
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        // Signed by a key HQ never published, under the key ID the till trusts.
        let forged = CodeSigningKey::from_secret(k.kid(), [7; 32]).code("10086", now);
        // Signed under a key ID the till does not know (HQ rotated since its last sync).
        let newer = CodeSigningKey::from_secret(2, [8; 32]).code("10086", now);
        let tm1 = dynamic_code(&v1_key(&c), "10086", now);
        use MemberRefusal::*;
        check(&mut c, "valid now", &code("10086", now), now, Ok("10086"));
        check(
            &mut c,
            "3 steps back",
            &code("10086", now - 3),
            now,
            Ok("10086"),
        );
        check(
            &mut c,
            "4 steps back",
            &code("10086", now - 4),
            now,
            Err(Expired),
        );
        check(
            &mut c,
            "5 steps ahead",
            &code("10086", now + 5),
            now,
            Err(NotYetValid),
        );
        check(
            &mut c,
            "flipped signature character",
            &flipped,
            now,
            Err(BadSignature),
        );
        check(
            &mut c,
            "a key HQ never published",
            &forged,
            now,
            Err(BadSignature),
        );
        check(
            &mut c,
            "a signature over another member's ID",
            &code("10087", now).replacen("10087", "10086", 1),
            now,
            Err(BadSignature),
        );
        check(
            &mut c,
            "a key ID the till does not know",
            &newer,
            now,
            Err(UnknownKey(2)),
        );
        check(&mut c, "TM1, migration off", &tm1, now, Err(Tm1Refused));
        check(
            &mut c,
            "unknown member",
            &code("99999", now),
            now,
            Err(UnknownMember("99999".into())),
        );
        check(
            &mut c,
            "deactivated",
            &code("10088", now),
            now,
            Err(Deactivated("10088".into())),
        );
        check(&mut c, "card", "8800010086", now, Ok("10086"));
        check(
            &mut c,
            "unknown card",
            "8800099999",
            now,
            Err(UnknownCard("8800099999".into())),
        );
        // While a chain migrates, TM1 codes made with its version-1 key still work.
        let mut c = open_with(dir.path(), |config| config.member.accept_tm1 = true);
        check(&mut c, "TM1, migration on", &tm1, now, Ok("10086"));
        let tm1_forged = dynamic_code(&MemberKey::from_bytes([7; 32]), "10086", now);
        check(
            &mut c,
            "TM1, migration on, another key",
            &tm1_forged,
            now,
            Err(BadSignature),
        );
        check(
            &mut c,
            "TM2 still works",
            &code("10086", now),
            now,
            Ok("10086"),
        );
    }

    #[test]
    fn a_code_serves_one_sale_even_after_a_restart_and_a_second_member_needs_a_choice() {
        let (dir, mut c) = till();
        let now = now_step();
        let code = demo_code_key().code("10086", now);
        assert_eq!(scan(&mut c, &code, now), Ok("10086".into()));
        // The same ticket may scan it again.
        assert_eq!(scan(&mut c, &code, now), Ok("10086".into()));
        let sale = sell(&mut c);
        assert!(matches!(
            sale.attribution,
            till_sync::Attribution::Member { .. }
        ));
        assert_eq!(scan(&mut c, &code, now), Err(MemberRefusal::AlreadyUsed));
        drop(c);
        let mut c = open(dir.path());
        assert_eq!(scan(&mut c, &code, now), Err(MemberRefusal::AlreadyUsed));
        // A second member is refused until the cashier chooses.
        c.attach_phone("13812345678", false).unwrap();
        let other = demo_code_key().code("10087", now);
        assert_eq!(
            scan(&mut c, &other, now),
            Err(MemberRefusal::AnotherMember {
                current: "10086".into(),
                new: "10087".into()
            })
        );
        // Refused, so not spent: the choice can still take it.
        let ScanOutcome::Member(parsed) = c.scan(&other, ScanContext::Sale).unwrap() else {
            panic!()
        };
        assert_eq!(
            c.attach_code(&parsed, now, true).unwrap().member_id,
            "10087"
        );
    }

    /// A code is spent by the sale that commits with it, in the sale's transaction: a ticket
    /// put aside spends nothing, and the second sale to commit with the same code is refused
    /// and not saved.
    #[test]
    fn a_code_is_spent_by_the_sale_that_commits_with_it() {
        let (_dir, mut c) = till();
        let now = now_step();
        let code = demo_code_key().code("10086", now);
        c.scan(&crate::demo::sample_ean13(2), ScanContext::Sale)
            .unwrap();
        assert_eq!(scan(&mut c, &code, now), Ok("10086".into()));
        c.park().unwrap();
        // The parked ticket spent nothing: another ticket may still use the code.
        assert_eq!(scan(&mut c, &code, now), Ok("10086".into()));
        let first = sell(&mut c);
        assert!(matches!(
            first.attribution,
            till_sync::Attribution::Member { .. }
        ));
        let parked = c.parked().unwrap()[0].id;
        c.resume(parked).unwrap();
        assert_eq!(c.member().map(|m| m.member_id.as_str()), Some("10086"));
        let due = c.ticket().cash_due();
        c.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due,
            reference: None,
        })
        .unwrap();
        let before = c.store().sales_count().unwrap();
        // The member came back with the ticket, checked when it was scanned; the code itself
        // is spent, so scanning it again now would be refused.
        assert!(c.commit().is_ok());
        assert_eq!(c.store().sales_count().unwrap(), before + 1);
        // Two tickets holding the same code: the second to commit is refused.
        c.scan(&crate::demo::sample_ean13(2), ScanContext::Sale)
            .unwrap();
        let fresh = demo_code_key().code("10087", now);
        assert_eq!(scan(&mut c, &fresh, now), Ok("10087".into()));
        let held = c.member_codes().to_vec();
        let other = c.store().sales_count().unwrap();
        let spent = MemberCodeSpend {
            ticket: "another ticket".into(),
            ..held[0].clone()
        };
        assert_eq!(c.store().use_member_code(&spent).unwrap(), CodeUse::Fresh);
        let due = c.ticket().cash_due();
        c.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due,
            reference: None,
        })
        .unwrap();
        assert!(matches!(
            c.commit(),
            Err(CheckoutError::Store(StoreError::MemberCodeUsed))
        ));
        assert_eq!(c.store().sales_count().unwrap(), other);
    }

    #[test]
    fn phones_are_found_however_they_are_typed() {
        let (_dir, mut c) = till();
        for keyed in [
            "13812345678",
            "+86 138 1234 5678",
            "138-1234-5678",
            "+86-138-1234-5678",
        ] {
            c.detach_member();
            assert_eq!(
                c.attach_phone(keyed, false).unwrap().member_id,
                "10086",
                "{keyed}"
            );
        }
        c.detach_member();
        assert!(matches!(
            c.attach_phone("13987654321", false),
            Ok(m) if m.member_id == "10087"
        ));
        c.detach_member();
        for (keyed, refusal) in [
            ("12345", MemberRefusal::BadPhone("12345".into())),
            ("13700001111", MemberRefusal::Deactivated("10088".into())),
            (
                "13600001234",
                MemberRefusal::NotEnrolled("136****1234".into()),
            ),
        ] {
            match c.attach_phone(keyed, false) {
                Err(CheckoutError::Member(got)) => assert_eq!(got, refusal, "{keyed}"),
                other => panic!("{keyed}: {other:?}"),
            }
            assert!(c.member().is_none());
        }
    }

    #[test]
    fn a_sale_carries_the_points_of_the_rule_the_till_holds_and_its_ledger_agrees() {
        let (_dir, mut c) = till();
        c.attach_phone("13812345678", false).unwrap();
        let legacy = sell(&mut c);
        assert_eq!(
            legacy.loyalty,
            Some(till_sync::loyalty::SaleLoyalty { rule: 0, points: 2 })
        );
        // A rule that arrives while a ticket is open (a sync in the background) waits for
        // the next ticket: the open one earns what the screen promised.
        c.attach_phone("13812345678", false).unwrap();
        c.scan(&crate::demo::sample_ean13(2), ScanContext::Sale)
            .unwrap();
        let rule = till_sync::loyalty::LoyaltyRule::new(1, 3).unwrap();
        assert!(c.store().set_loyalty_rule(&rule).unwrap());
        assert!(
            !c.store()
                .set_loyalty_rule(&till_sync::loyalty::LoyaltyRule::LEGACY)
                .unwrap()
        );
        assert_eq!(c.points_this_sale(), 2);
        let due = c.ticket().cash_due();
        c.add_tender(Tender {
            kind: TenderKind::Cash,
            amount: due,
            reference: None,
        })
        .unwrap();
        assert_eq!(c.commit().unwrap().record.loyalty.unwrap().rule, 0);
        c.attach_phone("13812345678", false).unwrap();
        let sale = sell(&mut c);
        assert_eq!(sale.loyalty.unwrap().points, 6);
        assert_eq!(c.store().points_for_sale(sale.seq).unwrap(), Some(6));
        // An anonymous sale says what a claim would earn, and puts nothing on a ledger.
        let anonymous = sell(&mut c);
        assert_eq!(anonymous.loyalty.unwrap().points, 6);
        assert_eq!(c.store().points_for_sale(anonymous.seq).unwrap(), None);
        assert_eq!(c.store().verify_journal().unwrap().problem, None);
    }
}
