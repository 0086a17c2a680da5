//! The durable print queue: one row per receipt to print, kept until it has printed.

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintJob {
    pub id: i64,
    pub sale_seq: u64,
    /// A reprint, marked "COPY" on paper.
    pub copy: bool,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When bytes of this job first went to the printer (Unix ms), if they have: paper may have
    /// come out, so it prints again only as a copy.
    pub sent_at_ms: Option<i64>,
}

const JOB_COLUMNS: &str = "id, sale_seq, copy, attempts, last_error, sent_at_ms";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<PrintJob> {
    Ok(PrintJob {
        id: r.get(0)?,
        sale_seq: r.get(1)?,
        copy: r.get(2)?,
        attempts: r.get(3)?,
        last_error: r.get(4)?,
        sent_at_ms: r.get(5)?,
    })
}

impl Store {
    /// Queues a receipt. Called after the sale has committed, in its own transaction, so a
    /// problem with the queue can never undo a sale.
    pub fn enqueue_receipt(&self, sale_seq: u64, copy: bool) -> Result<i64> {
        let now = jiff::Timestamp::now().as_millisecond();
        self.conn
            .prepare_cached(
                "INSERT INTO print_jobs (sale_seq, copy, created_at_ms, next_attempt_ms) VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![sale_seq, copy, now])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The oldest job that is due at `now_ms`, if any.
    pub fn next_print_job(&self, now_ms: i64) -> Result<Option<PrintJob>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM print_jobs
                 WHERE printed_at_ms IS NULL AND next_attempt_ms <= ?1 ORDER BY id LIMIT 1"
            ))?
            .query_row([now_ms], job_from_row)
            .optional()?)
    }

    /// When the next pending job is due, if any is pending.
    pub fn next_print_attempt_ms(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT min(next_attempt_ms) FROM print_jobs WHERE printed_at_ms IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn pending_print_jobs(&self) -> Result<Vec<PrintJob>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM print_jobs WHERE printed_at_ms IS NULL ORDER BY id"
        ))?;
        let jobs = stmt.query_map([], job_from_row)?;
        Ok(jobs.collect::<rusqlite::Result<_>>()?)
    }

    pub fn mark_printed(&self, job: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE print_jobs SET printed_at_ms = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            params![job, jiff::Timestamp::now().as_millisecond()],
        )?;
        Ok(())
    }

    /// Claims job `job` for sending, durably and before its first byte goes out: from here on
    /// paper may come out, so it never prints again as an original. A job never sent is
    /// claimed by one process only: returns false when another claimed it first. If this
    /// write fails (a full disk), nothing may be sent.
    pub fn mark_print_sending(&self, job: i64) -> Result<bool> {
        let claimed = self.conn.execute(
            "UPDATE print_jobs SET sent_at_ms = ?2
             WHERE id = ?1 AND sent_at_ms IS NULL AND printed_at_ms IS NULL",
            params![job, jiff::Timestamp::now().as_millisecond()],
        )?;
        Ok(claimed == 1)
    }

    /// Records a failed attempt and when to try again. `sent` says whether paper may have come
    /// out by now (this attempt's bytes had started to go, or an earlier attempt's had); when
    /// it is false the job is an original again.
    pub fn mark_print_failed(
        &self,
        job: i64,
        error: &str,
        next_attempt_ms: i64,
        sent: bool,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE print_jobs SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3,
                 sent_at_ms = CASE WHEN ?4 THEN sent_at_ms ELSE NULL END
             WHERE id = ?1",
            params![job, error, next_attempt_ms, sent],
        )?;
        Ok(())
    }

    /// Makes every pending job due now, for "retry" after the printer is fixed.
    pub fn retry_print_jobs_now(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE print_jobs SET next_attempt_ms = 0 WHERE printed_at_ms IS NULL",
            [],
        )?)
    }
}
