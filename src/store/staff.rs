//! The people who may log in to this till, and their hashed PINs. Checking a PIN is the
//! login layer's job (`crate::staff`); the store only keeps the hashes.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Cashier,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
        }
    }

    fn from_db(text: &str) -> Role {
        if text == "manager" {
            Role::Manager
        } else {
            Role::Cashier
        }
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
}
