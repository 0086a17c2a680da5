//! HQ's storage: one trait, [`HqStore`], over the databases HQ runs on, and what its backends
//! share. The embedded SQLite backend, [`SqliteStore`], is in `db/sqlite.rs`.

use std::collections::BTreeMap;
use till_sync::loyalty::LoyaltyRule;
use till_sync::member::{ClaimKey, CodeSigningKey, MemberKey, PhonePepper};

/// The setting holding the chain's phone pepper, in hex.
const PHONE_PEPPER: &str = "phone_pepper";

use rand::Rng;
use sha2::{Digest, Sha256};
use till_sync::api::{
    Enrolled, Enrollment, MemberDelta, SaleResult, SaleStatus, UploadResponse, UploadedSale,
};
use till_sync::catalog::{CatalogDelta, CatalogRow};

use crate::catalog::Published;
use crate::claims::{Claim, ClaimOutcome};

pub mod members;
pub mod ops;
mod sqlite;

pub use members::{Joined, MemberTx};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum HqError {
    #[error("store {0} does not exist")]
    UnknownStore(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("registration code is unknown or already used")]
    BadCode,
    #[error("terminal {0} does not exist")]
    UnknownTerminal(String),
    #[error("that code is for terminal {code_for}, but this is terminal {asked_by}")]
    OtherTerminal { code_for: String, asked_by: String },
    #[error("idempotency key was used before with a different body")]
    KeyReused,
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Backend(String),
    /// A value HQ wrote itself reads back malformed: the database was edited or damaged.
    #[error("database holds a malformed value: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Loyalty(#[from] till_sync::loyalty::LoyaltyError),
    /// A newer HQ migrated the database; this one would not know its tables.
    #[error(
        "the database is at schema version {database}, newer than this till-hq knows ({known}): run the newer till-hq"
    )]
    SchemaTooNew { database: i64, known: i64 },
    /// The read replica given for analytics has not (yet) got the schema this HQ migrated
    /// its primary to.
    #[error(
        "the analytics database is at schema version {database}, but this till-hq's is {known}: give --analytics-db a replica of --db that has caught up"
    )]
    ReplicaBehind { database: i64, known: i64 },
}

pub type Result<T, E = HqError> = std::result::Result<T, E>;

/// Who asks to register with a code ([`HqStore::register`]): the terminal's own random device
/// value, if it sent one, and the store and terminal it says it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Device<'a> {
    pub device: Option<&'a str>,
    pub store: Option<&'a str>,
    pub terminal: Option<&'a str>,
}

impl Device<'_> {
    /// The hashes a code may be stored under for this device: the fresh code, or the code
    /// bound to this device by an earlier registration whose answer was lost.
    pub fn code_hashes(&self, code: &str) -> (Vec<u8>, Option<Vec<u8>>) {
        let code = code.trim();
        (
            digest(code),
            self.device
                .map(|device| digest(&format!("{code}\n{device}"))),
        )
    }

    /// Refuses a code that belongs to another terminal than the one asking.
    pub fn check(&self, store: &str, terminal: &str) -> Result<()> {
        match (self.store, self.terminal) {
            (Some(s), Some(t)) if (s, t) != (store, terminal) => Err(HqError::OtherTerminal {
                code_for: format!("{store}/{terminal}"),
                asked_by: format!("{s}/{t}"),
            }),
            _ => Ok(()),
        }
    }
}

/// A terminal as HQ knows it: its store's ID and its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalId {
    pub store: String,
    pub terminal: String,
}

/// What registering with a code gives a terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub id: TerminalId,
    /// The bearer token (40 characters from the OS-seeded CSPRNG; HQ keeps its SHA-256).
    pub token: String,
}

/// Sales and money per store, for `till-hq sales` and reconciliation tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSummary {
    pub store: String,
    pub sales: u64,
    pub total: i64,
    /// Tender kind → amount taken (cash as handed over, before change).
    pub tenders: BTreeMap<String, i64>,
    pub change: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TerminalStatus {
    pub store: String,
    pub terminal: String,
    pub registered: bool,
    pub last_seq: u64,
    pub sales: u64,
    /// Sequence numbers missing below the last one.
    pub gaps: Vec<u64>,
    /// Sequence numbers whose `prev_hash` does not match the sale before them.
    pub breaks: Vec<u64>,
    pub last_sync_ms: Option<i64>,
}

/// HQ's heavy reads: reports over every sale, which a chain can send to a read replica
/// (`till-hq --analytics-db`), so they never compete with ingest for the primary. Every
/// [`HqStore`] answers them too, for a chain without a replica.
pub trait Analytics: Send + Sync {
    /// Sales, money and change per store, and money per tender.
    fn summaries(&self) -> Result<Vec<StoreSummary>>;
    /// Every terminal: registered or not, sales, last sequence, gaps and breaks in its hash
    /// chain (a walk over every sale), last sync.
    fn terminals(&self) -> Result<Vec<TerminalStatus>>;
    /// The newest `limit` Z reports, of `store` or of every store, newest close first.
    fn z_reports(&self, store: Option<&str>, limit: u32) -> Result<Vec<ops::ZReportRow>>;
}

/// What HQ needs from a database. Every backend runs the same conformance tests.
pub trait HqStore: Analytics {
    fn add_store(&self, store: &str, name: &str) -> Result<()>;
    /// Adds a terminal and returns its one-time registration code.
    fn add_terminal(&self, store: &str, terminal: &str) -> Result<String>;
    /// Registers the terminal a code belongs to: who it is and its new bearer token.
    ///
    /// The code stays good until the terminal first uses a token it gave: if the answer was
    /// lost on the way, the terminal retries the same code and gets a new token (the unused
    /// one stops working). Its first authenticated request spends the code.
    fn register(&self, code: &str, device: &Device<'_>) -> Result<Registered>;
    /// Gives a terminal a new one-time registration code and revokes its token, for a
    /// terminal that was replaced or lost its token. Errors: the terminal does not exist.
    fn reissue_code(&self, store: &str, terminal: &str) -> Result<String>;
    /// The terminal a bearer token belongs to, if any; its first use spends the terminal's
    /// registration code.
    fn authenticate(&self, token: &str) -> Result<Option<TerminalId>>;
    /// Stores a checked batch for one terminal, exactly once per sale, answering per sale.
    fn ingest(
        &self,
        store: &str,
        terminal: &str,
        key: &str,
        body_hash: &str,
        sales: &[UploadedSale],
    ) -> Result<UploadResponse>;
    /// Files a terminal's operations (checked by the caller: its own, linked, in range),
    /// exactly once per (terminal, seq), answering per operation; a Z files its row in the Z
    /// reports, and a second Z for one shift is refused.
    fn ingest_ops(
        &self,
        store: &str,
        terminal: &str,
        ops: &[till_sync::api::UploadedOp],
    ) -> Result<till_sync::api::OpsUploadResponse>;
    /// Sale `seq` of `store`/`terminal` as HQ holds it (its canonical record), with the return
    /// operations filed against it from every terminal (canonical records, in the order of
    /// their terminal and number), for a return at another terminal of the store. None when
    /// HQ holds no such sale.
    fn sale_for_return(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
    ) -> Result<Option<ops::SaleForReturn>>;
    /// Makes a new random member key current; the one before stays valid as the previous key.
    /// Returns its number and hex.
    fn rotate_member_key(&self) -> Result<(u64, String)>;
    /// The current member key, then the previous one.
    fn member_keys(&self) -> Result<Vec<(u64, String)>>;
    /// Makes a new random member-code key current (its key ID one more than the last) and
    /// publishes it to tills at once; it signs codes from `signs_from_ms` (Unix ms). The one
    /// before stays valid as the previous key, so codes made before a rotation still verify
    /// at tills until they expire, and it keeps signing until the new key starts: a till
    /// that has not synced since the rotation still knows the key that signs.
    fn rotate_code_key_from(&self, signs_from_ms: i64) -> Result<CodeSigningKey>;
    /// [`HqStore::rotate_code_key_from`] now: the new key signs at once.
    fn rotate_code_key(&self) -> Result<CodeSigningKey> {
        self.rotate_code_key_from(now_ms())
    }
    /// The current member-code key, then the previous one, each with when it signs from (Unix
    /// ms).
    fn code_keys_with_start(&self) -> Result<Vec<(CodeSigningKey, i64)>>;
    /// The current member-code key, then the previous one.
    fn code_keys(&self) -> Result<Vec<CodeSigningKey>> {
        Ok(self
            .code_keys_with_start()?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }
    /// The key that signs member codes at `at_ms`: the newest one whose rollout is over by
    /// then, else the oldest published (for a time before any key started, as `till-hq
    /// member code --at` may ask). None before the first key exists.
    fn signing_code_key(&self, at_ms: i64) -> Result<Option<CodeSigningKey>> {
        let mut keys = self.code_keys_with_start()?;
        let started = keys.iter().position(|(_, start)| *start <= at_ms);
        let chosen = started.unwrap_or(keys.len().saturating_sub(1));
        Ok((chosen < keys.len()).then(|| keys.swap_remove(chosen).0))
    }
    /// How many writes (uploads, enrollments) this node runs at once; more wait a few seconds
    /// for a slot, then are answered 503 with `Retry-After`, rather than left to wait for a
    /// connection and time out.
    fn write_slots(&self) -> usize {
        cpu_write_slots()
    }
    /// Members with a phone whose stored hash HQ has not yet checked for version 1, by member
    /// ID, at most `limit` ([`crate::phones`]).
    fn unchecked_phones(&self, limit: usize) -> Result<Vec<StoredPhone>>;
    /// Records that `stored` was checked, in one transaction. With `upgrade` (its version-2
    /// hash, when the stored one was version 1) the member moves to it, or, if another member
    /// already has it (version 1 split a phone across key rotations), merges into that
    /// member: sales, points, claims, passes and provisional IDs go to the survivor, the
    /// merged ID becomes the survivor's alias at tills, and the merged member is deactivated
    /// with no phone.
    fn settle_phone(&self, stored: &StoredPhone, upgrade: Option<&str>) -> Result<PhoneSettled> {
        in_member_write(self, |tx| members::settle_phone(tx, stored, upgrade))
    }
    /// Every version-1 member key HQ ever held, newest first: version-1 claim codes and phone
    /// hashes verify with any of them.
    fn all_member_keys(&self) -> Result<Vec<MemberKey>>;
    /// Makes a new random claim key for `store`/`terminal` current; its older ones still
    /// verify the claim codes they signed.
    fn rotate_claim_key(&self, store: &str, terminal: &str) -> Result<ClaimKey>;
    /// Gives member `member_id` a new member pass and returns its token (32 characters from
    /// the OS-seeded CSPRNG; HQ keeps only its SHA-256): the link to their pass page.
    fn new_pass(&self, member_id: &str) -> Result<String> {
        let token = secret(32);
        self.put_pass(&hex::encode(digest(&token)), member_id)?;
        Ok(token)
    }
    /// Stores a pass by its token's SHA-256 (hex).
    fn put_pass(&self, token_hash: &str, member_id: &str) -> Result<()>;
    /// The member a pass token is for, if any.
    fn pass_member(&self, token: &str) -> Result<Option<String>> {
        self.pass_member_by_hash(&hex::encode(digest(token)))
    }
    /// The member of the pass whose token has this SHA-256 (hex).
    fn pass_member_by_hash(&self, token_hash: &str) -> Result<Option<String>>;
    /// A member's masked phone (if they gave one), or None for no such member.
    fn member_phone_masked(&self, member_id: &str) -> Result<Option<Option<String>>>;
    /// Whether store `id` exists (exactly: IDs are case-sensitive).
    fn store_exists(&self, id: &str) -> Result<bool>;
    /// Keeps a one-time code for `phone_hash` and `purpose` (only its SHA-256), replacing any
    /// earlier one, until `expires_ms`. Wrong tries at a code that has not expired by `now_ms`
    /// carry over to the new one, so asking again never buys more guesses.
    fn put_sms_code(
        &self,
        phone_hash: &str,
        purpose: &str,
        code_hash: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<()>;
    /// Checks a code typed for `phone_hash` and `purpose` at `now_ms`, counting the attempt:
    /// a right code is used up by this check.
    fn check_sms_code(
        &self,
        phone_hash: &str,
        purpose: &str,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<SmsCodeCheck>;
    /// Whether HQ has sale `seq` of `store`/`terminal`, made (by its till's clock) before
    /// `before_ms` when given. Claims signed with a key that has been replaced (a terminal's
    /// older claim key, or the chain's version-1 key) count only for such sales, so whoever
    /// kept an old key claims nothing made since.
    fn sale_made_before(
        &self,
        store: &str,
        terminal: &str,
        seq: u64,
        before_ms: Option<i64>,
    ) -> Result<bool>;
    /// Every claim key `store`/`terminal` ever had, newest first, with when HQ made it (Unix
    /// ms).
    fn claim_keys(&self, store: &str, terminal: &str) -> Result<Vec<(ClaimKey, i64)>>;
    /// The claim key `store`/`terminal` signs with now, made if it has none.
    fn claim_key(&self, store: &str, terminal: &str) -> Result<ClaimKey> {
        match self.claim_keys(store, terminal)?.into_iter().next() {
            Some((key, _)) => Ok(key),
            None => self.rotate_claim_key(store, terminal),
        }
    }
    /// A member's points ledger, one entry per sale, oldest first. Entries are keyed by sale
    /// ID and written with the sale, so no retry or duplicate upload can count a sale twice.
    fn points_ledger(&self, member_id: &str) -> Result<Vec<(String, i64)>>;
    /// Whether HQ knows `member_id` as a member, or as a provisional ID it mapped to one.
    fn member_known(&self, member_id: &str) -> Result<bool>;
    /// Files members enrolled at `store`'s tills, in one transaction: each provisional ID gets
    /// a final member ID, joining the member who already has that phone hash if there is one.
    /// Filing an enrollment again returns the first answer.
    fn enroll(&self, store: &str, enrollments: &[Enrollment]) -> Result<Vec<Enrolled>> {
        in_member_write(self, |tx| members::enroll(tx, store, enrollments))
    }
    /// Members changed after version `since`, oldest change first, and the provisional IDs
    /// mapped meanwhile; about `limit` members a page.
    fn member_delta(&self, since: u64, limit: usize) -> Result<MemberDelta>;
    /// Records a claim in one transaction: the phone's member (created if new) gets the sale
    /// and its points if HQ has it, or as soon as it arrives.
    fn claim(&self, claim: &Claim) -> Result<ClaimOutcome> {
        in_member_write(self, |tx| members::claim(tx, claim))
    }
    /// A customer joins on HQ's page (the customer display's join code): the phone's member,
    /// created if new.
    fn join(&self, new: &NewMember<'_>) -> Result<Joined> {
        in_member_write(self, |tx| members::join(tx, new))
    }
    /// Runs `work` in one write transaction: committed if it returns `Ok`, rolled back if it
    /// fails. The member flows ([`members`]) run in it, over the backend's primitives.
    fn member_write(&self, work: &mut dyn FnMut(&mut dyn MemberTx) -> Result<()>) -> Result<()>;
    /// A chain-wide setting, such as `public_url`.
    fn setting(&self, key: &str) -> Result<Option<String>>;
    fn set_setting(&self, key: &str, value: &str) -> Result<()>;
    /// The setting `key`, set to `value` first if it has none; two HQ nodes asking at once
    /// get the same answer.
    fn setting_or_insert(&self, key: &str, value: &str) -> Result<String>;
    /// The chain's phone pepper: made once, from the OS-seeded CSPRNG, the first time anything
    /// needs it, and never rotated.
    fn phone_pepper(&self) -> Result<PhonePepper> {
        // Read first: every join and claim asks, and a read never waits for the writer.
        let hex = match self.setting(PHONE_PEPPER)? {
            Some(hex) => hex,
            None => self.setting_or_insert(PHONE_PEPPER, &new_member_key())?,
        };
        PhonePepper::parse_hex(&hex)
            .map_err(|_| HqError::Corrupt("the stored phone pepper is malformed".into()))
    }
    /// Whether a sale has been claimed already.
    fn claimed(&self, store: &str, terminal: &str, seq: u64) -> Result<bool>;
    /// Publishes a whole catalog as the chain's next version: new and changed products get
    /// that version, products left out are withdrawn. A file that changes nothing publishes
    /// no version.
    fn publish_catalog(&self, rows: &[CatalogRow]) -> Result<Published>;
    /// Products changed after version `since`, up to version `upto` (the current one if
    /// None), by SKU after `after`, at most `limit` of them.
    fn catalog_delta(
        &self,
        since: u64,
        upto: Option<u64>,
        after: &str,
        limit: usize,
    ) -> Result<CatalogDelta>;

    /// Every points rule HQ has published, oldest first (PRODUCT.md "Loyalty"). Version 0,
    /// [`LoyaltyRule::LEGACY`], is built in and not listed.
    fn loyalty_rules(&self) -> Result<Vec<LoyaltyRule>>;

    /// Publishes `points_per_yuan` as the next rule version, in one transaction, so two
    /// publishes at once get two versions; terminals take it at their next sync. Every
    /// earlier version stays, so records stamped with one keep verifying. Errors: a rate of
    /// 0, negative or over [`till_sync::loyalty::MAX_POINTS_PER_YUAN`].
    fn publish_loyalty(&self, points_per_yuan: i64) -> Result<LoyaltyRule>;

    /// The rule terminals stamp new sales with: the newest published, or the legacy rule.
    fn current_loyalty_rule(&self) -> Result<LoyaltyRule> {
        Ok(self
            .loyalty_rules()?
            .last()
            .copied()
            .unwrap_or(LoyaltyRule::LEGACY))
    }
}

/// Runs a member flow in one of `store`'s write transactions and returns its answer.
fn in_member_write<S, T>(store: &S, flow: impl FnOnce(&mut dyn MemberTx) -> Result<T>) -> Result<T>
where
    S: HqStore + ?Sized,
{
    let mut flow = Some(flow);
    let mut answer = None;
    store.member_write(&mut |tx| {
        let flow = flow
            .take()
            .ok_or_else(|| HqError::Backend("a member write ran its flow twice".to_string()))?;
        answer = Some(flow(tx)?);
        Ok(())
    })?;
    answer.ok_or_else(|| HqError::Backend("a member write did not run its flow".to_string()))
}

/// The member IDs of the accepted sales of a batch, whose members' points changed.
pub(crate) fn accepted_members(sales: &[UploadedSale], results: &[SaleResult]) -> Vec<String> {
    let mut ids: Vec<String> = sales
        .iter()
        .zip(results)
        .filter(|(_, r)| r.status == SaleStatus::Accepted)
        .filter_map(|(s, _)| match &s.record.attribution {
            till_sync::Attribution::Member { member_id } => Some(member_id.clone()),
            till_sync::Attribution::Anonymous { .. } => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A final member ID as HQ issues it: never a dot, never mistaken for a provisional one.
pub(crate) fn member_id(n: u64) -> String {
    format!("M{n:08}")
}

/// A page of (version, member) rows, oldest first, fetched with `limit + 1`.
pub(crate) enum Page<T> {
    /// Every change there is.
    Whole(Vec<(u64, T)>),
    /// Cut at a version boundary, so no change is split across pages; more follow.
    Cut(Vec<(u64, T)>),
    /// One change alone touched more than `limit` members: fetch all of that version.
    OneVersion(u64),
}

pub(crate) fn cut_at_version<T>(mut rows: Vec<(u64, T)>, limit: usize) -> Page<T> {
    if rows.len() <= limit {
        return Page::Whole(rows);
    }
    let boundary = rows[limit].0;
    rows.truncate(limit);
    rows.retain(|(v, _)| *v < boundary);
    if rows.is_empty() {
        Page::OneVersion(boundary)
    } else {
        Page::Cut(rows)
    }
}

/// A page of a delta from the rows a query returned (one more than `limit` if more follow).
pub(crate) fn delta_page(version: u64, rows: Vec<String>, limit: usize) -> Result<CatalogDelta> {
    let more = rows.len() > limit;
    let rows = rows
        .iter()
        .take(limit)
        .map(|json| serde_json::from_str(json).map_err(|e| HqError::Backend(e.to_string())))
        .collect::<Result<_>>()?;
    Ok(CatalogDelta {
        version,
        rows,
        more,
    })
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new member key: 32 bytes from the operating system's CSPRNG (through `rand`'s
/// ChaCha-based thread RNG, reseeded from the OS), as 64 lower-case hex characters.
/// 32 bytes from the OS-seeded CSPRNG, as 64 hex characters: a new key's secret.
pub(crate) fn new_member_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    hex::encode(key)
}

/// A random secret of `len` characters from an unambiguous alphabet (no 0/O, 1/I).
pub(crate) fn secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Gaps, breaks, last sequence and count of one terminal's sales, given (seq, prev_hash, hash)
/// in sequence order. Shared by every backend so they judge a chain alike.
pub(crate) fn chain_status(links: &[(u64, String, String)]) -> TerminalStatus {
    let mut status = TerminalStatus::default();
    let mut expected = 1u64;
    let mut previous: Option<&str> = None;
    for (seq, prev_hash, hash) in links {
        status.gaps.extend(expected..*seq);
        let first_ok = *seq == 1 && *prev_hash == hex::encode(till_sync::GENESIS_HASH);
        let linked = previous.is_some_and(|p| p == prev_hash);
        if *seq == expected && !(first_ok || linked) {
            status.breaks.push(*seq);
        }
        previous = Some(hash);
        expected = seq + 1;
        status.last_seq = *seq;
        status.sales += 1;
    }
    status
}

/// Tries a customer gets at one code before they must ask for a new one.
pub const SMS_CODE_TRIES: i64 = 5;

/// What checking a typed one-time code found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsCodeCheck {
    /// The right code, in time: it is now used up.
    Right,
    /// Not the code; this many tries are left (0: ask for a new one).
    Wrong {
        tries_left: i64,
    },
    Expired,
    /// The code was used already.
    Used,
    /// No code was sent for this phone and purpose.
    NoCode,
}

/// The check of a stored code row `(code_hash, expires_ms, attempts, used)` against a typed
/// code: one rule for both backends. Returns the outcome and whether the row is now used.
pub(crate) fn sms_code_outcome(
    row: Option<(String, i64, i64, bool)>,
    typed_hash: &str,
    now_ms: i64,
) -> SmsCodeCheck {
    let Some((hash, expires_ms, attempts, used)) = row else {
        return SmsCodeCheck::NoCode;
    };
    if used {
        SmsCodeCheck::Used
    } else if now_ms > expires_ms {
        SmsCodeCheck::Expired
    } else if attempts >= SMS_CODE_TRIES {
        SmsCodeCheck::Wrong { tries_left: 0 }
    } else if hash == typed_hash {
        SmsCodeCheck::Right
    } else {
        SmsCodeCheck::Wrong {
            tries_left: SMS_CODE_TRIES - attempts - 1,
        }
    }
}

/// A member as an enrollment, a claim or the join page introduces them.
#[derive(Debug)]
pub struct NewMember<'a> {
    /// The phone's hash under the chain's pepper.
    pub phone_hash: &'a str,
    /// Its version-1 hashes: a member stored under one of them is this phone's, and moves to
    /// `phone_hash`.
    pub legacy_hashes: &'a [String],
    pub phone_masked: &'a str,
    pub consent_version: &'a str,
    pub consent_at_ms: i64,
    pub store: &'a str,
    pub enrolled_at_ms: i64,
}

/// A member's phone as HQ stores it, to be checked for a version-1 hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhone {
    pub member_id: String,
    /// 64 hex characters: version 2 (Argon2id) or version 1 (HMAC-SHA256).
    pub phone_hash: String,
    /// `138****5678`.
    pub phone_masked: String,
}

/// What [`HqStore::settle_phone`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneSettled {
    /// Not a version-1 hash, or the member moved meanwhile: nothing changed.
    Unchanged,
    /// The member now has the version-2 hash.
    Moved,
    /// Another member had the phone already; this one merged into them.
    MergedInto(String),
}

impl PhoneSettled {
    /// How `phone_checks` records it.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            PhoneSettled::Unchanged => "unchanged",
            PhoneSettled::Moved => "moved",
            PhoneSettled::MergedInto(_) => "merged",
        }
    }
}

/// One versioned change to HQ's schema: `hq/migrations/<backend>/NNNN_<name>.sql`.
#[derive(Debug)]
pub(crate) struct Migration {
    /// 1, 2, …: the order they apply in, without gaps.
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migrations a database whose newest applied version is `applied` still needs.
/// Errors: the database is newer than this build (a newer HQ migrated it).
pub(crate) fn pending(applied: i64, all: &'static [Migration]) -> Result<&'static [Migration]> {
    let known = all.last().map_or(0, |m| m.version);
    let Some(rest) = usize::try_from(applied).ok().and_then(|n| all.get(n..)) else {
        return Err(HqError::SchemaTooNew {
            database: applied,
            known,
        });
    };
    Ok(rest)
}

/// Writes at once that keep a node's CPUs busy without starving its reads: two per core
/// (one parses and checks a batch while another waits on the database), 4 to 32.
pub(crate) fn cpu_write_slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(4, 32)
}

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A stored member-code key, or why the database holds a malformed one.
pub(crate) fn code_key(kid: u64, secret_hex: &str) -> Result<CodeSigningKey> {
    CodeSigningKey::parse_hex(kid, secret_hex)
        .map_err(|_| HqError::Corrupt(format!("stored member-code key {kid} is malformed")))
}

/// Stored 32-byte keys, or why the database holds a malformed one.
pub(crate) fn hex_keys<K>(
    what: &str,
    rows: &[String],
    parse: impl Fn(&str) -> Result<K, till_sync::member::MemberError>,
) -> Result<Vec<K>> {
    rows.iter()
        .map(|hex| {
            parse(hex).map_err(|_| HqError::Corrupt(format!("a stored {what} is malformed")))
        })
        .collect()
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    #[test]
    fn both_backends_migrate_through_the_same_versions_numbered_without_gaps() {
        let sqlite = sqlite::schema::MIGRATIONS;
        let pg = crate::pg::schema::MIGRATIONS;
        let names = |all: &[Migration]| -> Vec<(i64, &str)> {
            all.iter().map(|m| (m.version, m.name)).collect()
        };
        assert_eq!(names(sqlite), names(pg));
        for (i, migration) in sqlite.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1, "{migration:?}");
        }
    }

    #[test]
    fn a_database_gets_the_migrations_it_lacks_and_a_newer_one_is_refused() {
        let all = sqlite::schema::MIGRATIONS;
        let versions = |applied: i64| -> Vec<i64> {
            pending(applied, all)
                .unwrap()
                .iter()
                .map(|m| m.version)
                .collect()
        };
        assert_eq!(versions(0), [1, 2, 3]);
        assert_eq!(versions(1), [2, 3]);
        assert_eq!(versions(3), Vec::<i64>::new());
        for newer in [4, i64::MAX, -1] {
            assert!(
                matches!(pending(newer, all), Err(HqError::SchemaTooNew { database, known: 3 }) if database == newer),
                "{newer}"
            );
        }
    }
}

#[cfg(test)]
mod sms_code_tests {
    use super::*;

    #[test]
    fn a_code_is_right_once_in_time_within_five_tries() {
        fn check(row: Option<(&str, i64, i64, bool)>, typed: &str, now: i64, want: SmsCodeCheck) {
            let row = row.map(|(h, e, a, u)| (h.to_string(), e, a, u));
            assert_eq!(
                sms_code_outcome(row.clone(), typed, now),
                want,
                "{row:?} {typed} {now}"
            );
        }
        use SmsCodeCheck::*;
        check(Some(("h", 100, 0, false)), "h", 100, Right);
        check(Some(("h", 100, 0, false)), "x", 50, Wrong { tries_left: 4 });
        check(Some(("h", 100, 4, false)), "x", 50, Wrong { tries_left: 0 });
        check(Some(("h", 100, 5, false)), "h", 50, Wrong { tries_left: 0 });
        check(Some(("h", 100, 0, false)), "h", 101, Expired);
        check(Some(("h", 100, 1, true)), "h", 50, Used);
        check(None, "h", 50, NoCode);
    }
}
