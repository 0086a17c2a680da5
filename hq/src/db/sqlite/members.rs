//! SQLite: members and their points as tills pull them, and the member flows' primitives.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};
use till_sync::api::{MemberAlias, MemberDelta, MemberEntry};

use crate::db::members::{Alias, MemberTx, StoredSale};
use crate::db::{NewMember, Page, Result, StoredPhone, cut_at_version};

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

    pub(super) fn claimed_impl(&self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        let conn = self.r()?;
        Ok(conn.query_row(
            "SELECT count(*) FROM claims WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            params![store, terminal, seq],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }
}

/// The member flows' primitives ([`crate::db::members`]) on SQLite, inside the writer's
/// `IMMEDIATE` transaction: SQLite's one writer already orders every member write, so the
/// terminal needs no lock of its own.
impl MemberTx for Transaction<'_> {
    fn next_counter(&mut self, name: &str) -> Result<i64> {
        Ok(next_counter(self, name)? as i64)
    }

    fn lock_terminal(&mut self, _store: &str, _terminal: &str) -> Result<()> {
        Ok(())
    }

    fn member_with_phone(&mut self, phone_hash: &str) -> Result<Option<String>> {
        Ok(self
            .prepare_cached("SELECT member_id FROM members WHERE phone_hash = ?1")?
            .query_row([phone_hash], |r| r.get(0))
            .optional()?)
    }

    fn member_with_masked_phone(
        &mut self,
        phone_hash: &str,
        masked: &str,
    ) -> Result<Option<String>> {
        Ok(self
            .prepare_cached(
                "SELECT member_id FROM members WHERE phone_hash = ?1 AND phone_masked = ?2",
            )?
            .query_row([phone_hash, masked], |r| r.get(0))
            .optional()?)
    }

    fn move_phone(&mut self, member_id: &str, from: &str, to: &str, version: i64) -> Result<bool> {
        let moved = self
            .prepare_cached(
                "UPDATE members SET phone_hash = ?3, version = ?4
                 WHERE member_id = ?1 AND phone_hash = ?2",
            )?
            .execute(params![member_id, from, to, version])?;
        Ok(moved == 1)
    }

    fn insert_member(&mut self, member_id: &str, new: &NewMember<'_>, version: i64) -> Result<()> {
        self.prepare_cached(
            "INSERT INTO members (member_id, phone_hash, phone_masked, consent_version,
                 consent_at_ms, enrolled_store, enrolled_at_ms, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            member_id,
            new.phone_hash,
            new.phone_masked,
            new.consent_version,
            new.consent_at_ms,
            new.store,
            new.enrolled_at_ms,
            version
        ])?;
        Ok(())
    }

    fn members_for_ids(&mut self, ids: &[String]) -> Result<Vec<String>> {
        let mut stmt = self.prepare_cached(
            "SELECT member_id FROM members WHERE member_id = ?1
             UNION SELECT member_id FROM member_aliases WHERE provisional_id = ?1",
        )?;
        let mut known = Vec::new();
        for id in ids {
            for found in stmt.query_map([id], |r| r.get::<_, String>(0))? {
                known.push(found?);
            }
        }
        known.sort();
        known.dedup();
        Ok(known)
    }

    fn set_member_version(&mut self, ids: &[String], version: i64) -> Result<()> {
        let mut stmt =
            self.prepare_cached("UPDATE members SET version = ?2 WHERE member_id = ?1")?;
        for id in ids {
            stmt.execute(params![id, version])?;
        }
        Ok(())
    }

    fn deactivate_member(&mut self, member_id: &str, version: i64) -> Result<()> {
        self.execute(
            "UPDATE members SET phone_hash = NULL, active = 0, version = ?2 WHERE member_id = ?1",
            params![member_id, version],
        )?;
        Ok(())
    }

    fn alias(&mut self, id: &str) -> Result<Option<Alias>> {
        Ok(self
            .prepare_cached(
                "SELECT member_id, merged FROM member_aliases WHERE provisional_id = ?1",
            )?
            .query_row([id], |r| {
                Ok(Alias {
                    member_id: r.get(0)?,
                    merged: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn insert_alias(&mut self, id: &str, alias: &Alias, version: i64) -> Result<()> {
        self.prepare_cached(
            "INSERT INTO member_aliases (provisional_id, member_id, merged, version)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, alias.member_id, alias.merged, version])?;
        Ok(())
    }

    fn move_aliases(&mut self, from: &str, into: &str, version: i64) -> Result<()> {
        self.execute(
            "UPDATE member_aliases SET member_id = ?2, version = ?3 WHERE member_id = ?1",
            params![from, into, version],
        )?;
        Ok(())
    }

    fn move_member_rows(&mut self, from: &str, into: &str) -> Result<()> {
        for table in ["sales", "points_ledger", "claims", "member_passes"] {
            self.execute(
                &format!("UPDATE {table} SET member_id = ?2 WHERE member_id = ?1"),
                [from, into],
            )?;
        }
        Ok(())
    }

    fn claimed(&mut self, store: &str, terminal: &str, seq: u64) -> Result<bool> {
        Ok(self
            .prepare_cached(
                "SELECT 1 FROM claims WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
            )?
            .exists(params![store, terminal, seq])?)
    }

    fn waiting_claims(
        &mut self,
        store: &str,
        terminal: &str,
        seqs: &[u64],
    ) -> Result<HashMap<u64, String>> {
        let mut stmt = self.prepare_cached(
            "SELECT member_id FROM claims
             WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3 AND sale_id IS NULL",
        )?;
        let mut waiting = HashMap::new();
        for &seq in seqs {
            if let Some(member_id) = stmt
                .query_row(params![store, terminal, seq], |r| r.get::<_, String>(0))
                .optional()?
            {
                waiting.insert(seq, member_id);
            }
        }
        Ok(waiting)
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
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![store, terminal, seq, member_id, at_ms],
        )?;
        Ok(())
    }

    fn set_claim_sale(
        &mut self,
        store: &str,
        terminal: &str,
        seq: u64,
        sale_id: &str,
    ) -> Result<()> {
        self.prepare_cached(
            "UPDATE claims SET sale_id = ?4 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
        )?
        .execute(params![store, terminal, seq, sale_id])?;
        Ok(())
    }

    fn sale(&mut self, store: &str, terminal: &str, seq: u64) -> Result<Option<StoredSale>> {
        Ok(self
            .query_row(
                "SELECT member_id, record FROM sales
                 WHERE store_id = ?1 AND terminal_id = ?2 AND seq = ?3",
                params![store, terminal, seq],
                |r| {
                    Ok(StoredSale {
                        member_id: r.get(0)?,
                        record: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_sale_member(&mut self, sale_id: &str, member_id: &str) -> Result<()> {
        self.prepare_cached("UPDATE sales SET member_id = ?2 WHERE sale_id = ?1")?
            .execute([sale_id, member_id])?;
        Ok(())
    }

    fn credit_points(&mut self, sale_id: &str, member_id: &str, points: i64) -> Result<()> {
        self.prepare_cached(
            "INSERT INTO points_ledger (sale_id, member_id, points, created_ms)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sale_id) DO NOTHING",
        )?
        .execute(params![sale_id, member_id, points, now_ms()])?;
        Ok(())
    }

    fn record_phone_check(&mut self, member_id: &str, outcome: &str) -> Result<()> {
        self.execute(
            "INSERT INTO phone_checks (member_id, outcome, checked_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (member_id) DO NOTHING",
            params![member_id, outcome, now_ms()],
        )?;
        Ok(())
    }
}
