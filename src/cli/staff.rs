//! `till staff`: who may log in to the touchscreen.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use till::store::{Role, StaffMember};

use super::open;

#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Add someone who may log in. The PIN is stored only as an argon2 hash.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// 4 to 8 digits.
        #[arg(long)]
        pin: String,
        /// Managers approve discounts and voids, and open the back office.
        #[arg(long, conflicts_with = "role")]
        manager: bool,
        /// `cashier` (the default), `supervisor` or `manager`; `[roles]` says what each may do.
        #[arg(long)]
        role: Option<String>,
    },
    /// List who may log in.
    List,
    /// Stop someone logging in (their sales keep their ID).
    Remove { id: String },
}

pub fn exec(data_dir: &Path, command: StaffCommand) -> Result<ExitCode> {
    let (_, store) = open(data_dir)?;
    match command {
        StaffCommand::Add {
            id,
            name,
            pin,
            manager,
            role,
        } => {
            if id.is_empty() || id.len() > 16 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                bail!("a staff ID is 1 to 16 letters or digits");
            }
            if name.trim().is_empty() {
                bail!("a staff member needs a name");
            }
            let hash = till::staff::hash_pin(&pin)?;
            let member = StaffMember {
                id,
                name: name.trim().to_string(),
                role: match (manager, role.as_deref()) {
                    (true, _) => Role::Manager,
                    (false, None) => Role::Cashier,
                    (false, Some(text)) => Role::parse(text).with_context(|| {
                        format!("role {text:?} is not one of cashier, supervisor, manager")
                    })?,
                },
            };
            store.add_staff(&member, &hash)?;
            println!(
                "added {} {} ({})",
                member.id,
                member.name,
                member.role.as_str()
            );
        }
        StaffCommand::List => {
            for member in store.staff()? {
                println!("{}\t{}\t{}", member.id, member.name, member.role.as_str());
            }
        }
        StaffCommand::Remove { id } => {
            store.deactivate_staff(&id)?;
            println!("{id} can no longer log in");
        }
    }
    Ok(ExitCode::SUCCESS)
}
