//! PostgreSQL: members and their points as tills pull them, and the member flows' primitives.

use std::collections::HashMap;

use postgres::Transaction;
use till_sync::api::{MemberAlias, MemberDelta, MemberEntry};

use crate::db::members::{Alias, MemberTx, StoredSale};
use crate::db::{NewMember, Page, Result, StoredPhone, cut_at_version};

use super::{PgStore, big, db, next_counter, now_ms};

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
        let balances: HashMap<String, i64> = tx
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

    pub(super) fn claimed_impl(&self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        let mut conn = self.live()?;
        Ok(conn
            .query_opt(
                "SELECT 1 FROM claims WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &big(seq)],
            )
            .map_err(db)?
            .is_some())
    }
}

/// The member flows' primitives ([`crate::db::members`]) on PostgreSQL, inside one
/// transaction on a pooled connection.
impl MemberTx for Transaction<'_> {
    fn next_counter(&mut self, name: &str) -> Result<i64> {
        next_counter(self, name)
    }

    fn lock_terminal(&mut self, store: &str, terminal: &str) -> Result<()> {
        self.execute(
            "SELECT 1 FROM terminals WHERE store_id = $1 AND terminal_id = $2 FOR UPDATE",
            &[&store, &terminal],
        )
        .map_err(db)?;
        Ok(())
    }

    fn member_with_phone(&mut self, phone_hash: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt(
                "SELECT member_id FROM members WHERE phone_hash = $1",
                &[&phone_hash],
            )
            .map_err(db)?
            .map(|r| r.get(0)))
    }

    fn member_with_masked_phone(
        &mut self,
        phone_hash: &str,
        masked: &str,
    ) -> Result<Option<String>> {
        Ok(self
            .query_opt(
                "SELECT member_id FROM members WHERE phone_hash = $1 AND phone_masked = $2",
                &[&phone_hash, &masked],
            )
            .map_err(db)?
            .map(|r| r.get(0)))
    }

    fn move_phone(&mut self, member_id: &str, from: &str, to: &str, version: i64) -> Result<bool> {
        let moved = self
            .execute(
                "UPDATE members SET phone_hash = $3, version = $4
                 WHERE member_id = $1 AND phone_hash = $2",
                &[&member_id, &from, &to, &version],
            )
            .map_err(db)?;
        Ok(moved == 1)
    }

    fn insert_member(&mut self, member_id: &str, new: &NewMember<'_>, version: i64) -> Result<()> {
        self.execute(
            "INSERT INTO members (member_id, phone_hash, phone_masked, consent_version,
                 consent_at_ms, enrolled_store, enrolled_at_ms, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &member_id,
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
        Ok(())
    }

    fn members_for_ids(&mut self, ids: &[String]) -> Result<Vec<String>> {
        let mut known: Vec<String> = self
            .query(
                "SELECT member_id FROM members WHERE member_id = ANY($1)
                 UNION SELECT member_id FROM member_aliases WHERE provisional_id = ANY($1)",
                &[&ids],
            )
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        known.sort();
        Ok(known)
    }

    fn set_member_version(&mut self, ids: &[String], version: i64) -> Result<()> {
        self.execute(
            "UPDATE members SET version = $1 WHERE member_id = ANY($2)",
            &[&version, &ids],
        )
        .map_err(db)?;
        Ok(())
    }

    fn deactivate_member(&mut self, member_id: &str, version: i64) -> Result<()> {
        self.execute(
            "UPDATE members SET phone_hash = NULL, active = FALSE, version = $2
             WHERE member_id = $1",
            &[&member_id, &version],
        )
        .map_err(db)?;
        Ok(())
    }

    fn alias(&mut self, id: &str) -> Result<Option<Alias>> {
        Ok(self
            .query_opt(
                "SELECT member_id, merged FROM member_aliases WHERE provisional_id = $1",
                &[&id],
            )
            .map_err(db)?
            .map(|r| Alias {
                member_id: r.get(0),
                merged: r.get(1),
            }))
    }

    fn insert_alias(&mut self, id: &str, alias: &Alias, version: i64) -> Result<()> {
        self.execute(
            "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
             VALUES ($1, $2, $3, $4)",
            &[&id, &alias.member_id, &alias.merged, &version],
        )
        .map_err(db)?;
        Ok(())
    }

    fn move_aliases(&mut self, from: &str, into: &str, version: i64) -> Result<()> {
        self.execute(
            "UPDATE member_aliases SET member_id = $2, version = $3 WHERE member_id = $1",
            &[&from, &into, &version],
        )
        .map_err(db)?;
        Ok(())
    }

    fn move_member_rows(&mut self, from: &str, into: &str) -> Result<()> {
        for table in ["sales", "points_ledger", "claims", "member_passes"] {
            self.execute(
                &format!("UPDATE {table} SET member_id = $2 WHERE member_id = $1"),
                &[&from, &into],
            )
            .map_err(db)?;
        }
        Ok(())
    }

    fn claimed(&mut self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM claims WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &big(seq)],
            )
            .map_err(db)?
            .is_some())
    }

    fn waiting_claims(
        &mut self,
        store: &str,
        terminal: &str,
        seqs: &[u64],
    ) -> Result<HashMap<u64, String>> {
        let seqs: Vec<i64> = seqs.iter().map(|&s| big(s)).collect();
        Ok(self
            .query(
                "SELECT seq, member_id FROM claims
                 WHERE store_id = $1 AND terminal_id = $2 AND seq = ANY($3) AND sale_id IS NULL",
                &[&store, &terminal, &seqs],
            )
            .map_err(db)?
            .iter()
            .map(|r| (r.get::<_, i64>(0).unsigned_abs(), r.get(1)))
            .collect())
    }

    fn insert_claim(
        &mut self,
        store: &str,
        terminal: &str,
        seq: u64,
        member_id: &str,
        at_ms: i64,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO claims (store_id, terminal_id, seq, member_id, claimed_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[&store, &terminal, &big(seq), &member_id, &at_ms],
        )
        .map_err(db)?;
        Ok(())
    }

    fn set_claim_sale(
        &mut self,
        store: &str,
        terminal: &str,
        seq: u64,
        sale_id: &str,
    ) -> Result<()> {
        self.execute(
            "UPDATE claims SET sale_id = $4 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
            &[&store, &terminal, &big(seq), &sale_id],
        )
        .map_err(db)?;
        Ok(())
    }

    fn sale(&mut self, store: &str, terminal: &str, seq: u64) -> Result<Option<StoredSale>> {
        Ok(self
            .query_opt(
                "SELECT member_id, record FROM sales
                 WHERE store_id = $1 AND terminal_id = $2 AND seq = $3",
                &[&store, &terminal, &big(seq)],
            )
            .map_err(db)?
            .map(|r| StoredSale {
                member_id: r.get(0),
                record: r.get(1),
            }))
    }

    fn set_sale_member(&mut self, sale_id: &str, member_id: &str) -> Result<()> {
        self.execute(
            "UPDATE sales SET member_id = $2 WHERE sale_id = $1",
            &[&sale_id, &member_id],
        )
        .map_err(db)?;
        Ok(())
    }

    fn credit_points(&mut self, sale_id: &str, member_id: &str, points: i64) -> Result<()> {
        self.execute(
            "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (sale_id) DO NOTHING",
            &[&sale_id, &member_id, &points, &now_ms()],
        )
        .map_err(db)?;
        Ok(())
    }

    fn record_phone_check(&mut self, member_id: &str, outcome: &str) -> Result<()> {
        self.execute(
            "INSERT INTO phone_checks (member_id, outcome, checked_ms) VALUES ($1, $2, $3)
             ON CONFLICT (member_id) DO NOTHING",
            &[&member_id, &outcome, &now_ms()],
        )
        .map_err(db)?;
        Ok(())
    }
}
