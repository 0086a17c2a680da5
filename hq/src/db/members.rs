//! The member flows, written once for both backends: join, enroll, claim, the member step of
//! an ingest (claims waiting for a sale, new points balances) and the version-1 phone check.
//! Each runs inside one write transaction over [`MemberTx`], the few single-statement
//! primitives a backend provides; the order of those statements, and so every rule of who a
//! phone belongs to, lives only here.

use std::collections::HashMap;

use till_sync::api::{Enrolled, Enrollment, SaleResult, SaleStatus, UploadedSale};

use crate::claims::{Claim, ClaimOutcome};

use super::{HqError, NewMember, PhoneSettled, Result, StoredPhone, accepted_members, member_id};

/// The data primitives of the member flows, each one statement inside the caller's write
/// transaction. Versions are the `member_version` counter's values, which tills pull members
/// by ([`super::HqStore::member_delta`]); times are Unix ms.
pub trait MemberTx {
    /// The next value of counter `name` (`member_version`, `member_id`). On PostgreSQL the
    /// counter's row stays locked until the transaction ends, which is what orders two member
    /// writes at once (two tills enrolling one phone: the second waits, then finds the first);
    /// SQLite's one writer orders them anyway.
    fn next_counter(&mut self, name: &str) -> Result<i64>;
    /// Locks `store`/`terminal`'s row, as an ingest of its batch does, so a claim and the
    /// batch bringing its sale in are taken one after the other.
    fn lock_terminal(&mut self, store: &str, terminal: &str) -> Result<()>;
    /// The member whose stored phone hash is `phone_hash`.
    fn member_with_phone(&mut self, phone_hash: &str) -> Result<Option<String>>;
    /// The member stored under a version-1 `phone_hash` whose masked phone is `masked`.
    fn member_with_masked_phone(
        &mut self,
        phone_hash: &str,
        masked: &str,
    ) -> Result<Option<String>>;
    /// Gives `member_id` the phone hash `to` at `version`, only if it still has `from`;
    /// whether it did.
    fn move_phone(&mut self, member_id: &str, from: &str, to: &str, version: i64) -> Result<bool>;
    /// Inserts member `member_id` with `new`'s phone and consent at `version`.
    fn insert_member(&mut self, member_id: &str, new: &NewMember<'_>, version: i64) -> Result<()>;
    /// Of `ids` (member, provisional or merged IDs), the members they stand for.
    fn members_for_ids(&mut self, ids: &[String]) -> Result<Vec<String>>;
    /// Gives members `ids` `version`, so tills pull them again.
    fn set_member_version(&mut self, ids: &[String], version: i64) -> Result<()>;
    /// Empties `member_id`'s phone and deactivates them at `version`.
    fn deactivate_member(&mut self, member_id: &str, version: i64) -> Result<()>;
    /// What provisional (or merged) ID `id` was filed as.
    fn alias(&mut self, id: &str) -> Result<Option<Alias>>;
    /// Files `id` as member `member_id` at `version`.
    fn insert_alias(&mut self, id: &str, alias: &Alias, version: i64) -> Result<()>;
    /// Moves every alias of `from` to `into` at `version`.
    fn move_aliases(&mut self, from: &str, into: &str, version: i64) -> Result<()>;
    /// Moves `from`'s sales, points ledger rows, claims and passes to `into`.
    fn move_member_rows(&mut self, from: &str, into: &str) -> Result<()>;
    /// Whether sale `seq` of `store`/`terminal` has been claimed.
    fn claimed(&mut self, store: &str, terminal: &str, seq: u64) -> Result<bool>;
    /// Of `seqs`, the claimed sales of `store`/`terminal` still waiting for their sale, with
    /// their claimant.
    fn waiting_claims(
        &mut self,
        store: &str,
        terminal: &str,
        seqs: &[u64],
    ) -> Result<HashMap<u64, String>>;
    /// Records `member_id`'s claim of sale `seq` at `at_ms`.
    fn insert_claim(
        &mut self,
        store: &str,
        terminal: &str,
        seq: u64,
        member_id: &str,
        at_ms: i64,
    ) -> Result<()>;
    /// Gives claim `seq` its sale.
    fn set_claim_sale(
        &mut self,
        store: &str,
        terminal: &str,
        seq: u64,
        sale_id: &str,
    ) -> Result<()>;
    /// Sale `seq` of `store`/`terminal`, as HQ stored it.
    fn sale(&mut self, store: &str, terminal: &str, seq: u64) -> Result<Option<StoredSale>>;
    /// Makes sale `sale_id` member `member_id`'s.
    fn set_sale_member(&mut self, sale_id: &str, member_id: &str) -> Result<()>;
    /// Credits `points` for `sale_id` to `member_id`, unless the sale has its ledger row.
    fn credit_points(&mut self, sale_id: &str, member_id: &str, points: i64) -> Result<()>;
    /// Records that `member_id`'s stored phone was checked, and `outcome`.
    fn record_phone_check(&mut self, member_id: &str, outcome: &str) -> Result<()>;
}

/// What an ID a till made up was filed as: a final member ID, and whether that member existed
/// before (true: the phone was someone's already, or the ID was merged away).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub member_id: String,
    pub merged: bool,
}

/// A sale as HQ stored it, for a claim.
#[derive(Clone, Debug)]
pub struct StoredSale {
    /// Its member, if it was a member's sale or has been claimed.
    pub member_id: Option<String>,
    /// Its canonical bytes ([`till_sync::SaleRecord::canonical_bytes`]).
    pub record: String,
}

/// The member a phone belongs to, as join and enroll find or make them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    pub member_id: String,
    /// Whether they were a member already.
    pub existed: bool,
}

/// A customer joins on HQ's page: the phone's member, created if new.
pub(crate) fn join(tx: &mut dyn MemberTx, new: &NewMember<'_>) -> Result<Joined> {
    let version = tx.next_counter("member_version")?;
    member_for_phone(tx, new, version)
}

/// Files enrollments from `store`'s tills: each provisional ID gets a final member ID, the
/// phone's member if it has one. Filing one again returns the first answer.
pub(crate) fn enroll(
    tx: &mut dyn MemberTx,
    store: &str,
    enrollments: &[Enrollment],
) -> Result<Vec<Enrolled>> {
    // Taken first, so the counter's lock orders this with every other member write.
    let version = tx.next_counter("member_version")?;
    let mut results = Vec::with_capacity(enrollments.len());
    for e in enrollments {
        let alias = match tx.alias(&e.provisional_id)? {
            Some(filed) => filed,
            None => {
                let joined = member_for_phone(
                    tx,
                    &NewMember {
                        phone_hash: &e.phone_hash,
                        legacy_hashes: &e.legacy_phone_hashes,
                        phone_masked: &e.phone_masked,
                        consent_version: &e.consent_version,
                        consent_at_ms: e.consent_at_ms,
                        store,
                        enrolled_at_ms: e.enrolled_at_ms,
                    },
                    version,
                )?;
                let alias = Alias {
                    member_id: joined.member_id,
                    merged: joined.existed,
                };
                tx.insert_alias(&e.provisional_id, &alias, version)?;
                alias
            }
        };
        results.push(Enrolled {
            provisional_id: e.provisional_id.clone(),
            member_id: alias.member_id,
            merged: alias.merged,
        });
    }
    Ok(results)
}

/// Records a claim: the phone's member (created if new) gets the sale and its points if HQ
/// has it, or as soon as it arrives ([`after_ingest`]).
pub(crate) fn claim(tx: &mut dyn MemberTx, claim: &Claim) -> Result<ClaimOutcome> {
    // The terminal's lock, which ingest takes too, orders this claim with a batch that may be
    // bringing the sale in right now: one of them always sees the other's work.
    tx.lock_terminal(&claim.store, &claim.terminal)?;
    let version = tx.next_counter("member_version")?;
    if tx.claimed(&claim.store, &claim.terminal, claim.seq)? {
        return Ok(ClaimOutcome::AlreadyClaimed);
    }
    let sale = tx.sale(&claim.store, &claim.terminal, claim.seq)?;
    if sale.as_ref().is_some_and(|s| s.member_id.is_some()) {
        return Ok(ClaimOutcome::MemberSale);
    }
    let Joined { member_id, .. } = member_for_phone(
        tx,
        &NewMember {
            phone_hash: &claim.phone_hash,
            legacy_hashes: &claim.legacy_hashes,
            phone_masked: &claim.phone_masked,
            consent_version: &claim.consent_version,
            consent_at_ms: claim.at_ms,
            store: &claim.store,
            enrolled_at_ms: claim.at_ms,
        },
        version,
    )?;
    tx.insert_claim(
        &claim.store,
        &claim.terminal,
        claim.seq,
        &member_id,
        claim.at_ms,
    )?;
    Ok(match sale {
        Some(sale) => {
            let record = till_sync::SaleRecord::from_canonical_bytes(sale.record.as_bytes())
                .map_err(|e| HqError::Corrupt(format!("sale {}: {e}", claim.seq)))?;
            let points = attribute(tx, &claim.store, &claim.terminal, &record, &member_id)?;
            tx.set_member_version(std::slice::from_ref(&member_id), version)?;
            ClaimOutcome::Attributed { member_id, points }
        }
        None => ClaimOutcome::Waiting { member_id },
    })
}

/// The member step of an ingest, after the batch's sales are stored: claims that were waiting
/// for a newly accepted anonymous sale get it, and every member whose points changed gets a
/// new version, so tills pull their balance.
pub(crate) fn after_ingest(
    tx: &mut dyn MemberTx,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
    results: &[SaleResult],
) -> Result<()> {
    let mut touched = accepted_members(sales, results);
    let fresh: Vec<&till_sync::SaleRecord> = sales
        .iter()
        .zip(results)
        .filter(|(s, r)| {
            r.status == SaleStatus::Accepted
                && matches!(
                    s.record.attribution,
                    till_sync::Attribution::Anonymous { .. }
                )
        })
        .map(|(s, _)| &s.record)
        .collect();
    if !fresh.is_empty() {
        let seqs: Vec<u64> = fresh.iter().map(|r| r.seq).collect();
        let waiting = tx.waiting_claims(store, terminal, &seqs)?;
        for record in fresh {
            if let Some(member_id) = waiting.get(&record.seq) {
                attribute(tx, store, terminal, record, member_id)?;
                touched.push(member_id.clone());
            }
        }
    }
    if touched.is_empty() {
        return Ok(());
    }
    // Every match: a merged member is both a member row and an alias of the survivor, whose
    // balance is the one that changed.
    let known = tx.members_for_ids(&touched)?;
    if known.is_empty() {
        return Ok(());
    }
    let version = tx.next_counter("member_version")?;
    tx.set_member_version(&known, version)
}

/// Records that `stored` was checked. With `upgrade` (its version-2 hash, when the stored one
/// was version 1) the member moves to it, or merges into the member who already has it.
pub(crate) fn settle_phone(
    tx: &mut dyn MemberTx,
    stored: &StoredPhone,
    upgrade: Option<&str>,
) -> Result<PhoneSettled> {
    let settled = match upgrade {
        None => PhoneSettled::Unchanged,
        Some(hash) => {
            // Taken first, as enrollments do, so this orders with them.
            let version = tx.next_counter("member_version")?;
            let holder = tx
                .member_with_phone(hash)?
                .filter(|m| *m != stored.member_id);
            // Another run (a second node, or the command beside `serve`) may have settled
            // this member since it was read: then there is nothing to do.
            let still = tx.member_with_phone(&stored.phone_hash)?.as_deref()
                == Some(stored.member_id.as_str());
            match holder {
                _ if !still => PhoneSettled::Unchanged,
                Some(survivor) => {
                    merge(tx, &stored.member_id, &survivor, version)?;
                    PhoneSettled::MergedInto(survivor)
                }
                // Only if the member still has the hash checked: one typed again meanwhile
                // has moved already.
                None if tx.move_phone(&stored.member_id, &stored.phone_hash, hash, version)? => {
                    PhoneSettled::Moved
                }
                None => PhoneSettled::Unchanged,
            }
        }
    };
    tx.record_phone_check(&stored.member_id, settled.outcome())?;
    Ok(settled)
}

/// Merges member `from` into `into` at `version`: `from`'s rows and aliases go to `into`,
/// `from` becomes `into`'s alias at tills, and is deactivated with no phone.
fn merge(tx: &mut dyn MemberTx, from: &str, into: &str, version: i64) -> Result<()> {
    tx.move_member_rows(from, into)?;
    tx.move_aliases(from, into, version)?;
    tx.insert_alias(
        from,
        &Alias {
            member_id: into.to_string(),
            merged: true,
        },
        version,
    )?;
    tx.deactivate_member(from, version)?;
    tx.set_member_version(&[into.to_string()], version)
}

/// The member who has this phone, or a new one at `version`.
fn member_for_phone(tx: &mut dyn MemberTx, new: &NewMember<'_>, version: i64) -> Result<Joined> {
    if let Some(member_id) = tx.member_with_phone(new.phone_hash)? {
        return Ok(Joined {
            member_id,
            existed: true,
        });
    }
    // A member enrolled before version 2 is stored under a version-1 hash: the phone is theirs,
    // and moves to its version-2 hash now, which the next member pull takes to every till. A
    // till's legacy hashes are its word only (it holds every member's stored hash), so the
    // masked number must match too: a stolen till cannot move a member onto a phone of its
    // choosing, only onto one with the same first 3 and last 4 digits.
    for legacy in new.legacy_hashes {
        if let Some(member_id) = tx.member_with_masked_phone(legacy, new.phone_masked)? {
            tx.move_phone(&member_id, legacy, new.phone_hash, version)?;
            return Ok(Joined {
                member_id,
                existed: true,
            });
        }
    }
    let n = tx.next_counter("member_id")?;
    let member_id = member_id(n.unsigned_abs());
    tx.insert_member(&member_id, new, version)?;
    Ok(Joined {
        member_id,
        existed: false,
    })
}

/// Makes an anonymous sale a claimant's: the claim records the sale, the sale the member, and
/// the ledger the points, keyed by sale ID so nothing can count twice. Returns the points.
fn attribute(
    tx: &mut dyn MemberTx,
    store: &str,
    terminal: &str,
    record: &till_sync::SaleRecord,
    member_id: &str,
) -> Result<i64> {
    let points = crate::paid_points(record);
    tx.set_claim_sale(store, terminal, record.seq, &record.sale_id)?;
    tx.set_sale_member(&record.sale_id, member_id)?;
    tx.credit_points(&record.sale_id, member_id, points)?;
    Ok(points)
}
