//! Members on the terminal: who they are (never their phone number, only its keyed hash and
//! masked form), the chain's member keys, the replay cache of used dynamic codes, and the
//! points each sale earned.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use till_sync::api::{Enrollment, MemberEntry};

use till_sync::loyalty::LoyaltyRule;
use till_sync::member::{ClaimKey, CodePublicKey, MemberKey, Phone, PhonePepper};

/// The setting holding this terminal's claim key, in hex.
const CLAIM_KEY: &str = "claim_key";
/// The setting holding the chain's phone pepper, in hex.
const PHONE_PEPPER: &str = "phone_pepper";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub display_name: String,
    pub tier: String,
    /// The balance as of the last sync; HQ keeps the authoritative one.
    pub points: i64,
    pub phone_masked: Option<String>,
    pub active: bool,
    pub provisional: bool,
}

/// A member as HQ (or an import) describes them.
#[derive(Clone, Debug)]
pub struct MemberRecord {
    pub member_id: String,
    pub display_name: String,
    pub tier: String,
    pub points: i64,
    pub phone: Option<Phone>,
    pub card_number: Option<String>,
    pub active: bool,
}

/// A dynamic member code a sale uses: recorded in the replay cache in the sale's own
/// transaction, which fails if another ticket used it within its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberCodeSpend {
    /// The code's replay key: `TM1.<member_id>.<step>`, the same however it was scanned.
    pub key: String,
    pub member_id: String,
    /// The ticket using it (its nonce).
    pub ticket: String,
    /// The last step the code is valid in.
    pub valid_until_step: u64,
    /// The step the code was checked in.
    pub now_step: u64,
}

/// What using a dynamic code for a ticket found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeUse {
    /// First use, or the same ticket scanning it again.
    Fresh,
    /// Already used on another ticket within its window.
    AlreadyUsed,
}

/// The pepper and version-1 keys a phone is hashed with: cheap to take from the store, and
/// [`PhoneHasher::hash`] (Argon2id, tens of milliseconds) can then run on any thread.
#[derive(Clone, Debug)]
pub struct PhoneHasher {
    pepper: PhonePepper,
    v1: Vec<MemberKey>,
}

impl PhoneHasher {
    /// The phone's hash under the pepper, and its version-1 hashes.
    pub fn hash(&self, phone: Phone) -> HashedPhone {
        HashedPhone {
            hash: phone.hash(&self.pepper),
            legacy: self.v1.iter().map(|key| phone.legacy_hash(key)).collect(),
            phone,
        }
    }
}

/// A phone number with its hashes, ready to look up or enroll without hashing again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedPhone {
    phone: Phone,
    hash: String,
    legacy: Vec<String>,
}

impl HashedPhone {
    pub fn phone(&self) -> &Phone {
        &self.phone
    }

    /// `138****5678`.
    pub fn masked(&self) -> String {
        self.phone.masked()
    }
}

const MEMBER_COLUMNS: &str =
    "member_id, display_name, tier, points, phone_masked, active, provisional";

fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        member_id: r.get(0)?,
        display_name: r.get(1)?,
        tier: r.get(2)?,
        points: r.get(3)?,
        phone_masked: r.get(4)?,
        active: r.get(5)?,
        provisional: r.get(6)?,
    })
}

impl Store {
    /// Adds a member key; the newest key is current, the one before it still verifies.
    pub fn add_member_key(&self, key: &MemberKey) -> Result<bool> {
        Ok(self.conn.execute(
            "INSERT INTO member_keys (key_hex, added_at_ms) VALUES (?1, ?2)
             ON CONFLICT (key_hex) DO NOTHING",
            params![key.to_hex(), jiff::Timestamp::now().as_millisecond()],
        )? == 1)
    }

    /// The current key, then the previous one.
    pub fn member_keys(&self) -> Result<Vec<MemberKey>> {
        self.v1_keys(Some(2))
    }

    /// Version-1 keys, newest first, at most `limit`.
    fn v1_keys(&self, limit: Option<u32>) -> Result<Vec<MemberKey>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key_hex FROM member_keys ORDER BY id DESC LIMIT ?1")?;
        let keys = stmt
            .query_map([limit.map_or(-1, i64::from)], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        keys.iter()
            .map(|hex| {
                MemberKey::parse_hex(hex)
                    .map_err(|_| StoreError::Corrupt("a stored member key is malformed".into()))
            })
            .collect()
    }

    /// Keeps one of HQ's public member-code keys. Returns whether it is new. A key ID names
    /// one key for good: a different key under a known ID is refused, since HQ never reuses
    /// one ([`StoreError::CodeKeyChanged`]).
    pub fn add_code_key(&self, key: &CodePublicKey) -> Result<bool> {
        let held: Option<String> = self
            .conn
            .query_row(
                "SELECT public_hex FROM code_keys WHERE kid = ?1",
                [key.kid()],
                |r| r.get(0),
            )
            .optional()?;
        match held {
            Some(hex) if hex == key.to_hex() => Ok(false),
            Some(_) => Err(StoreError::CodeKeyChanged(key.kid())),
            None => {
                self.conn.execute(
                    "INSERT INTO code_keys (kid, public_hex, added_at_ms) VALUES (?1, ?2, ?3)",
                    params![
                        key.kid(),
                        key.to_hex(),
                        jiff::Timestamp::now().as_millisecond()
                    ],
                )?;
                Ok(true)
            }
        }
    }

    /// Keeps this terminal's claim key, as HQ gave it at registration (or at a sync, for a
    /// till registered before claim keys): every anonymous sale's claim code is signed with it.
    pub fn set_claim_key(&self, key: &ClaimKey) -> Result<()> {
        self.set_setting(CLAIM_KEY, &key.to_hex())
    }

    /// The key this terminal signs its anonymous sales' claim codes with, once it has one.
    pub fn claim_key(&self) -> Result<Option<ClaimKey>> {
        self.setting(CLAIM_KEY)?
            .filter(|hex| !hex.is_empty())
            .map(|hex| {
                ClaimKey::parse_hex(&hex)
                    .map_err(|_| StoreError::Corrupt("the stored claim key is malformed".into()))
            })
            .transpose()
    }

    /// Forgets every member-code key, as registering with an HQ does: that HQ's keys come
    /// with the next sync.
    pub fn forget_code_keys(&self) -> Result<()> {
        self.conn.execute("DELETE FROM code_keys", [])?;
        Ok(())
    }

    /// HQ's member-code public keys this till trusts: the newest (current) first, then the
    /// one before it, which still verifies while a rotation settles. Older keys are kept but
    /// no longer trusted.
    pub fn code_keys(&self) -> Result<Vec<CodePublicKey>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kid, public_hex FROM code_keys ORDER BY kid DESC LIMIT 2")?;
        let keys = stmt
            .query_map([], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        keys.iter()
            .map(|(kid, hex)| {
                CodePublicKey::parse_hex(*kid, hex).map_err(|_| {
                    StoreError::Corrupt(format!("stored member-code key {kid} is malformed"))
                })
            })
            .collect()
    }

    /// Keeps the chain's phone pepper, as HQ gives it at registration or a sync. The pepper
    /// never rotates: a different one from the same HQ is refused
    /// ([`StoreError::PepperChanged`]), since every phone hash on the till depends on it.
    /// Registering with an HQ (`replace`) takes that HQ's, whatever the till held (a demo's).
    pub fn set_phone_pepper(&self, pepper: &PhonePepper, replace: bool) -> Result<()> {
        match self.phone_pepper()? {
            Some(held) if held == *pepper => Ok(()),
            Some(_) if !replace => Err(StoreError::PepperChanged),
            _ => self.set_setting(PHONE_PEPPER, &pepper.to_hex()),
        }
    }

    /// The chain's phone pepper, once the till has it.
    pub fn phone_pepper(&self) -> Result<Option<PhonePepper>> {
        self.setting(PHONE_PEPPER)?
            .filter(|hex| !hex.is_empty())
            .map(|hex| {
                PhonePepper::parse_hex(&hex)
                    .map_err(|_| StoreError::Corrupt("the stored phone pepper is malformed".into()))
            })
            .transpose()
    }

    /// Every version-1 member key the till holds, newest first: they find members enrolled
    /// before version 2, and tell HQ who they are.
    fn all_member_keys(&self) -> Result<Vec<MemberKey>> {
        self.v1_keys(None)
    }

    /// What hashing a phone needs, to take off the thread that asks: the chain's pepper
    /// ([`StoreError::NoMemberKey`] before the till has it) and the version-1 keys it holds.
    pub fn phone_hasher(&self) -> Result<PhoneHasher> {
        Ok(PhoneHasher {
            pepper: self.phone_pepper()?.ok_or(StoreError::NoMemberKey)?,
            v1: self.all_member_keys()?,
        })
    }

    fn phone_hashes(&self, phone: &Phone) -> Result<(String, Vec<String>)> {
        let hashed = self.phone_hasher()?.hash(phone.clone());
        Ok((hashed.hash, hashed.legacy))
    }

    /// Adds or updates a member, as a member delta from HQ would.
    pub fn upsert_member(&self, record: &MemberRecord) -> Result<()> {
        let (hash, masked) = match &record.phone {
            Some(phone) => (Some(self.phone_hashes(phone)?.0), Some(phone.masked())),
            None => (None, None),
        };
        self.conn.execute(
            "INSERT INTO members (member_id, display_name, tier, points, phone_hash, phone_masked,
                                  card_number, active)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (member_id) DO UPDATE SET display_name = excluded.display_name,
                 tier = excluded.tier, points = excluded.points,
                 phone_hash = coalesce(excluded.phone_hash, phone_hash),
                 phone_masked = coalesce(excluded.phone_masked, phone_masked),
                 card_number = coalesce(excluded.card_number, card_number),
                 active = excluded.active, provisional = 0",
            params![
                record.member_id,
                record.display_name,
                record.tier,
                record.points,
                hash,
                masked,
                record.card_number,
                record.active
            ],
        )?;
        Ok(())
    }

    /// A member by ID, or by an ID HQ mapped to them: the provisional ID they were enrolled
    /// under here, or a member HQ merged into them (one phone that version 1 split in two).
    /// The mapping comes first, because a merged member stays listed, inactive.
    pub fn member(&self, member_id: &str) -> Result<Option<Member>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE member_id =
                     (SELECT member_id FROM member_aliases WHERE provisional_id = ?1)
                 UNION ALL
                 SELECT {MEMBER_COLUMNS} FROM members WHERE member_id = ?1
                 LIMIT 1"
            ))?
            .query_row([member_id], member_row)
            .optional()?)
    }

    pub fn member_by_card(&self, card: &str) -> Result<Option<Member>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE card_number = ?1"
            ))?
            .query_row([card], member_row)
            .optional()?)
    }

    /// Looks a member up by phone: the number is hashed under the chain's pepper (and, for a
    /// member enrolled before version 2 whom HQ has not moved yet, under the version-1 keys
    /// the till holds) and never stored or compared in the clear.
    pub fn member_by_phone(&self, phone: &Phone) -> Result<Option<Member>> {
        self.member_by_hashes(&self.phone_hasher()?.hash(phone.clone()))
    }

    /// [`Self::member_by_phone`] with the hashes made already (off the UI thread).
    pub fn member_by_hashes(&self, phone: &HashedPhone) -> Result<Option<Member>> {
        let hashes = std::iter::once(&phone.hash).chain(&phone.legacy);
        for hash in hashes {
            let found = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {MEMBER_COLUMNS} FROM members WHERE phone_hash = ?1"
                ))?
                .query_row([hash], member_row)
                .optional()?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Enrolls a new member at the till with recorded consent, under a provisional ID that HQ
    /// confirms or merges (by phone hash) when it syncs. Works offline.
    pub fn enroll_member(
        &self,
        phone: &Phone,
        consent_version: &str,
        now_ms: i64,
    ) -> Result<Member> {
        let hashed = self.phone_hasher()?.hash(phone.clone());
        self.enroll_hashed(&hashed, consent_version, now_ms)
    }

    /// [`Self::enroll_member`] with the hashes made already (off the UI thread).
    pub fn enroll_hashed(
        &self,
        hashed: &HashedPhone,
        consent_version: &str,
        now_ms: i64,
    ) -> Result<Member> {
        let (phone, hash, legacy) = (&hashed.phone, &hashed.hash, &hashed.legacy);
        let (store, terminal) = self.identity();
        let member_id = format!("P-{store}-{terminal}-{}", uuid::Uuid::now_v7().simple());
        // The member and its enrollment, which waits for HQ whatever later pulls do to the
        // member row, are written together.
        let tx = self.conn.unchecked_transaction()?;
        let inserted = tx.execute(
            "INSERT INTO members (member_id, phone_hash, phone_masked, provisional,
                                  consent_version, consent_at_ms, enrolled_at_ms)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)
             ON CONFLICT (phone_hash) DO NOTHING",
            params![member_id, hash, phone.masked(), consent_version, now_ms],
        )?;
        if inserted == 0 {
            return Err(StoreError::MemberExists);
        }
        tx.execute(
            "INSERT INTO enrollments (provisional_id, phone_hash, phone_masked, consent_version,
                                      consent_at_ms, enrolled_at_ms, legacy_hashes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                member_id,
                hash,
                phone.masked(),
                consent_version,
                now_ms,
                legacy.join(" ")
            ],
        )?;
        tx.commit()?;
        self.member(&member_id)?
            .ok_or_else(|| StoreError::Corrupt("the new member vanished".into()))
    }

    /// Records that a dynamic code is used by its ticket, refusing it if another ticket used
    /// it within its window. Expired entries are swept as it goes.
    pub fn use_member_code(&self, spend: &MemberCodeSpend) -> Result<CodeUse> {
        spend_code(&self.conn, spend)
    }

    /// Points a committed sale earned, if it was a member's.
    pub fn points_for_sale(&self, seq: u64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT points FROM points_ledger WHERE sale_seq = ?1")?
            .query_row([seq], |r| r.get(0))
            .optional()?)
    }

    /// Members enrolled here that HQ has not yet filed, oldest first, as they were enrolled:
    /// nothing a member pull does changes them.
    pub fn pending_enrollments(&self) -> Result<Vec<Enrollment>> {
        let mut stmt = self.conn.prepare(
            "SELECT provisional_id, phone_hash, phone_masked, consent_version, consent_at_ms,
                    enrolled_at_ms, legacy_hashes
             FROM enrollments
             WHERE filed_as IS NULL
             ORDER BY enrolled_at_ms, provisional_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Enrollment {
                    provisional_id: r.get(0)?,
                    phone_hash: r.get(1)?,
                    phone_masked: r.get(2)?,
                    consent_version: r.get(3)?,
                    consent_at_ms: r.get(4)?,
                    enrolled_at_ms: r.get(5)?,
                    legacy_phone_hashes: r
                        .get::<_, String>(6)?
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Takes HQ's member changes in one transaction: provisional IDs become final ones (a
    /// parked ticket's member too), then changed members are added or updated. Past sales keep
    /// the ID they were journaled with; HQ maps it.
    pub fn apply_member_changes(
        &mut self,
        aliases: &[(String, String)],
        members: &[MemberEntry],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (provisional, member_id) in aliases {
            let final_exists: bool = tx
                .prepare_cached("SELECT count(*) FROM members WHERE member_id = ?1")?
                .query_row([member_id], |r| r.get::<_, i64>(0))?
                > 0;
            if final_exists {
                tx.prepare_cached("DELETE FROM members WHERE member_id = ?1 AND provisional = 1")?
                    .execute([provisional])?;
            } else {
                tx.prepare_cached(
                    "UPDATE members SET member_id = ?2, provisional = 0 WHERE member_id = ?1",
                )?
                .execute([provisional, member_id])?;
            }
            tx.prepare_cached("UPDATE parked_tickets SET member_id = ?2 WHERE member_id = ?1")?
                .execute([provisional, member_id])?;
            tx.prepare_cached(
                "INSERT INTO member_aliases (provisional_id, member_id) VALUES (?1, ?2)
                 ON CONFLICT (provisional_id) DO UPDATE SET member_id = excluded.member_id",
            )?
            .execute([provisional, member_id])?;
            // HQ has filed it: the enrollment is done.
            tx.prepare_cached(
                "UPDATE enrollments SET filed_as = ?2, filed_at_ms = ?3
                 WHERE provisional_id = ?1 AND filed_as IS NULL",
            )?
            .execute(params![
                provisional,
                member_id,
                jiff::Timestamp::now().as_millisecond()
            ])?;
        }
        for m in members {
            // A phone moves to the member HQ says has it.
            if let Some(hash) = &m.phone_hash {
                tx.prepare_cached(
                    "UPDATE members SET phone_hash = NULL WHERE phone_hash = ?1 AND member_id <> ?2",
                )?
                .execute([hash, &m.member_id])?;
            }
            tx.prepare_cached(
                "INSERT INTO members (member_id, display_name, tier, points, phone_hash,
                                      phone_masked, active, provisional)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
                 ON CONFLICT (member_id) DO UPDATE SET display_name = excluded.display_name,
                     tier = excluded.tier, points = excluded.points,
                     phone_hash = coalesce(excluded.phone_hash, phone_hash),
                     phone_masked = coalesce(excluded.phone_masked, phone_masked),
                     active = excluded.active, provisional = 0",
            )?
            .execute(params![
                m.member_id,
                m.display_name,
                m.tier,
                m.points,
                m.phone_hash,
                m.phone_masked,
                m.active
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The masked phone of a member, for receipts.
    pub fn member_phone_masked(&self, member_id: &str) -> Result<Option<String>> {
        Ok(self.member(member_id)?.and_then(|m| m.phone_masked))
    }
}

/// A member as `till member list|show` describes them: the member, the points this till's
/// ledger holds for them (sales made here, under their provisional ID too, less what returns
/// here took back), and where their enrollment here stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberListing {
    pub member: Member,
    pub ledger_points: i64,
    /// How many sales on this till are theirs.
    pub sales: u64,
    pub enrollment: EnrollmentState,
}

/// Where a member's enrollment at this till stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrollmentState {
    /// Not enrolled at this till: the member came from HQ, or was added by hand.
    NotHere,
    /// Enrolled here; HQ has not filed the enrollment yet.
    Pending,
    /// Enrolled here before enrollments had an outbox of their own, and a member pull took
    /// the phone hash they needed: HQ can never file them, and their sales stay on their
    /// provisional ID.
    Lost,
    /// Enrolled here under this provisional ID, and filed at HQ.
    Filed { provisional_id: String },
}

impl Store {
    /// Members on this till, newest enrollment first, then by ID; at most `limit`.
    pub fn member_listing(&self, limit: u32) -> Result<Vec<MemberListing>> {
        let ids: Vec<String> = self
            .conn
            .prepare(
                "SELECT member_id FROM members
                 ORDER BY provisional DESC, enrolled_at_ms DESC NULLS LAST, member_id LIMIT ?1",
            )?
            .query_map([limit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter()
            .filter_map(|id| self.member_listing_of(id).transpose())
            .collect()
    }

    /// One member as [`Self::member_listing`] describes them, found by ID or provisional ID.
    pub fn member_listing_of(&self, member_id: &str) -> Result<Option<MemberListing>> {
        let Some(member) = self.member(member_id)? else {
            return Ok(None);
        };
        let (ledger_points, sales): (i64, u64) = self.conn.query_row(
            "SELECT coalesce(sum(l.points), 0)
                    - (SELECT coalesce(sum(r.points), 0) FROM points_reversals r
                       WHERE r.member_id = ?1
                          OR r.member_id IN (SELECT provisional_id FROM member_aliases
                                             WHERE member_id = ?1)),
                    (SELECT count(*) FROM sales s WHERE s.member_id = ?1
                        OR s.member_id IN (SELECT provisional_id FROM member_aliases
                                           WHERE member_id = ?1))
             FROM points_ledger l
             WHERE l.member_id = ?1
                OR l.member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = ?1)",
            [&member.member_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let enrollment = if member.provisional {
            let queued: bool = self
                .conn
                .prepare_cached("SELECT count(*) > 0 FROM enrollments WHERE provisional_id = ?1")?
                .query_row([&member.member_id], |r| r.get(0))?;
            if queued {
                EnrollmentState::Pending
            } else {
                EnrollmentState::Lost
            }
        } else {
            self.conn
                .prepare_cached(
                    "SELECT provisional_id FROM enrollments WHERE filed_as = ?1
                     ORDER BY enrolled_at_ms LIMIT 1",
                )?
                .query_row([&member.member_id], |r| r.get(0))
                .optional()?
                .map_or(EnrollmentState::NotHere, |provisional_id| {
                    EnrollmentState::Filed { provisional_id }
                })
        };
        Ok(Some(MemberListing {
            member,
            ledger_points,
            sales,
            enrollment,
        }))
    }
}

/// The setting holding the newest loyalty rule HQ published to this till, as
/// `<version>:<points per yuan>`.
const LOYALTY_RULE: &str = "loyalty.rule";

impl Store {
    /// The points rule this till stamps its sales with: the newest HQ published to it, or
    /// [`LoyaltyRule::LEGACY`] before its first sync.
    pub fn loyalty_rule(&self) -> Result<LoyaltyRule> {
        let Some(text) = self.setting(LOYALTY_RULE)? else {
            return Ok(LoyaltyRule::LEGACY);
        };
        text.split_once(':')
            .and_then(|(v, rate)| LoyaltyRule::new(v.parse().ok()?, rate.parse().ok()?).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("the stored loyalty rule {text:?}")))
    }

    /// Keeps HQ's rule if it is newer than the till's. Returns whether it was.
    pub fn set_loyalty_rule(&self, rule: &LoyaltyRule) -> Result<bool> {
        if rule.version <= self.loyalty_rule()?.version {
            return Ok(false);
        }
        self.set_setting(
            LOYALTY_RULE,
            &format!("{}:{}", rule.version, rule.points_per_yuan),
        )?;
        Ok(true)
    }
}

impl Store {
    /// Whether a dynamic code may still be used by `ticket` at `now_step`, without recording
    /// anything: [`CodeUse::AlreadyUsed`] if another ticket used it within its window.
    pub fn member_code_use(&self, code: &str, ticket: &str, now_step: u64) -> Result<CodeUse> {
        let used_by: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT ticket FROM used_member_codes WHERE code = ?1 AND valid_until_step >= ?2",
            )?
            .query_row(params![code, now_step], |r| r.get(0))
            .optional()?;
        Ok(match used_by {
            Some(other) if other != ticket => CodeUse::AlreadyUsed,
            _ => CodeUse::Fresh,
        })
    }
}

/// [`Store::use_member_code`] on any connection or transaction (a sale's commit uses it).
pub(super) fn spend_code(conn: &rusqlite::Connection, spend: &MemberCodeSpend) -> Result<CodeUse> {
    conn.prepare_cached("DELETE FROM used_member_codes WHERE valid_until_step < ?1")?
        .execute([spend.now_step])?;
    let used_by: Option<String> = conn
        .prepare_cached("SELECT ticket FROM used_member_codes WHERE code = ?1")?
        .query_row([&spend.key], |r| r.get(0))
        .optional()?;
    match used_by {
        Some(other) if other != spend.ticket => Ok(CodeUse::AlreadyUsed),
        Some(_) => Ok(CodeUse::Fresh),
        None => {
            conn.prepare_cached(
                "INSERT INTO used_member_codes (code, member_id, ticket, valid_until_step)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                spend.key,
                spend.member_id,
                spend.ticket,
                spend.valid_until_step
            ])?;
            Ok(CodeUse::Fresh)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use till_sync::api::MemberEntry;

    /// Issue 12's orphans: a member pull that gives this phone to HQ's member before the
    /// till's own enrollment was filed must leave that enrollment to be sent, as it was.
    #[test]
    fn a_member_pull_never_takes_an_unfiled_enrollment_away() {
        let (_dir, mut store) = crate::store::sales::tests::store();
        store
            .set_phone_pepper(&PhonePepper::from_bytes([3; 32]), true)
            .unwrap();
        let phone = Phone::parse("13812345678").unwrap();
        let member = store.enroll_member(&phone, "2026-11", 1_000).unwrap();
        let pending = store.pending_enrollments().unwrap();
        assert_eq!(pending.len(), 1);
        // Another till enrolled the same phone, and HQ filed that one first.
        let hq_member = MemberEntry {
            member_id: "M00000042".into(),
            display_name: String::new(),
            tier: String::new(),
            points: 0,
            phone_hash: Some(pending[0].phone_hash.clone()),
            phone_masked: Some(phone.masked()),
            active: true,
        };
        store.apply_member_changes(&[], &[hq_member]).unwrap();
        assert_eq!(store.pending_enrollments().unwrap(), pending);
        // The phone now finds HQ's member; the provisional ID still names its own member.
        assert_eq!(
            store.member_by_phone(&phone).unwrap().unwrap().member_id,
            "M00000042"
        );
        // Once HQ files it (merged into M00000042), it is done, and the ID maps.
        store
            .apply_member_changes(&[(member.member_id.clone(), "M00000042".into())], &[])
            .unwrap();
        assert!(store.pending_enrollments().unwrap().is_empty());
        assert_eq!(
            store.member(&member.member_id).unwrap().unwrap().member_id,
            "M00000042"
        );
        let listing = store.member_listing_of("M00000042").unwrap().unwrap();
        assert_eq!(
            listing.enrollment,
            EnrollmentState::Filed {
                provisional_id: member.member_id
            }
        );
    }

    /// HQ merged member M2 into M1 (version 1 had split their phone): M2 stays listed,
    /// inactive and without a phone, and a code or ticket naming M2 finds M1.
    #[test]
    fn a_merged_member_is_found_as_the_member_they_merged_into() {
        let (_dir, mut store) = crate::store::sales::tests::store();
        let entry = |id: &str, active: bool| MemberEntry {
            member_id: id.into(),
            display_name: String::new(),
            tier: String::new(),
            points: 10,
            phone_hash: active.then(|| format!("{id:0>64}")),
            phone_masked: Some("138****5678".into()),
            active,
        };
        store
            .apply_member_changes(&[], &[entry("M1", true), entry("M2", true)])
            .unwrap();
        store
            .apply_member_changes(
                &[("M2".into(), "M1".into())],
                &[entry("M1", true), entry("M2", false)],
            )
            .unwrap();
        let found = store.member("M2").unwrap().unwrap();
        assert_eq!((found.member_id.as_str(), found.active), ("M1", true));
        assert_eq!(store.member("M1").unwrap().unwrap().member_id, "M1");
        assert_eq!(store.member("M3").unwrap(), None);
    }
}
