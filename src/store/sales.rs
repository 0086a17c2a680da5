//! Committing sales into the journal, and reading them back.

use rusqlite::{OptionalExtension, Transaction, params};
use till_sync::{
    Attribution, GENESIS_HASH, SALE_RECORD_VERSION, SaleLine, SalePayment, SaleRecord, chain_hash,
};

use super::{Result, Store, StoreError};

/// A sale as it was committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedSale {
    pub record: SaleRecord,
    pub hash: [u8; 32],
}

/// Who made a sale and for whom; the rest of the record comes from the ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleMeta {
    pub cashier: String,
    pub attribution: Attribution,
}

/// What a sale's commit adds besides the record itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaleExtras {
    /// The dynamic member codes the sale used, spent in its transaction: the commit fails
    /// with [`StoreError::MemberCodeUsed`] if another sale used one within its window.
    pub member_codes: Vec<super::MemberCodeSpend>,
    /// The touchscreen's open ticket this sale sold, whose saved copy
    /// ([`Store::save_open_ticket`]) goes in the same transaction, so a crash can never bring
    /// a sold ticket back.
    pub open_ticket: Option<String>,
    /// Refuse the sale ([`StoreError::NoOpenShift`]) unless a shift is open: the config's
    /// `[shift] required`, checked in the sale's own transaction.
    pub require_shift: bool,
}

/// Takings over a period, as the back office shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaySummary {
    pub sales: u64,
    /// What customers paid, after cash rounding.
    pub total: i64,
    /// Sales attributed to a member.
    pub member_sales: u64,
    /// Takings per tender kind, cash net of change.
    pub by_tender: Vec<(String, i64)>,
}

/// One line of `till sales list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleSummary {
    pub seq: u64,
    pub sale_id: String,
    pub created_at_ms: i64,
    pub utc_offset_s: i32,
    pub cashier: String,
    pub member_id: Option<String>,
    pub line_count: u64,
    pub total: i64,
    pub payable: i64,
    pub synced: bool,
    /// What returns have refunded of it so far, in minor units.
    pub refunded: i64,
}

impl Store {
    /// Commits a sale in one transaction: it stamps the draft with the next sequence number, a
    /// UUIDv7 and the time, links it into the hash chain, and writes its lines, payments and
    /// outbox row. Either all of that is durable when this returns, or none of it happened.
    pub fn commit_sale(&mut self, draft: SaleRecord) -> Result<CommittedSale> {
        self.commit_sale_with(draft, SaleExtras::default())
    }

    /// [`Self::commit_sale`], removing the touchscreen's saved open ticket in the same
    /// transaction. A member's sale writes the points its record's loyalty stamp gives to the
    /// ledger, keyed by the sale, so nothing can count them twice. Both sign an anonymous
    /// sale's claim token here, since it names the sequence number the commit takes.
    pub fn commit_sale_with(
        &mut self,
        mut draft: SaleRecord,
        extras: SaleExtras,
    ) -> Result<CommittedSale> {
        let (store_id, terminal_id) = self.identity.clone();
        // Every anonymous sale carries a claim token signed with this terminal's own claim
        // key, once HQ has given it one.
        let claim_key = self.claim_key()?;
        // A draft that came without its points (the checkout stamps its own) earns by the
        // rule this till holds, so every new record carries its stamp.
        if draft.loyalty.is_none() {
            draft.loyalty = Some(till_sync::loyalty::stamp(&self.loyalty_rule()?, &draft));
        }
        let now = jiff::Zoned::now();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if extras.require_shift && !super::shifts::shift_is_open(&tx)? {
            return Err(StoreError::NoOpenShift);
        }
        let (last_seq, prev_hash) = journal_head(&tx)?;
        draft.v = SALE_RECORD_VERSION;
        draft.seq = last_seq + 1;
        draft.sale_id = uuid::Uuid::now_v7().to_string();
        draft.store = store_id;
        draft.terminal = terminal_id;
        draft.created_at_ms = now.timestamp().as_millisecond();
        draft.utc_offset_s = now.offset().seconds();
        if let (Some(key), Attribution::Anonymous { claim_token }) =
            (&claim_key, &mut draft.attribution)
            && claim_token.is_none()
        {
            *claim_token = Some(till_sync::member::claim_token(
                key,
                &draft.store,
                &draft.terminal,
                draft.seq,
            ));
        }
        draft
            .check_consistency()
            .map_err(|e| StoreError::InvalidSale(e.to_string()))?;
        let canonical = draft.canonical_bytes();
        let hash = chain_hash(&prev_hash, &canonical);
        for spend in &extras.member_codes {
            if super::members::spend_code(&tx, spend)? == super::CodeUse::AlreadyUsed {
                return Err(StoreError::MemberCodeUsed);
            }
        }
        insert_sale(&tx, &draft, &prev_hash, &hash)?;
        if let (Some(loyalty), Attribution::Member { member_id }) =
            (draft.loyalty, &draft.attribution)
        {
            let points = loyalty.points;
            tx.prepare_cached(
                "INSERT INTO points_ledger (sale_seq, member_id, points) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![draft.seq, member_id, points])?;
        }
        tx.prepare_cached(
            "INSERT INTO journal_head (id, last_seq, last_hash) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
        )?
        .execute(params![draft.seq, hash.as_slice()])?;
        if let Some(nonce) = &extras.open_ticket {
            tx.prepare_cached("DELETE FROM open_ticket WHERE nonce = ?1")?
                .execute([nonce])?;
        }
        tx.commit()?;
        Ok(CommittedSale {
            record: draft,
            hash,
        })
    }

    /// Rebuilds a sale's record from its stored rows.
    pub fn sale(&self, seq: u64) -> Result<SaleRecord> {
        load_record(&self.conn, seq)?.ok_or(StoreError::SaleNotFound(seq))
    }

    /// The newest sales first.
    pub fn recent_sales(&self, limit: u32) -> Result<Vec<SaleSummary>> {
        self.sale_summaries(i64::MIN, None, limit)
    }

    /// The newest sales first: those committed at or after `from_ms`, or (`seq`) only that
    /// sale whenever it was made. The touchscreen's sales list, and its search by number.
    pub fn sale_summaries(
        &self,
        from_ms: i64,
        seq: Option<u64>,
        limit: u32,
    ) -> Result<Vec<SaleSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.seq, s.sale_id, s.created_at_ms, s.utc_offset_s, s.cashier, s.member_id,
                    (SELECT count(*) FROM sale_lines l WHERE l.sale_seq = s.seq),
                    s.total, s.total + s.rounding, o.acked_at_ms IS NOT NULL,
                    (SELECT coalesce(sum(r.amount), 0) FROM returned_lines r
                     WHERE r.sale_seq = s.seq)
             FROM sales s LEFT JOIN outbox o ON o.seq = s.seq
             WHERE (?2 IS NULL AND s.created_at_ms >= ?1) OR s.seq = ?2
             ORDER BY s.seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(rusqlite::params![from_ms, seq, limit], |r| {
            Ok(SaleSummary {
                seq: r.get(0)?,
                sale_id: r.get(1)?,
                created_at_ms: r.get(2)?,
                utc_offset_s: r.get(3)?,
                cashier: r.get(4)?,
                member_id: r.get(5)?,
                line_count: r.get(6)?,
                total: r.get(7)?,
                payable: r.get(8)?,
                synced: r.get(9)?,
                refunded: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sales committed in `[from_ms, to_ms)`: the back office's "today".
    pub fn day_summary(&self, from_ms: i64, to_ms: i64) -> Result<DaySummary> {
        let (sales, total, members, change): (u64, i64, u64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(total + rounding), 0),
                    coalesce(sum(member_id IS NOT NULL), 0), coalesce(sum(change), 0)
             FROM sales WHERE created_at_ms >= ?1 AND created_at_ms < ?2",
            [from_ms, to_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT p.kind, sum(p.amount) FROM payments p JOIN sales s ON s.seq = p.sale_seq
             WHERE s.created_at_ms >= ?1 AND s.created_at_ms < ?2
             GROUP BY p.kind ORDER BY p.kind",
        )?;
        let mut by_tender: Vec<(String, i64)> = stmt
            .query_map([from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // Change is always handed back in cash, so it comes off the cash takings.
        if let Some(cash) = by_tender.iter_mut().find(|(kind, _)| kind == "cash") {
            cash.1 -= change;
        }
        Ok(DaySummary {
            sales,
            total,
            member_sales: members,
            by_tender,
        })
    }

    /// The number of the newest sale, which is also how many there are.
    pub fn sales_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM sales", [], |r| r.get(0))?)
    }

    /// Sales committed but not yet acknowledged by HQ.
    pub fn outbox_pending(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE acked_at_ms IS NULL",
            [],
            |r| r.get(0),
        )?)
    }
}

fn journal_head(tx: &Transaction<'_>) -> Result<(u64, [u8; 32])> {
    let head: Option<(u64, Vec<u8>)> = tx
        .query_row(
            "SELECT last_seq, last_hash FROM journal_head WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match head {
        None => Ok((0, GENESIS_HASH)),
        Some((seq, hash)) => {
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| StoreError::Corrupt("journal head hash is not 32 bytes".into()))?;
            Ok((seq, hash))
        }
    }
}

fn insert_sale(
    tx: &Transaction<'_>,
    r: &SaleRecord,
    prev_hash: &[u8; 32],
    hash: &[u8; 32],
) -> Result<()> {
    let (attribution, member_id, claim_token) = match &r.attribution {
        Attribution::Member { member_id } => ("member", Some(member_id), None),
        Attribution::Anonymous { claim_token } => ("anonymous", None, claim_token.as_ref()),
    };
    tx.prepare_cached(
        "INSERT INTO sales (seq, sale_id, created_at_ms, utc_offset_s, cashier, currency,
            attribution, member_id, claim_token, subtotal, discount, tax, total, rounding, change,
            prev_hash, hash, record_v, loyalty_rule, loyalty_points)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?19, ?20)",
    )?
    .execute(params![
        r.seq,
        r.sale_id,
        r.created_at_ms,
        r.utc_offset_s,
        r.cashier,
        r.currency,
        attribution,
        member_id,
        claim_token,
        r.subtotal,
        r.discount,
        r.tax,
        r.total,
        r.rounding,
        r.change,
        prev_hash.as_slice(),
        hash.as_slice(),
        r.v,
        r.loyalty.map(|l| l.rule),
        r.loyalty.map(|l| l.points),
    ])?;
    let mut line = tx.prepare_cached(
        "INSERT INTO sale_lines (sale_seq, line_no, sku, code, name_zh, name_en, tax_class,
            tax_rate_bp, unit_price, qty_milli, weighed, price_overridden, gross, discount, tax, total)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for l in &r.lines {
        line.execute(params![
            r.seq,
            l.line_no,
            l.sku,
            l.code,
            l.name_zh,
            l.name_en,
            l.tax_class,
            l.tax_rate_bp,
            l.unit_price,
            l.qty_milli,
            l.weighed,
            l.price_overridden,
            l.gross,
            l.discount,
            l.tax,
            l.total,
        ])?;
    }
    let mut payment = tx.prepare_cached(
        "INSERT INTO payments (sale_seq, idx, kind, amount, reference) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, p) in r.payments.iter().enumerate() {
        payment.execute(params![r.seq, i, p.kind, p.amount, p.reference])?;
    }
    tx.prepare_cached("INSERT INTO outbox (seq, enqueued_at_ms) VALUES (?1, ?2)")?
        .execute(params![r.seq, r.created_at_ms])?;
    Ok(())
}

/// Reads a sale back from its rows. The canonical bytes are not stored: they are always
/// re-encoded from these rows, so the journal hash covers exactly what the tables hold and an
/// edit to any of them breaks the chain.
pub(super) fn load_record(conn: &rusqlite::Connection, seq: u64) -> Result<Option<SaleRecord>> {
    let head = conn
        .query_row(
            "SELECT s.sale_id, s.created_at_ms, s.utc_offset_s, s.cashier, s.currency,
                    s.attribution, s.member_id, s.claim_token, s.subtotal, s.discount, s.tax,
                    s.total, s.rounding, s.change,
                    (SELECT value FROM settings WHERE key = 'store_id'),
                    (SELECT value FROM settings WHERE key = 'terminal_id'),
                    s.record_v, s.loyalty_rule, s.loyalty_points
             FROM sales s WHERE s.seq = ?1",
            [seq],
            |r| {
                let attribution: String = r.get(5)?;
                let attribution = match (attribution.as_str(), r.get::<_, Option<String>>(6)?) {
                    ("member", Some(member_id)) => Attribution::Member { member_id },
                    _ => Attribution::Anonymous {
                        claim_token: r.get(7)?,
                    },
                };
                let loyalty = match (r.get::<_, Option<u32>>(17)?, r.get(18)?) {
                    (Some(rule), Some(points)) => {
                        Some(till_sync::loyalty::SaleLoyalty { rule, points })
                    }
                    _ => None,
                };
                Ok(SaleRecord {
                    v: r.get(16)?,
                    sale_id: r.get(0)?,
                    store: r.get(14)?,
                    terminal: r.get(15)?,
                    seq,
                    created_at_ms: r.get(1)?,
                    utc_offset_s: r.get(2)?,
                    cashier: r.get(3)?,
                    currency: r.get(4)?,
                    attribution,
                    lines: Vec::new(),
                    subtotal: r.get(8)?,
                    discount: r.get(9)?,
                    tax: r.get(10)?,
                    total: r.get(11)?,
                    rounding: r.get(12)?,
                    payments: Vec::new(),
                    change: r.get(13)?,
                    loyalty,
                })
            },
        )
        .optional()?;
    let Some(mut record) = head else {
        return Ok(None);
    };
    let mut lines = conn.prepare_cached(
        "SELECT line_no, sku, code, name_zh, name_en, tax_class, tax_rate_bp, unit_price,
                qty_milli, weighed, price_overridden, gross, discount, tax, total
         FROM sale_lines WHERE sale_seq = ?1 ORDER BY line_no",
    )?;
    record.lines = lines
        .query_map([seq], |r| {
            Ok(SaleLine {
                line_no: r.get(0)?,
                sku: r.get(1)?,
                code: r.get(2)?,
                name_zh: r.get(3)?,
                name_en: r.get(4)?,
                tax_class: r.get(5)?,
                tax_rate_bp: r.get(6)?,
                unit_price: r.get(7)?,
                qty_milli: r.get(8)?,
                weighed: r.get(9)?,
                price_overridden: r.get(10)?,
                gross: r.get(11)?,
                discount: r.get(12)?,
                tax: r.get(13)?,
                total: r.get(14)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut payments = conn.prepare_cached(
        "SELECT kind, amount, reference FROM payments WHERE sale_seq = ?1 ORDER BY idx",
    )?;
    record.payments = payments
        .query_map([seq], |r| {
            Ok(SalePayment {
                kind: r.get(0)?,
                amount: r.get(1)?,
                reference: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(record))
}

#[cfg(test)]
pub(crate) mod tests {
    use till_sync::{Attribution, SaleLine, SalePayment, SaleRecord};

    use super::super::{JournalProblem, Store, StoreError};
    use till_domain::Currency;

    pub(crate) fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create(&dir.path().join("till.db"), "S001", "T01", Currency::CNY).unwrap();
        (dir, store)
    }

    /// A paid two-line draft: ￥6.00 of water and ￥3.50 of cola, ￥10 cash, ￥0.50 change.
    pub(crate) fn draft() -> SaleRecord {
        let line = |line_no: u32, sku: &str, price: i64| SaleLine {
            line_no,
            sku: sku.into(),
            code: format!("69{sku}"),
            name_zh: "水".into(),
            name_en: "water".into(),
            tax_class: "standard".into(),
            tax_rate_bp: 1300,
            unit_price: price,
            qty_milli: 1000,
            weighed: false,
            price_overridden: false,
            gross: price,
            discount: 0,
            tax: price * 1300 / 11300,
            total: price,
        };
        let lines = vec![line(1, "1", 600), line(2, "2", 350)];
        SaleRecord {
            v: 1,
            sale_id: String::new(),
            store: String::new(),
            terminal: String::new(),
            seq: 0,
            created_at_ms: 0,
            utc_offset_s: 0,
            cashier: "1001".into(),
            currency: "CNY".into(),
            attribution: Attribution::Anonymous { claim_token: None },
            subtotal: 950,
            discount: 0,
            tax: lines.iter().map(|l| l.tax).sum(),
            total: 950,
            lines,
            rounding: 0,
            payments: vec![SalePayment {
                kind: "cash".into(),
                amount: 1000,
                reference: None,
            }],
            change: 50,
            loyalty: None,
        }
    }

    fn count(store: &Store, table: &str) -> i64 {
        store
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn commits_get_gap_free_sequences_and_a_verified_chain() {
        let (_dir, mut store) = store();
        let first = store.commit_sale(draft()).unwrap();
        let second = store.commit_sale(draft()).unwrap();
        assert_eq!((first.record.seq, second.record.seq), (1, 2));
        assert_ne!(first.record.sale_id, second.record.sale_id);
        assert_eq!(
            uuid::Uuid::parse_str(&first.record.sale_id)
                .unwrap()
                .get_version_num(),
            7
        );
        assert_eq!(
            (first.record.store.as_str(), first.record.terminal.as_str()),
            ("S001", "T01")
        );
        assert_eq!(store.sale(2).unwrap(), second.record);
        assert_eq!(store.outbox_pending().unwrap(), 2);
        let report = store.verify_journal().unwrap();
        assert_eq!(
            (report.sales_checked, report.problem, report.last_hash),
            (2, None, second.hash)
        );
    }

    #[test]
    fn commits_leave_checkpointing_to_idle_time() {
        let (_dir, mut store) = store();
        // About 1,500 WAL pages: past the 1,000 at which SQLite would checkpoint by itself.
        for _ in 0..250 {
            store.commit_sale(draft()).unwrap();
        }
        let (_busy, log, done): (i64, i64, i64) = store
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert!(
            log > 1000,
            "a checkpoint ran during the commits: the log holds only {log} frames"
        );
        assert_eq!(done, log, "an idle-time checkpoint copies every frame");
        store.checkpoint().unwrap();
        assert_eq!(store.verify_journal().unwrap().sales_checked, 250);
    }

    #[test]
    fn a_failed_commit_leaves_nothing_behind() {
        let (_dir, mut store) = store();
        store.commit_sale(draft()).unwrap();
        // The outbox insert is the last write of a commit; make it fail like a full disk would.
        store
            .conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        assert!(matches!(
            store.commit_sale(draft()),
            Err(StoreError::Sqlite(_))
        ));
        for (table, rows) in [
            ("sales", 1),
            ("sale_lines", 2),
            ("payments", 1),
            ("outbox", 1),
        ] {
            assert_eq!(count(&store, table), rows, "{table}");
        }
        store.conn.execute_batch("DROP TRIGGER temp.fail").unwrap();
        assert_eq!(
            store.commit_sale(draft()).unwrap().record.seq,
            2,
            "no sequence was used up"
        );
        assert_eq!(store.verify_journal().unwrap().problem, None);
    }

    #[test]
    fn inconsistent_drafts_are_refused() {
        let (_dir, mut store) = store();
        let mut underpaid = draft();
        underpaid.payments[0].amount = 900;
        underpaid.change = 0;
        assert!(matches!(
            store.commit_sale(underpaid),
            Err(StoreError::InvalidSale(_))
        ));
        let mut empty = draft();
        empty.lines.clear();
        assert!(matches!(
            store.commit_sale(empty),
            Err(StoreError::InvalidSale(_))
        ));
        assert_eq!(count(&store, "sales"), 0);
    }

    fn tampered(sql: &str) -> Option<JournalProblem> {
        let (_dir, mut store) = store();
        for _ in 0..5 {
            store.commit_sale(draft()).unwrap();
        }
        store.conn.execute_batch(sql).unwrap();
        store.verify_journal().unwrap().problem
    }

    #[test]
    fn verify_reports_the_first_tampered_or_missing_sale() {
        use JournalProblem::*;
        let cases = [
            (
                "UPDATE sale_lines SET total = 1, gross = 1 WHERE sale_seq = 3 AND line_no = 1",
                HashMismatch { seq: 3 },
            ),
            (
                "UPDATE sales SET total = 1 WHERE seq = 2",
                HashMismatch { seq: 2 },
            ),
            (
                "UPDATE payments SET amount = 99999 WHERE sale_seq = 4",
                HashMismatch { seq: 4 },
            ),
            (
                "UPDATE sales SET cashier = 'mallory' WHERE seq = 1",
                HashMismatch { seq: 1 },
            ),
            (
                "UPDATE sales SET hash = zeroblob(32) WHERE seq = 3",
                HashMismatch { seq: 3 },
            ),
            (
                "UPDATE sales SET prev_hash = zeroblob(32) WHERE seq = 4",
                BrokenLink { seq: 4 },
            ),
            (
                "DELETE FROM sale_lines WHERE sale_seq = 3; DELETE FROM payments WHERE sale_seq = 3; DELETE FROM outbox WHERE seq = 3; DELETE FROM sales WHERE seq = 3",
                Gap {
                    expected: 3,
                    found: 4,
                },
            ),
            (
                "DELETE FROM sale_lines WHERE sale_seq = 5; DELETE FROM payments WHERE sale_seq = 5; DELETE FROM outbox WHERE seq = 5; DELETE FROM sales WHERE seq = 5",
                TailMissing {
                    head_seq: 5,
                    last_seq: 4,
                },
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(tampered(sql), Some(expected), "{sql}");
        }
    }
}
