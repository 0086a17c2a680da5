//! SQLite: members, their points, enrollments, joins and claims of anonymous sales.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use till_sync::api::{
    Enrolled, Enrollment, MemberAlias, MemberDelta, MemberEntry, SaleResult, SaleStatus,
    UploadedSale,
};

use crate::claims::{Claim, ClaimOutcome};
use crate::db::{
    HqError, NewMember, Page, PhoneSettled, Result, StoredPhone, cut_at_version, member_id,
};

use super::{SqliteStore, next_counter, now_ms};

impl SqliteStore {
    pub(super) fn member_known_impl(&self, member_id: &str) -> Result<bool> {
        let conn = self.r()?;
        Ok(conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM members WHERE member_id = ?1)
                 OR EXISTS (SELECT 1 FROM member_aliases WHERE provisional_id = ?1)",
            [member_id],
            |r| r.get(0),
        )?)
    }

    pub(super) fn points_ledger_impl(&self, member_id: &str) -> Result<Vec<(String, i64)>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare(
            "SELECT l.sale_id, l.points FROM points_ledger l JOIN sales s ON s.sale_id = l.sale_id
             WHERE l.member_id = ?1
                OR l.member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = ?1)
             ORDER BY s.created_at_ms, l.sale_id",
        )?;
        let rows = stmt
            .query_map([member_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub(super) fn unchecked_phones_impl(&self, limit: usize) -> Result<Vec<StoredPhone>> {
        let conn = self.r()?;
        let mut stmt = conn.prepare_cached(
            "SELECT member_id, phone_hash, phone_masked FROM members m
             WHERE phone_hash IS NOT NULL AND phone_masked IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM phone_checks c WHERE c.member_id = m.member_id)
             ORDER BY member_id LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(StoredPhone {
                    member_id: r.get(0)?,
                    phone_hash: r.get(1)?,
                    phone_masked: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub(super) fn settle_phone_impl(
        &self,
        stored: &StoredPhone,
        upgrade: Option<&str>,
    ) -> Result<PhoneSettled> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let settled = match upgrade {
            None => PhoneSettled::Unchanged,
            Some(hash) => {
                let version = next_counter(&tx, "member_version")?;
                let holder: Option<String> = tx
                    .query_row(
                        "SELECT member_id FROM members WHERE phone_hash = ?1 AND member_id <> ?2",
                        [hash, &stored.member_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                // Another run (a second node, or the command beside `serve`) may have
                // settled this member since it was read: then there is nothing to do.
                let still: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM members WHERE member_id = ?1 AND phone_hash = ?2)",
                    [&stored.member_id, &stored.phone_hash],
                    |r| r.get(0),
                )?;
                match holder {
                    _ if !still => PhoneSettled::Unchanged,
                    Some(survivor) => {
                        merge(&tx, &stored.member_id, &survivor, version)?;
                        PhoneSettled::MergedInto(survivor)
                    }
                    None => {
                        // Only if the member still has the hash checked: one typed again
                        // meanwhile has moved already.
                        let moved = tx.execute(
                            "UPDATE members SET phone_hash = ?3, version = ?4
                             WHERE member_id = ?1 AND phone_hash = ?2",
                            params![stored.member_id, stored.phone_hash, hash, version],
                        )?;
                        if moved == 1 {
                            PhoneSettled::Moved
                        } else {
                            PhoneSettled::Unchanged
                        }
                    }
                }
            }
        };
        tx.execute(
            "INSERT INTO phone_checks (member_id, outcome, checked_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (member_id) DO NOTHING",
            params![stored.member_id, settled.outcome(), now_ms()],
        )?;
        tx.commit()?;
        Ok(settled)
    }

    pub(super) fn enroll_impl(
        &self,
        store: &str,
        enrollments: &[Enrollment],
    ) -> Result<Vec<Enrolled>> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut version = None;
        let mut results = Vec::with_capacity(enrollments.len());
        for e in enrollments {
            let filed: Option<(String, bool)> = tx
                .prepare_cached(
                    "SELECT member_id, merged FROM member_aliases WHERE provisional_id = ?1",
                )?
                .query_row([&e.provisional_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((member_id, merged)) = filed {
                results.push(Enrolled {
                    provisional_id: e.provisional_id.clone(),
                    member_id,
                    merged,
                });
                continue;
            }
            let v = match version {
                Some(v) => v,
                None => *version.insert(next_counter(&tx, "member_version")?),
            };
            let (member_id, merged) = member_for_phone(
                &tx,
                &NewMember {
                    phone_hash: &e.phone_hash,
                    legacy_hashes: &e.legacy_phone_hashes,
                    phone_masked: &e.phone_masked,
                    consent_version: &e.consent_version,
                    consent_at_ms: e.consent_at_ms,
                    store,
                    enrolled_at_ms: e.enrolled_at_ms,
                },
                v,
            )?;
            tx.prepare_cached(
                "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![e.provisional_id, member_id, merged, v])?;
            results.push(Enrolled {
                provisional_id: e.provisional_id.clone(),
                member_id,
                merged,
            });
        }
        tx.commit()?;
        Ok(results)
    }

    pub(super) fn member_delta_impl(&self, since: u64, limit: usize) -> Result<MemberDelta> {
        let mut conn = self.r()?;
        let tx = conn.transaction()?;
        let current: u64 = tx
            .query_row(
                "SELECT value FROM counters WHERE name = 'member_version'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let query = |low: u64, high: u64, limit: u64| -> Result<Vec<(u64, MemberEntry)>> {
            Ok(tx
            .prepare_cached(
                "SELECT version, member_id, display_name, tier, phone_hash, phone_masked, active
                 FROM members WHERE version > ?1 AND version <= ?2 ORDER BY version, member_id
                 LIMIT ?3",
            )?
            .query_map(params![low, high, limit], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    MemberEntry {
                        member_id: r.get(1)?,
                        display_name: r.get(2)?,
                        tier: r.get(3)?,
                        points: 0,
                        phone_hash: r.get(4)?,
                        phone_masked: r.get(5)?,
                        active: r.get(6)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let (rows, more, version) =
            match cut_at_version(query(since, current, limit as u64 + 1)?, limit) {
                Page::Whole(rows) => (rows, false, current.max(since)),
                Page::Cut(rows) => {
                    let last = rows.last().map_or(since, |(v, _)| *v);
                    (rows, true, last)
                }
                Page::OneVersion(v) => (query(v - 1, v, u64::MAX >> 1)?, true, v),
            };
        let mut members = Vec::with_capacity(rows.len());
        let mut points = tx.prepare(
            // A ledger row under an ID HQ mapped to another member (a provisional or a merged
            // one) counts for that member only, as PostgreSQL's balance query counts it.
            "SELECT coalesce(sum(points), 0) FROM points_ledger
             WHERE (member_id = ?1
                    AND NOT EXISTS (SELECT 1 FROM member_aliases WHERE provisional_id = ?1))
                OR member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = ?1)",
        )?;
        for (_, mut member) in rows {
            member.points = points.query_row([&member.member_id], |r| r.get(0))?;
            members.push(member);
        }
        let aliases = tx
            .prepare(
                "SELECT provisional_id, member_id FROM member_aliases
                 WHERE version > ?1 AND version <= ?2 ORDER BY version, provisional_id",
            )?
            .query_map(params![since, version], |r| {
                Ok(MemberAlias {
                    provisional_id: r.get(0)?,
                    member_id: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(MemberDelta {
            version,
            members,
            aliases,
            more,
        })
    }

    pub(super) fn claim_impl(&self, claim: &Claim) -> Result<ClaimOutcome> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed: bool = tx.query_row(
            "SELECT count(*) FROM claims WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            params![claim.store, claim.terminal, claim.seq],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if claimed {
            return Ok(ClaimOutcome::AlreadyClaimed);
        }
        let sale: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT member_id, record FROM sales
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
                params![claim.store, claim.terminal, claim.seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if matches!(sale, Some((Some(_), _))) {
            return Ok(ClaimOutcome::MemberSale);
        }
        let version = next_counter(&tx, "member_version")?;
        let (member_id, _) = member_for_phone(
            &tx,
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
        tx.execute(
            "INSERT INTO claims (store_id, terminal_id, seq, member_id, claimed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                claim.store,
                claim.terminal,
                claim.seq,
                member_id,
                claim.at_ms
            ],
        )?;
        let outcome = match sale {
            Some((_, record)) => {
                let record = till_sync::SaleRecord::from_canonical_bytes(record.as_bytes())
                    .map_err(|e| HqError::Backend(e.to_string()))?;
                let points = attribute(&tx, &claim.store, &claim.terminal, &record, &member_id)?;
                tx.execute(
                    "UPDATE members SET version = ?2 WHERE member_id = ?1",
                    params![member_id, version],
                )?;
                ClaimOutcome::Attributed { member_id, points }
            }
            None => ClaimOutcome::Waiting { member_id },
        };
        tx.commit()?;
        Ok(outcome)
    }

    pub(super) fn join_impl(&self, new: &NewMember<'_>) -> Result<(String, bool)> {
        let mut conn = self.w();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = next_counter(&tx, "member_version")?;
        let joined = member_for_phone(&tx, new, version)?;
        tx.commit()?;
        Ok(joined)
    }

    pub(super) fn claimed_impl(&self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        let conn = self.r()?;
        Ok(conn.query_row(
            "SELECT count(*) FROM claims WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            params![store, terminal, seq],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }
}

/// Merges member `from` into `into` at member version `version` (see
/// [`crate::db::HqStore::settle_phone`]).
fn merge(tx: &Transaction<'_>, from: &str, into: &str, version: u64) -> Result<()> {
    for table in ["sales", "points_ledger", "claims", "member_passes"] {
        tx.execute(
            &format!("UPDATE {table} SET member_id = ?2 WHERE member_id = ?1"),
            [from, into],
        )?;
    }
    tx.execute(
        "UPDATE member_aliases SET member_id = ?2, version = ?3 WHERE member_id = ?1",
        params![from, into, version],
    )?;
    tx.execute(
        "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
         VALUES (?1, ?2, 1, ?3)",
        params![from, into, version],
    )?;
    tx.execute(
        "UPDATE members SET phone_hash = NULL, active = 0, version = ?2 WHERE member_id = ?1",
        params![from, version],
    )?;
    tx.execute(
        "UPDATE members SET version = ?2 WHERE member_id = ?1",
        params![into, version],
    )?;
    Ok(())
}

/// The member who has this phone, or a new one at `version`; true if they existed.
fn member_for_phone(
    tx: &Transaction<'_>,
    new: &NewMember<'_>,
    version: u64,
) -> Result<(String, bool)> {
    let existing: Option<String> = tx
        .prepare_cached("SELECT member_id FROM members WHERE phone_hash = ?1")?
        .query_row([new.phone_hash], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok((id, true));
    }
    // A member enrolled before version 2 is stored under a version-1 hash: the phone is theirs,
    // and moves to its version-2 hash now, which the next member pull takes to every till. A
    // till's legacy hashes are its word only (it holds every member's stored hash), so the
    // masked number must match too: a stolen till cannot move a member onto a phone of its
    // choosing, only onto one with the same first 3 and last 4 digits.
    for legacy in new.legacy_hashes {
        let found: Option<String> = tx
            .prepare_cached(
                "SELECT member_id FROM members WHERE phone_hash = ?1 AND phone_masked = ?2",
            )?
            .query_row([legacy.as_str(), new.phone_masked], |r| r.get(0))
            .optional()?;
        if let Some(id) = found {
            tx.prepare_cached(
                "UPDATE members SET phone_hash = ?2, version = ?3 WHERE member_id = ?1",
            )?
            .execute(params![id, new.phone_hash, version])?;
            return Ok((id, true));
        }
    }
    let id = member_id(next_counter(tx, "member_id")?);
    tx.prepare_cached(
        "INSERT INTO members (member_id, phone_hash, phone_masked, consent_version,
             consent_at_ms, enrolled_store, enrolled_at_ms, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id,
        new.phone_hash,
        new.phone_masked,
        new.consent_version,
        new.consent_at_ms,
        new.store,
        new.enrolled_at_ms,
        version
    ])?;
    Ok((id, false))
}

/// Makes an anonymous sale a claimant's: the claim records the sale, the sale the member, and
/// the ledger the points, keyed by sale ID so nothing can count twice. Returns the points.
fn attribute(
    tx: &Transaction<'_>,
    store: &str,
    terminal: &str,
    record: &till_sync::SaleRecord,
    member_id: &str,
) -> Result<i64> {
    let points = crate::paid_points(record);
    tx.prepare_cached(
        "UPDATE claims SET sale_id = ?4 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
    )?
    .execute(params![store, terminal, record.seq, record.sale_id])?;
    tx.prepare_cached("UPDATE sales SET member_id = ?2 WHERE sale_id = ?1")?
        .execute(params![record.sale_id, member_id])?;
    tx.prepare_cached(
        "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sale_id) DO NOTHING",
    )?
    .execute(params![record.sale_id, member_id, points, now_ms()])?;
    Ok(points)
}

/// Gives claims that were waiting for these newly accepted anonymous sales their sale.
/// Returns the members whose points changed.
pub(super) fn attribute_waiting_claims(
    tx: &Transaction<'_>,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
    results: &[SaleResult],
) -> Result<Vec<String>> {
    let mut members = Vec::new();
    for (sale, result) in sales.iter().zip(results) {
        let anonymous = matches!(
            sale.record.attribution,
            till_sync::Attribution::Anonymous { .. }
        );
        if result.status != SaleStatus::Accepted || !anonymous {
            continue;
        }
        let waiting: Option<String> = tx
            .prepare_cached(
                "SELECT member_id FROM claims
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3 AND sale_id IS NULL",
            )?
            .query_row(params![store, terminal, sale.record.seq], |r| r.get(0))
            .optional()?;
        if let Some(member_id) = waiting {
            attribute(tx, store, terminal, &sale.record, &member_id)?;
            members.push(member_id);
        }
    }
    Ok(members)
}
