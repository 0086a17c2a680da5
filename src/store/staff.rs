//! The people who may log in to this till, and their hashed PINs. Checking a PIN is the
//! login layer's job (`crate::staff`); the store only keeps the hashes.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::staff::{PinGuard, PinPrompt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Cashier,
    /// Runs the floor: what `[roles] supervisor` lists (shifts, paid in and out by default).
    Supervisor,
    Manager,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Cashier, Role::Supervisor, Role::Manager];

    /// The stored and typed name: `cashier`, `supervisor`, `manager`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Supervisor => "supervisor",
            Role::Manager => "manager",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }

    fn from_db(text: &str) -> Role {
        Role::parse(text).unwrap_or(Role::Cashier)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffMember {
    pub id: String,
    pub name: String,
    pub role: Role,
}

impl Store {
    /// Adds a staff member with an already hashed PIN. Refuses an existing ID.
    pub fn add_staff(&self, member: &StaffMember, pin_hash: &str) -> Result<()> {
        let inserted = self.conn.execute(
            "INSERT INTO staff (id, name, role, pin_hash) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
            params![member.id, member.name, member.role.as_str(), pin_hash],
        )?;
        if inserted == 0 {
            return Err(StoreError::StaffExists(member.id.clone()));
        }
        Ok(())
    }

    /// Active staff, managers last, each group by name.
    pub fn staff(&self) -> Result<Vec<StaffMember>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, role FROM staff WHERE active = 1
             ORDER BY role = 'manager', name, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StaffMember {
                id: r.get(0)?,
                name: r.get(1)?,
                role: Role::from_db(&r.get::<_, String>(2)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The PIN hash of an active staff member.
    pub fn staff_pin_hash(&self, id: &str) -> Result<String> {
        self.conn
            .query_row(
                "SELECT pin_hash FROM staff WHERE id = ?1 AND active = 1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::StaffNotFound(id.to_string()))
    }

    pub fn deactivate_staff(&self, id: &str) -> Result<()> {
        if self.conn.execute(
            "UPDATE staff SET active = 0 WHERE id = ?1 AND active = 1",
            [id],
        )? == 0
        {
            return Err(StoreError::StaffNotFound(id.to_string()));
        }
        Ok(())
    }

    /// The wrong-PIN count and lockout of one PIN prompt; a prompt never used has none.
    pub fn pin_guard(&self, prompt: PinPrompt) -> Result<PinGuard> {
        Ok(self
            .conn
            .query_row(
                "SELECT failures, locked_until_ms, lockouts FROM pin_guards WHERE prompt = ?1",
                [prompt.as_str()],
                |r| {
                    Ok(PinGuard {
                        failures: r.get(0)?,
                        locked_until_ms: r.get(1)?,
                        lockouts: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Keeps a prompt's wrong-PIN count and lockout, so that a restart does not clear them.
    pub fn save_pin_guard(&self, prompt: PinPrompt, guard: &PinGuard) -> Result<()> {
        self.conn.execute(
            "INSERT INTO pin_guards (prompt, failures, locked_until_ms, lockouts)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (prompt) DO UPDATE SET failures = ?2, locked_until_ms = ?3, lockouts = ?4",
            params![
                prompt.as_str(),
                guard.failures,
                guard.locked_until_ms,
                guard.lockouts
            ],
        )?;
        Ok(())
    }
}
