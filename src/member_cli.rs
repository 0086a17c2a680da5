//! `till member`: member keys, codes for demos and tests, and adding members until HQ's member
//! deltas arrive with sync.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use till::domain::member::{MemberKey, Phone, dynamic_code, step_at};
use till::store::MemberRecord;

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Member keys: the chain's key verifies member QR codes offline and hashes phones.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print a currently valid dynamic member QR code, as the member app would show it.
    Code {
        member_id: String,
        /// Make the code for this Unix time instead of now.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Enroll a customer by phone, as the till's member prompt does, under a provisional ID
    /// that HQ confirms (or merges with the member who has that phone) at the next sync.
    Enroll {
        phone: String,
        /// The customer agreed to the consent text of `[member] consent_version`.
        #[arg(long, required = true)]
        consent_given: bool,
    },
    /// Add or update a member (HQ's member deltas do this once sync pulls them).
    Add {
        member_id: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        tier: String,
        #[arg(long, default_value_t = 0)]
        points: i64,
        /// Stored only as a keyed hash and its masked form.
        #[arg(long)]
        phone: Option<String>,
        /// A static member card number.
        #[arg(long)]
        card: Option<String>,
        /// A deactivated member's codes are refused.
        #[arg(long)]
        inactive: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Load a key file: 64 hex characters. The newest key is current; the one before still
    /// verifies, so a rotation needs no flag day.
    Import { file: PathBuf },
    /// Show the keys' fingerprints (never the keys).
    Show,
}

pub fn run(data_dir: &Path, command: MemberCommand) -> Result<ExitCode> {
    let (config, store) = crate::open(data_dir)?;
    match command {
        MemberCommand::Enroll {
            phone,
            consent_given,
        } => {
            if !consent_given {
                bail!("a member is enrolled only with the customer's consent");
            }
            let phone = Phone::parse(&phone)?;
            if let Some(member) = store.member_by_phone(&phone)? {
                bail!("{} is already member {}", phone.masked(), member.member_id);
            }
            let now = jiff::Timestamp::now().as_millisecond();
            let member = store.enroll_member(&phone, &config.member.consent_version, now)?;
            println!(
                "enrolled {} as {} (provisional until the next sync)",
                phone.masked(),
                member.member_id
            );
        }
        MemberCommand::Key(KeyCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let key = MemberKey::parse_hex(&text)?;
            if store.add_member_key(&key)? {
                println!("member key {} is now current", key.fingerprint());
            } else {
                println!("member key {} was already loaded", key.fingerprint());
            }
        }
        MemberCommand::Key(KeyCommand::Show) => {
            let keys = store.member_keys()?;
            if keys.is_empty() {
                println!("no member key loaded");
            }
            for (i, key) in keys.iter().enumerate() {
                let role = if i == 0 { "current" } else { "previous" };
                println!("{role}: {}", key.fingerprint());
            }
        }
        MemberCommand::Code { member_id, at } => {
            if !till::domain::scan::is_valid_member_id(&member_id) {
                bail!("{member_id:?} is not a member ID (letters, digits, - and _)");
            }
            let key = store
                .member_keys()?
                .into_iter()
                .next()
                .ok_or(till::store::StoreError::NoMemberKey)?;
            let now = match at {
                Some(at) => at,
                None => jiff::Timestamp::now().as_second().try_into()?,
            };
            println!("{}", dynamic_code(&key, &member_id, step_at(now)));
        }
        MemberCommand::Add {
            member_id,
            name,
            tier,
            points,
            phone,
            card,
            inactive,
        } => {
            if !till::domain::scan::is_valid_member_id(&member_id) {
                bail!("{member_id:?} is not a member ID (letters, digits, - and _)");
            }
            let phone = phone.as_deref().map(Phone::parse).transpose()?;
            store.upsert_member(&MemberRecord {
                member_id: member_id.clone(),
                display_name: name,
                tier,
                points,
                phone,
                card_number: card,
                active: !inactive,
            })?;
            println!("member {member_id} saved");
        }
    }
    Ok(ExitCode::SUCCESS)
}
