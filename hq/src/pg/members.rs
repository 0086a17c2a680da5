//! PostgreSQL: members, their points, enrollments, joins and claims of anonymous sales.

use postgres::Transaction;
use till_sync::api::{
    Enrolled, Enrollment, MemberAlias, MemberDelta, MemberEntry, SaleResult, SaleStatus,
    UploadedSale,
};

use crate::claims::{Claim, ClaimOutcome};
use crate::db::{
    HqError, NewMember, Page, PhoneSettled, Result, StoredPhone, cut_at_version, member_id,
};

use super::{PgStore, db, next_counter, now_ms};

impl PgStore {
    pub(super) fn member_known_impl(&self, member_id: &str) -> Result<bool> {
        let mut conn = self.live()?;
        Ok(conn
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM members WHERE member_id = $1)
                     OR EXISTS (SELECT 1 FROM member_aliases WHERE provisional_id = $1)",
                &[&member_id],
            )
            .map_err(db)?
            .get(0))
    }

    pub(super) fn points_ledger_impl(&self, member_id: &str) -> Result<Vec<(String, i64)>> {
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT l.sale_id, l.points FROM points_ledger l JOIN sales s ON s.sale_id = l.sale_id
                 WHERE l.member_id = $1
                    OR l.member_id IN (SELECT provisional_id FROM member_aliases WHERE member_id = $1)
                 ORDER BY s.created_at_ms, l.sale_id",
                &[&member_id],
            )
            .map_err(db)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(super) fn unchecked_phones_impl(&self, limit: usize) -> Result<Vec<StoredPhone>> {
        let mut conn = self.live()?;
        let rows = conn
            .query(
                "SELECT member_id, phone_hash, phone_masked FROM members m
                 WHERE phone_hash IS NOT NULL AND phone_masked IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM phone_checks c WHERE c.member_id = m.member_id)
                 ORDER BY member_id LIMIT $1",
                &[&i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| StoredPhone {
                member_id: r.get(0),
                phone_hash: r.get(1),
                phone_masked: r.get(2),
            })
            .collect())
    }

    pub(super) fn settle_phone_impl(
        &self,
        stored: &StoredPhone,
        upgrade: Option<&str>,
    ) -> Result<PhoneSettled> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        let settled = match upgrade {
            None => PhoneSettled::Unchanged,
            Some(hash) => {
                // Taken first, as enrollments do, so this orders with them.
                let version = next_counter(&mut tx, "member_version")?;
                let holder: Option<String> = tx
                    .query_opt(
                        "SELECT member_id FROM members WHERE phone_hash = $1 AND member_id <> $2",
                        &[&hash, &stored.member_id],
                    )
                    .map_err(db)?
                    .map(|r| r.get(0));
                // Another run (a second node, or the command beside `serve`) may have
                // settled this member since it was read: then there is nothing to do. The
                // version counter's row lock, taken above, orders the two runs.
                let still: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM members WHERE member_id = $1 AND phone_hash = $2)",
                        &[&stored.member_id, &stored.phone_hash],
                    )
                    .map_err(db)?
                    .get(0);
                match holder {
                    _ if !still => PhoneSettled::Unchanged,
                    Some(survivor) => {
                        merge(&mut tx, &stored.member_id, &survivor, version)?;
                        PhoneSettled::MergedInto(survivor)
                    }
                    None => {
                        // Only if the member still has the hash checked: one typed again
                        // meanwhile has moved already.
                        let moved = tx
                            .execute(
                                "UPDATE members SET phone_hash = $3, version = $4
                                 WHERE member_id = $1 AND phone_hash = $2",
                                &[&stored.member_id, &stored.phone_hash, &hash, &version],
                            )
                            .map_err(db)?;
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
            "INSERT INTO phone_checks (member_id, outcome, checked_ms) VALUES ($1, $2, $3)
             ON CONFLICT (member_id) DO NOTHING",
            &[&stored.member_id, &settled.outcome(), &now_ms()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(settled)
    }

    pub(super) fn enroll_impl(
        &self,
        store: &str,
        enrollments: &[Enrollment],
    ) -> Result<Vec<Enrolled>> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        // Taken first, the version counter's row lock also keeps two tills enrolling the same
        // phone at once from both creating a member: the second waits, then finds the first.
        let version = next_counter(&mut tx, "member_version")?;
        let mut results = Vec::with_capacity(enrollments.len());
        let mut changed = false;
        for e in enrollments {
            let filed = tx
                .query_opt(
                    "SELECT member_id, merged FROM member_aliases WHERE provisional_id = $1",
                    &[&e.provisional_id],
                )
                .map_err(db)?;
            if let Some(row) = filed {
                results.push(Enrolled {
                    provisional_id: e.provisional_id.clone(),
                    member_id: row.get(0),
                    merged: row.get(1),
                });
                continue;
            }
            changed = true;
            let (member_id, merged) = member_for_phone(
                &mut tx,
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
            tx.execute(
                "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
                 VALUES ($1, $2, $3, $4)",
                &[&e.provisional_id, &member_id, &merged, &version],
            )
            .map_err(db)?;
            results.push(Enrolled {
                provisional_id: e.provisional_id.clone(),
                member_id,
                merged,
            });
        }
        if changed {
            tx.commit().map_err(db)?;
        }
        Ok(results)
    }

    pub(super) fn member_delta_impl(&self, since: u64, limit: usize) -> Result<MemberDelta> {
        let mut conn = self.live()?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db)?;
        let current: i64 = tx
            .query_opt(
                "SELECT value FROM counters WHERE name = 'member_version'",
                &[],
            )
            .map_err(db)?
            .map_or(0, |r| r.get(0));
        let since_v = since as i64;
        let mut query = |low: i64, high: i64, limit: i64| -> Result<Vec<(u64, MemberEntry)>> {
            Ok(tx
                .query(
                    "SELECT version, member_id, display_name, tier, phone_hash, phone_masked, active
                     FROM members WHERE version > $1 AND version <= $2 ORDER BY version, member_id
                     LIMIT $3",
                    &[&low, &high, &limit],
                )
                .map_err(db)?
                .iter()
                .map(|r| {
                    (
                        r.get::<_, i64>(0).unsigned_abs(),
                        MemberEntry {
                            member_id: r.get(1),
                            display_name: r.get(2),
                            tier: r.get(3),
                            points: 0,
                            phone_hash: r.get(4),
                            phone_masked: r.get(5),
                            active: r.get(6),
                        },
                    )
                })
                .collect())
        };
        let (rows, more, version) =
            match cut_at_version(query(since_v, current, limit as i64 + 1)?, limit) {
                Page::Whole(rows) => (rows, false, current.max(since_v)),
                Page::Cut(rows) => {
                    let last = rows.last().map_or(since_v, |(v, _)| *v as i64);
                    (rows, true, last)
                }
                Page::OneVersion(v) => {
                    let v = v as i64;
                    (query(v - 1, v, i64::MAX)?, true, v)
                }
            };
        let mut members: Vec<MemberEntry> = rows.into_iter().map(|(_, m)| m).collect();
        let ids: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
        let balances: std::collections::HashMap<String, i64> = tx
            .query(
                "SELECT coalesce(a.member_id, l.member_id) AS m, sum(l.points)::BIGINT
                 FROM points_ledger l LEFT JOIN member_aliases a ON a.provisional_id = l.member_id
                 WHERE l.member_id = ANY($1) OR a.member_id = ANY($1)
                 GROUP BY m",
                &[&ids],
            )
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for member in &mut members {
            member.points = balances.get(&member.member_id).copied().unwrap_or(0);
        }
        let aliases = tx
            .query(
                "SELECT provisional_id, member_id FROM member_aliases
                 WHERE version > $1 AND version <= $2 ORDER BY version, provisional_id",
                &[&since_v, &version],
            )
            .map_err(db)?
            .iter()
            .map(|r| MemberAlias {
                provisional_id: r.get(0),
                member_id: r.get(1),
            })
            .collect();
        tx.commit().map_err(db)?;
        Ok(MemberDelta {
            version: version.unsigned_abs(),
            members,
            aliases,
            more,
        })
    }

    pub(super) fn claim_impl(&self, claim: &Claim) -> Result<ClaimOutcome> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        // The terminal's row lock, which ingest takes too, orders this claim with a batch that
        // may be bringing the sale in right now: one of them always sees the other's work.
        tx.execute(
            "SELECT 1 FROM terminals WHERE store_id = $1 AND terminal_id = $2 FOR UPDATE",
            &[&claim.store, &claim.terminal],
        )
        .map_err(db)?;
        let version = next_counter(&mut tx, "member_version")?;
        let seq = claim.seq as i64;
        let claimed = tx
            .query_opt(
                "SELECT 1 FROM claims WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&claim.store, &claim.terminal, &seq],
            )
            .map_err(db)?
            .is_some();
        if claimed {
            return Ok(ClaimOutcome::AlreadyClaimed);
        }
        let sale = tx
            .query_opt(
                "SELECT member_id, record FROM sales
                 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&claim.store, &claim.terminal, &seq],
            )
            .map_err(db)?
            .map(|r| (r.get::<_, Option<String>>(0), r.get::<_, String>(1)));
        if matches!(sale, Some((Some(_), _))) {
            return Ok(ClaimOutcome::MemberSale);
        }
        let (member_id, _) = member_for_phone(
            &mut tx,
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
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &claim.store,
                &claim.terminal,
                &seq,
                &member_id,
                &claim.at_ms,
            ],
        )
        .map_err(db)?;
        let outcome = match sale {
            Some((_, record)) => {
                let record = till_sync::SaleRecord::from_canonical_bytes(record.as_bytes())
                    .map_err(|e| HqError::Backend(e.to_string()))?;
                let points =
                    attribute(&mut tx, &claim.store, &claim.terminal, &record, &member_id)?;
                tx.execute(
                    "UPDATE members SET version = $2 WHERE member_id = $1",
                    &[&member_id, &version],
                )
                .map_err(db)?;
                ClaimOutcome::Attributed { member_id, points }
            }
            None => ClaimOutcome::Waiting { member_id },
        };
        tx.commit().map_err(db)?;
        Ok(outcome)
    }

    pub(super) fn join_impl(&self, new: &NewMember<'_>) -> Result<(String, bool)> {
        let mut conn = self.live()?;
        let mut tx = conn.transaction().map_err(db)?;
        let version = next_counter(&mut tx, "member_version")?;
        let joined = member_for_phone(&mut tx, new, version)?;
        tx.commit().map_err(db)?;
        Ok(joined)
    }

    pub(super) fn claimed_impl(&self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        let mut conn = self.live()?;
        Ok(conn
            .query_opt(
                "SELECT 1 FROM claims WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &(seq as i64)],
            )
            .map_err(db)?
            .is_some())
    }
}

/// Merges member `from` into `into` at member version `version` (see
/// [`crate::db::HqStore::settle_phone`]).
fn merge(tx: &mut Transaction<'_>, from: &str, into: &str, version: i64) -> Result<()> {
    for table in ["sales", "points_ledger", "claims", "member_passes"] {
        tx.execute(
            &format!("UPDATE {table} SET member_id = $2 WHERE member_id = $1"),
            &[&from, &into],
        )
        .map_err(db)?;
    }
    tx.execute(
        "UPDATE member_aliases SET member_id = $2, version = $3 WHERE member_id = $1",
        &[&from, &into, &version],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
         VALUES ($1, $2, TRUE, $3)",
        &[&from, &into, &version],
    )
    .map_err(db)?;
    tx.execute(
        "UPDATE members SET phone_hash = NULL, active = FALSE, version = $2 WHERE member_id = $1",
        &[&from, &version],
    )
    .map_err(db)?;
    tx.execute(
        "UPDATE members SET version = $2 WHERE member_id = $1",
        &[&into, &version],
    )
    .map_err(db)?;
    Ok(())
}

/// The member who has this phone, or a new one at `version`; true if they existed.
fn member_for_phone(
    tx: &mut Transaction<'_>,
    new: &NewMember<'_>,
    version: i64,
) -> Result<(String, bool)> {
    let existing: Option<String> = tx
        .query_opt(
            "SELECT member_id FROM members WHERE phone_hash = $1",
            &[&new.phone_hash],
        )
        .map_err(db)?
        .map(|r| r.get(0));
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
            .query_opt(
                "SELECT member_id FROM members WHERE phone_hash = $1 AND phone_masked = $2",
                &[legacy, &new.phone_masked],
            )
            .map_err(db)?
            .map(|r| r.get(0));
        if let Some(id) = found {
            tx.execute(
                "UPDATE members SET phone_hash = $2, version = $3 WHERE member_id = $1",
                &[&id, &new.phone_hash, &version],
            )
            .map_err(db)?;
            return Ok((id, true));
        }
    }
    let id = member_id(next_counter(tx, "member_id")?.unsigned_abs());
    tx.execute(
        "INSERT INTO members (member_id, phone_hash, phone_masked, consent_version,
             consent_at_ms, enrolled_store, enrolled_at_ms, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &id,
            &new.phone_hash,
            &new.phone_masked,
            &new.consent_version,
            &new.consent_at_ms,
            &new.store,
            &new.enrolled_at_ms,
            &version,
        ],
    )
    .map_err(db)?;
    Ok((id, false))
}

/// Makes an anonymous sale a claimant's: the claim records the sale, the sale the member, and
/// the ledger the points, keyed by sale ID so nothing can count twice. Returns the points.
fn attribute(
    tx: &mut Transaction<'_>,
    store: &str,
    terminal: &str,
    record: &till_sync::SaleRecord,
    member_id: &str,
) -> Result<i64> {
    let points = crate::paid_points(record);
    tx.execute(
        "UPDATE claims SET sale_id = $4 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
        &[&store, &terminal, &(record.seq as i64), &record.sale_id],
    )
    .map_err(db)?;
    tx.execute(
        "UPDATE sales SET member_id = $2 WHERE sale_id = $1",
        &[&record.sale_id, &member_id],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
         VALUES ($1, $2, $3, $4) ON CONFLICT (sale_id) DO NOTHING",
        &[&record.sale_id, &member_id, &points, &now_ms()],
    )
    .map_err(db)?;
    Ok(points)
}

/// Gives claims that were waiting for these newly accepted anonymous sales their sale, with
/// one lookup for the batch. Returns the members whose points changed.
pub(super) fn attribute_waiting_claims(
    tx: &mut Transaction<'_>,
    store: &str,
    terminal: &str,
    sales: &[UploadedSale],
    results: &[SaleResult],
) -> Result<Vec<String>> {
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
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = fresh.iter().map(|r| r.seq as i64).collect();
    let waiting: std::collections::HashMap<i64, String> = tx
        .query(
            "SELECT seq, member_id FROM claims
             WHERE store_id = $1 AND terminal_id = $2 AND seq = ANY($3) AND sale_id IS NULL",
            &[&store, &terminal, &seqs],
        )
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut members = Vec::new();
    for record in fresh {
        if let Some(member_id) = waiting.get(&(record.seq as i64)) {
            attribute(tx, store, terminal, record, member_id)?;
            members.push(member_id.clone());
        }
    }
    Ok(members)
}
