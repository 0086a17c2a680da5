//! Parked tickets: a customer steps aside, the cashier serves the next one, then resumes.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::domain::Ticket;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkedTicket {
    pub id: i64,
    pub parked_at_ms: i64,
    pub cashier: String,
    pub line_count: u64,
    pub total: i64,
}

impl Store {
    /// Parks a ticket, with the member attached to it if any.
    pub fn park(&self, ticket: &Ticket, cashier: &str, member_id: Option<&str>) -> Result<i64> {
        let json = serde_json::to_string(ticket)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode ticket: {e}")))?;
        self.conn.execute(
            "INSERT INTO parked_tickets (parked_at_ms, cashier, line_count, total, ticket_json,
                                         member_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                jiff::Timestamp::now().as_millisecond(),
                cashier,
                ticket.lines().len(),
                ticket.totals().total,
                json,
                member_id
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn parked(&self) -> Result<Vec<ParkedTicket>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, parked_at_ms, cashier, line_count, total FROM parked_tickets ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ParkedTicket {
                id: r.get(0)?,
                parked_at_ms: r.get(1)?,
                cashier: r.get(2)?,
                line_count: r.get(3)?,
                total: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a parked ticket and returns it, in one transaction, so two tills sharing a
    /// database can never both resume it.
    pub fn unpark(&mut self, id: i64) -> Result<(Ticket, Option<String>)> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT ticket_json, member_id FROM parked_tickets WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (json, member_id) = row.ok_or(StoreError::ParkedNotFound(id))?;
        let ticket = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("parked ticket {id}: {e}")))?;
        tx.execute("DELETE FROM parked_tickets WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok((ticket, member_id))
    }
}
