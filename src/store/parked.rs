//! Parked tickets: a customer steps aside, the cashier serves the next one, then resumes.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use till_domain::Ticket;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkedTicket {
    pub id: i64,
    pub parked_at_ms: i64,
    pub cashier: String,
    pub line_count: u64,
    pub total: i64,
}

/// The touchscreen's open ticket as last saved, so that a restart (or a crash, or a pulled
/// plug) never loses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenTicket {
    /// Tells this ticket from the next: the commit that sells it removes exactly this one.
    pub nonce: String,
    pub cashier: String,
    pub member_id: Option<String>,
    pub ticket: Ticket,
}

/// One parked ticket's row; returns its number.
fn insert_parked(
    tx: &rusqlite::Transaction<'_>,
    ticket: &Ticket,
    json: &str,
    cashier: &str,
    member_id: Option<&str>,
    auto: bool,
    nonce: Option<&str>,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO parked_tickets (parked_at_ms, cashier, line_count, total, ticket_json,
                                     member_id, auto, nonce)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            jiff::Timestamp::now().as_millisecond(),
            cashier,
            ticket.lines().len(),
            ticket.totals().total,
            json,
            member_id,
            auto,
            nonce
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Parks the touchscreen's saved open ticket under its cashier (marked as parked by the till,
/// to come back when they log in), in `tx`: at start-up, and at a shift's close. Returns its
/// parked number, if there was one.
pub(super) fn park_open_ticket_in(tx: &rusqlite::Transaction<'_>) -> Result<Option<i64>> {
    let row: Option<(String, Option<String>, String)> = tx
        .query_row(
            "SELECT cashier, member_id, ticket_json FROM open_ticket WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((cashier, member_id, json)) = row else {
        return Ok(None);
    };
    let ticket: Ticket = serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("open ticket: {e}")))?;
    let id = insert_parked(
        tx,
        &ticket,
        &json,
        &cashier,
        member_id.as_deref(),
        true,
        None,
    )?;
    tx.execute("DELETE FROM open_ticket", [])?;
    Ok(Some(id))
}

fn encode_ticket(ticket: &Ticket) -> Result<String> {
    serde_json::to_string(ticket)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode ticket: {e}")))
}

impl Store {
    /// Parks a ticket, with the member attached to it if any.
    pub fn park(&self, ticket: &Ticket, cashier: &str, member_id: Option<&str>) -> Result<i64> {
        self.park_as(ticket, cashier, member_id, false, None)
    }

    /// Parks a ticket; `auto` marks one the till parked itself (at logout, or left open at a
    /// restart), which comes back by itself when its cashier logs in. `open_ticket` names the
    /// saved open ticket this one is ([`Self::save_open_ticket`]): it is removed in the same
    /// transaction, so a crash cannot park it twice.
    pub fn park_as(
        &self,
        ticket: &Ticket,
        cashier: &str,
        member_id: Option<&str>,
        auto: bool,
        open_ticket: Option<&str>,
    ) -> Result<i64> {
        let json = encode_ticket(ticket)?;
        let tx = self.conn.unchecked_transaction()?;
        let id = insert_parked(&tx, ticket, &json, cashier, member_id, auto, open_ticket)?;
        if let Some(nonce) = open_ticket {
            tx.execute("DELETE FROM open_ticket WHERE nonce = ?1", [nonce])?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// The newest ticket the till parked by itself for `cashier`, if any.
    pub fn auto_parked_for(&self, cashier: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT max(id) FROM parked_tickets WHERE cashier = ?1 AND auto = 1",
                [cashier],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Keeps the open ticket (or, with None, forgets it: it was sold, parked or cancelled).
    /// A save that arrives after its ticket was parked (saves run on another thread than
    /// parking) changes nothing: a parked ticket is never open as well.
    pub fn save_open_ticket(&self, open: Option<&OpenTicket>) -> Result<()> {
        match open {
            None => {
                self.conn.execute("DELETE FROM open_ticket", [])?;
            }
            Some(open) => {
                self.conn.execute(
                    "INSERT INTO open_ticket (id, nonce, cashier, member_id, ticket_json, saved_at_ms)
                     SELECT 1, ?1, ?2, ?3, ?4, ?5
                     WHERE NOT EXISTS (SELECT 1 FROM parked_tickets WHERE nonce = ?1)
                     ON CONFLICT (id) DO UPDATE SET nonce = ?1, cashier = ?2, member_id = ?3,
                         ticket_json = ?4, saved_at_ms = ?5",
                    params![
                        open.nonce,
                        open.cashier,
                        open.member_id,
                        encode_ticket(&open.ticket)?,
                        jiff::Timestamp::now().as_millisecond()
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// The open ticket as last saved, if any.
    pub fn open_ticket(&self) -> Result<Option<OpenTicket>> {
        let row: Option<(String, String, Option<String>, String)> = self
            .conn
            .query_row(
                "SELECT nonce, cashier, member_id, ticket_json FROM open_ticket WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(nonce, cashier, member_id, json)| {
            Ok(OpenTicket {
                nonce,
                cashier,
                member_id,
                ticket: serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("open ticket: {e}")))?,
            })
        })
        .transpose()
    }

    /// At start-up: parks the ticket that was open when the till stopped under its cashier,
    /// to come back when they log in. Returns its parked number, if there was one.
    pub fn park_left_open_ticket(&mut self) -> Result<Option<i64>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = park_open_ticket_in(&tx)?;
        tx.commit()?;
        Ok(id)
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
    /// database can never both resume it. With `open`, the ticket becomes the saved open
    /// ticket (`(nonce, cashier)`) in the same transaction, so a crash cannot lose it.
    pub fn unpark(
        &mut self,
        id: i64,
        open: Option<(&str, &str)>,
    ) -> Result<(Ticket, Option<String>)> {
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
        if let Some((nonce, cashier)) = open {
            tx.execute(
                "INSERT INTO open_ticket (id, nonce, cashier, member_id, ticket_json, saved_at_ms)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET nonce = ?1, cashier = ?2, member_id = ?3,
                     ticket_json = ?4, saved_at_ms = ?5",
                params![
                    nonce,
                    cashier,
                    member_id,
                    json,
                    jiff::Timestamp::now().as_millisecond()
                ],
            )?;
        }
        tx.commit()?;
        Ok((ticket, member_id))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::SaleExtras;
    use till_domain::ticket::LineItem;
    use till_domain::{Currency, Quantity, TaxMode, TaxRate};

    pub(crate) fn ticket() -> Ticket {
        let mut ticket = Ticket::new(Currency::CNY, TaxMode::Inclusive, None);
        let item = LineItem {
            sku: "1".into(),
            code: "6901028075831".into(),
            name_zh: "水".into(),
            name_en: "water".into(),
            tax_class: "food".into(),
            tax_rate: TaxRate::from_basis_points(900).unwrap(),
            weighed: false,
        };
        ticket.add(item, 200, Quantity::units(2)).unwrap();
        ticket
    }

    fn open(nonce: &str) -> OpenTicket {
        OpenTicket {
            nonce: nonce.into(),
            cashier: "1001".into(),
            member_id: None,
            ticket: ticket(),
        }
    }

    #[test]
    fn an_open_ticket_is_never_both_parked_and_open_nor_sold_and_open() {
        let (_dir, mut store) = crate::store::sales::tests::store();
        // Parked: a save of the same ticket that arrives late (it ran on the sales worker,
        // behind a slow drawer pulse) brings nothing back.
        store.save_open_ticket(Some(&open("a"))).unwrap();
        store
            .park_as(&ticket(), "1001", None, false, Some("a"))
            .unwrap();
        assert_eq!(store.open_ticket().unwrap(), None);
        store.save_open_ticket(Some(&open("a"))).unwrap();
        assert_eq!(store.open_ticket().unwrap(), None);
        assert_eq!(store.park_left_open_ticket().unwrap(), None);
        assert_eq!(store.parked().unwrap().len(), 1, "parked once");
        // Resumed: it is the open ticket again at once, under the new ticket's nonce.
        let id = store.parked().unwrap()[0].id;
        store.unpark(id, Some(("b", "1001"))).unwrap();
        assert_eq!(store.open_ticket().unwrap().unwrap().nonce, "b");
        assert!(store.parked().unwrap().is_empty());
        // Sold: the commit removes it in its own transaction.
        let extras = SaleExtras {
            open_ticket: Some("b".into()),
            ..SaleExtras::default()
        };
        store
            .commit_sale_with(crate::store::sales::tests::draft(), extras)
            .unwrap();
        assert_eq!(store.open_ticket().unwrap(), None);
        // Left open at a restart: parked once, for its cashier.
        store.save_open_ticket(Some(&open("c"))).unwrap();
        let parked = store.park_left_open_ticket().unwrap().unwrap();
        assert_eq!(store.auto_parked_for("1001").unwrap(), Some(parked));
        assert_eq!(store.park_left_open_ticket().unwrap(), None);
        assert_eq!(store.open_ticket().unwrap(), None);
    }
}
