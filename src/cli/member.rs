//! `till member`: member keys, the members on this till, and adding members until HQ's member
//! deltas arrive with sync. A till makes no member codes: only HQ holds the key that signs
//! them (`till-hq member code` prints one for demos and tests).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use till::store::{EnrollmentState, MemberListing, MemberRecord};
use till_sync::member::{CodePublicKey, MemberKey, Phone, PhonePepper};

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Member keys: HQ's public member-code keys verify member QR codes offline; the
    /// chain's phone pepper salts phone hashes; a version-1 key finds members from before.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Enroll a customer by phone, as the till's member prompt does, under a provisional ID
    /// that HQ confirms (or merges with the member who has that phone) at the next sync.
    Enroll {
        phone: String,
        /// The customer agreed to the consent text of `[member] consent_version`.
        #[arg(long, required = true)]
        consent_given: bool,
    },
    /// The members on this till: masked phone, provisional or final, points on this till's
    /// ledger, and whether their enrollment here is filed at HQ.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One member, by member ID or the provisional ID they were enrolled under here.
    Show { member_id: String },
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
    /// Load a key file, as `till-hq member key export` writes it: one key a line, either
    /// `code <kid> <64 hex>` (one of HQ's public member-code keys), `pepper <64 hex>` (the
    /// chain's phone pepper) or `v1 <64 hex>` (a version-1 key, from before version 2; a bare
    /// line of 64 hex is one too). The newest code key is current; the one before still
    /// verifies, so a rotation needs no flag day.
    Import { file: PathBuf },
    /// Show the public member-code keys and the version-1 key's fingerprint (never the key).
    Show,
}

pub fn exec(data_dir: &Path, command: MemberCommand) -> Result<ExitCode> {
    let (config, store) = super::open(data_dir)?;
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
        MemberCommand::List { limit } => {
            let members = store.member_listing(limit)?;
            if members.is_empty() {
                println!("no members on this till");
            }
            for listing in &members {
                println!("{}", listing_line(listing));
            }
        }
        MemberCommand::Show { member_id } => {
            let listing = store
                .member_listing_of(&member_id)?
                .with_context(|| format!("no member {member_id} on this till"))?;
            let m = &listing.member;
            println!("member     {}", m.member_id);
            println!("name       {}", or_dash(&m.display_name));
            println!("tier       {}", or_dash(&m.tier));
            println!("phone      {}", m.phone_masked.as_deref().unwrap_or("-"));
            println!(
                "status     {}{}",
                if m.provisional {
                    "provisional"
                } else {
                    "final"
                },
                if m.active { "" } else { ", deactivated" }
            );
            println!("enrollment {}", enrollment_text(&listing.enrollment));
            println!(
                "points     {} on this till's ledger from {} sale(s); balance last heard from HQ: {}",
                listing.ledger_points, listing.sales, m.points
            );
        }
        MemberCommand::Key(KeyCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let keys = parse_key_file(&text)
                .with_context(|| format!("{} is not a member key file", file.display()))?;
            for key in keys {
                let (new, name) = match &key {
                    KeyLine::Code(key) => (
                        store.add_code_key(key)?,
                        format!("member-code key {}", key.kid()),
                    ),
                    KeyLine::Pepper(pepper) => {
                        let new = store.phone_pepper()?.as_ref() != Some(pepper);
                        store.set_phone_pepper(pepper, false)?;
                        (new, "the chain's phone pepper".to_string())
                    }
                    KeyLine::V1(key) => (
                        store.add_member_key(key)?,
                        format!("version-1 member key {}", key.fingerprint()),
                    ),
                };
                if new {
                    println!("{name} is now current");
                } else {
                    println!("{name} was already loaded");
                }
            }
        }
        MemberCommand::Key(KeyCommand::Show) => {
            let code_keys = store.code_keys()?;
            let keys = store.member_keys()?;
            let pepper = store.phone_pepper()?;
            if code_keys.is_empty() && keys.is_empty() && pepper.is_none() {
                println!("no member key loaded");
            }
            for (i, key) in code_keys.iter().enumerate() {
                let role = if i == 0 { "current" } else { "previous" };
                println!("{role} member-code key {}: {}", key.kid(), key.to_hex());
            }
            if pepper.is_some() {
                println!("phone pepper: held (phone numbers can be looked up)");
            }
            for (i, key) in keys.iter().enumerate() {
                let role = if i == 0 { "current" } else { "previous" };
                println!("{role} version-1 key: {}", key.fingerprint());
            }
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
            if !till_domain::scan::is_valid_member_id(&member_id) {
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

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

fn enrollment_text(state: &EnrollmentState) -> String {
    match state {
        EnrollmentState::NotHere => "not enrolled at this till".into(),
        EnrollmentState::Pending => "enrolled here, not yet filed at HQ".into(),
        EnrollmentState::Lost => {
            "enrolled here, but its phone was lost before this version: HQ cannot file it".into()
        }
        EnrollmentState::Filed { provisional_id } => {
            format!("enrolled here as {provisional_id}, filed at HQ")
        }
    }
}

/// One line of `till member list`.
fn listing_line(listing: &MemberListing) -> String {
    let m = &listing.member;
    format!(
        "{}\t{}\t{}\t{} points here\t{}",
        m.member_id,
        m.phone_masked.as_deref().unwrap_or("-"),
        if m.provisional {
            "provisional"
        } else {
            "final"
        },
        listing.ledger_points,
        enrollment_text(&listing.enrollment)
    )
}

/// One line of a member key file.
enum KeyLine {
    Code(CodePublicKey),
    Pepper(PhonePepper),
    V1(MemberKey),
}

/// Parses a key file as `till-hq member key export` writes it; blank lines are skipped.
fn parse_key_file(text: &str) -> Result<Vec<KeyLine>> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let key = match words[..] {
            [] => continue,
            ["code", kid, hex] => {
                let kid = kid
                    .parse()
                    .with_context(|| format!("line {}: key ID {kid:?} is not a number", n + 1))?;
                KeyLine::Code(
                    CodePublicKey::parse_hex(kid, hex)
                        .with_context(|| format!("line {}", n + 1))?,
                )
            }
            ["pepper", hex] => KeyLine::Pepper(
                PhonePepper::parse_hex(hex).with_context(|| format!("line {}", n + 1))?,
            ),
            ["v1", hex] | [hex] => {
                KeyLine::V1(MemberKey::parse_hex(hex).with_context(|| format!("line {}", n + 1))?)
            }
            _ => bail!(
                "line {}: expected `code <kid> <64 hex>`, `pepper <64 hex>` or `v1 <64 hex>`",
                n + 1
            ),
        };
        keys.push(key);
    }
    if keys.is_empty() {
        bail!("it holds no key");
    }
    Ok(keys)
}
