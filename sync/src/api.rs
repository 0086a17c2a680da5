//! The HTTP API between terminal and HQ, version 1: paths, request and response bodies.
//!
//! - `POST /api/v1/register` with [`RegisterRequest`] → [`RegisterResponse`]: a one-time code
//!   from `till-hq terminal add` becomes the terminal's bearer token.
//! - `POST /api/v1/sales:batch` with [`UploadRequest`] (gzip, `Authorization: Bearer …`,
//!   `Idempotency-Key: …`) → [`UploadResponse`], one result per sale. Replaying a key returns
//!   the first answer; the same key with a different body is 422.
//! - `GET /api/v1/member-keys` → [`MemberKeysResponse`].
//! - `POST /api/v1/members:enroll` with [`EnrollRequest`] → [`EnrollResponse`]: members enrolled
//!   at tills under provisional IDs get their final IDs, merged by phone hash.
//! - `GET /api/v1/members?since=V` → [`MemberDelta`]: changed members and provisional-ID
//!   mappings, a page at a time.
//! - `GET /api/v1/catalog?since=V` → [`crate::catalog::CatalogDelta`], a page at a time.
//! - `GET /api/v1/loyalty` → [`crate::loyalty::LoyaltyRule`]: the chain's current points rule,
//!   pulled with the catalog.
//! - `POST /api/v1/ops:batch` with [`OpsUploadRequest`] (at most [`MAX_OPS`]) →
//!   [`OpsUploadResponse`], one result per operation: the terminal's operations journal
//!   ([`crate::ops`]), filed exactly once per (terminal, seq); a second Z for one shift is
//!   refused.
//! - Errors are [`ErrorBody`] with a 4xx or 5xx status.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ops::OpRecord;
use crate::sale::{SaleRecord, chain_hash};

pub const REGISTER_PATH: &str = "/api/v1/register";
pub const UPLOAD_PATH: &str = "/api/v1/sales:batch";
pub const MEMBER_KEYS_PATH: &str = "/api/v1/member-keys";
/// `POST` with [`EnrollRequest`] → [`EnrollResponse`].
pub const ENROLL_PATH: &str = "/api/v1/members:enroll";
/// `GET` with `?since=V` → [`MemberDelta`].
pub const MEMBERS_PATH: &str = "/api/v1/members";
/// `GET` with `?since=V[&upto=W][&after=SKU]` → [`crate::catalog::CatalogDelta`].
pub const CATALOG_PATH: &str = "/api/v1/catalog";
/// `GET` → [`crate::loyalty::LoyaltyRule`].
pub const LOYALTY_PATH: &str = "/api/v1/loyalty";
/// Where a terminal uploads its operations journal (shifts, Z reports, cash movements, audit
/// events).
pub const OPS_PATH: &str = "/api/v1/ops:batch";
/// Where a terminal fetches a sale of its store for a return: `GET` with the sale's store,
/// terminal and receipt number (a receipt code's parts), [`sale_path`].
pub const SALE_PATH: &str = "/api/v1/sales/{store}/{terminal}/{seq}";

/// [`SALE_PATH`] for one sale.
pub fn sale_path(store: &str, terminal: &str, seq: u64) -> String {
    format!("/api/v1/sales/{store}/{terminal}/{seq}")
}

/// The most operations one upload may carry.
pub const MAX_OPS: usize = 1000;
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// HQ refuses request bodies larger than this once decompressed, with 413.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// The version every upload carries; HQ refuses others with 422.
pub const UPLOAD_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub code: String,
    /// A random value the terminal makes once and keeps, so that it alone may use the code
    /// again if HQ's answer was lost (until it first uses its token). Without it, the code is
    /// spent at once.
    #[serde(default)]
    pub device: Option<String>,
    /// The store and terminal this terminal is set up as: HQ refuses a code for another one,
    /// before it changes anything.
    #[serde(default)]
    pub store: Option<String>,
    #[serde(default)]
    pub terminal: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    pub store: String,
    pub terminal: String,
    pub token: String,
    /// HQ's address as customers' phones reach it, for the claim and join QR codes, if the
    /// chain has set one (`till-hq public-url set`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// This terminal's claim key, 64 lower-case hex characters: it signs the claim codes on
    /// the terminal's anonymous receipts, and no other terminal's.
    pub claim_key: String,
    /// The chain's phone pepper (64 lower-case hex characters), so the till finds members by
    /// phone from its first sale.
    pub phone_pepper: String,
}

/// Whether `hash` (hex) is the chain link of `canonical` after `prev_hash` (hex).
fn link_is_valid(prev_hash: &str, canonical: &[u8], hash: &str) -> bool {
    let Ok(prev) = <[u8; 32]>::try_from(hex::decode(prev_hash).unwrap_or_default()) else {
        return false;
    };
    hex::encode(chain_hash(&prev, canonical)) == hash
}

/// One sale as uploaded: its record and its link in the terminal's hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadedSale {
    pub record: SaleRecord,
    /// Hex SHA-256 of the terminal's previous sale's link (zeros for the first sale).
    pub prev_hash: String,
    /// Hex `SHA-256(prev_hash ‖ canonical bytes)`.
    pub hash: String,
}

impl UploadedSale {
    /// Whether `hash` really is this record's link after `prev_hash`.
    pub fn link_is_valid(&self) -> bool {
        link_is_valid(&self.prev_hash, &self.record.canonical_bytes(), &self.hash)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// [`UPLOAD_VERSION`]; HQ refuses others with 422.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub v: u32,
    pub sales: Vec<UploadedSale>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SaleStatus {
    /// Stored now.
    Accepted,
    /// HQ already had exactly this sale.
    Duplicate,
    /// Not stored; `reason` says why (e.g. its sequence number belongs to another sale).
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleResult {
    pub seq: u64,
    pub sale_id: String,
    pub status: SaleStatus,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadResponse {
    pub results: Vec<SaleResult>,
}

/// One operation as uploaded: its record and its link in the terminal's operations chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadedOp {
    pub record: OpRecord,
    /// Hex SHA-256 of the terminal's previous operation's link (zeros for its first).
    pub prev_hash: String,
    /// Hex `SHA-256(prev_hash ‖ canonical bytes)`.
    pub hash: String,
}

impl UploadedOp {
    /// Whether `hash` really is this record's link after `prev_hash`.
    pub fn link_is_valid(&self) -> bool {
        link_is_valid(&self.prev_hash, &self.record.canonical_bytes(), &self.hash)
    }
}

/// A batch of a terminal's operations, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpsUploadRequest {
    /// [`UPLOAD_VERSION`]; HQ refuses others with 422.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub v: u32,
    pub ops: Vec<UploadedOp>,
}

/// HQ's answer about one operation: stored now, already held, or refused with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpResult {
    pub seq: u64,
    pub status: SaleStatus,
    pub reason: Option<String>,
}

impl OpResult {
    pub fn accepted(seq: u64) -> OpResult {
        OpResult {
            seq,
            status: SaleStatus::Accepted,
            reason: None,
        }
    }

    pub fn duplicate(seq: u64) -> OpResult {
        OpResult {
            seq,
            status: SaleStatus::Duplicate,
            reason: None,
        }
    }

    pub fn rejected(seq: u64, reason: String) -> OpResult {
        OpResult {
            seq,
            status: SaleStatus::Rejected,
            reason: Some(reason),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpsUploadResponse {
    pub results: Vec<OpResult>,
}

/// A sale HQ holds, for its return at another terminal of the same store: the sale as its
/// till recorded it, and every return operation filed against it so far, from any terminal,
/// oldest first. The returning till applies `till_domain::returns` to both, with its own
/// returns not yet filed; HQ checks the result again when it files the return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleForReturn {
    pub sale: SaleRecord,
    pub returns: Vec<OpRecord>,
}

/// One of HQ's member-code public keys (Ed25519, RFC 8032): its ID, as `TM2` codes name it,
/// and its 32 bytes as 64 lower-case hex characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CodeKey {
    pub kid: u64,
    pub public_key: String,
}

/// What a terminal needs offline, scoped to it: HQ's public member-code keys (`code_keys`,
/// current first, then the previous one while a rotation settles), which verify `TM2` codes
/// and can make none; this terminal's own claim key; and the chain's phone pepper. No
/// version-1 key: it would let one till forge codes and claims for the whole chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberKeysResponse {
    pub code_keys: Vec<CodeKey>,
    /// The asking terminal's claim key (64 lower-case hex characters), made now if it had
    /// none (a terminal registered before claim keys existed).
    pub claim_key: String,
    /// The chain's phone pepper (64 lower-case hex characters), which salts every phone hash.
    pub phone_pepper: String,
}

/// A member enrolled at a till, offline if need be: never the phone number, only its keyed hash
/// and masked form, and the consent the customer gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// `P-<store>-<terminal>-<uuid>`, made by the till; HQ maps it to the final ID.
    pub provisional_id: String,
    /// The number's hash under the chain's pepper ([`crate::member::Phone::hash`]: Argon2id),
    /// 64 lower-case hex characters.
    pub phone_hash: String,
    /// The number's version-1 hashes (HMAC-SHA256 under each version-1 member key the till
    /// holds), so that HQ finds a member enrolled before version 2 and moves them to
    /// `phone_hash` instead of making a second member. Empty on a till that never held one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legacy_phone_hashes: Vec<String>,
    /// The number with all but its last 4 digits masked.
    pub phone_masked: String,
    pub consent_version: String,
    pub consent_at_ms: i64,
    pub enrolled_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// [`UPLOAD_VERSION`]; HQ refuses others with 422.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub v: u32,
    pub enrollments: Vec<Enrollment>,
}

/// Where HQ filed one enrollment. Sending it again gives the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Enrolled {
    pub provisional_id: String,
    pub member_id: String,
    /// The phone already belonged to a member, whom this enrollment joined.
    pub merged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    pub results: Vec<Enrolled>,
}

/// A member as HQ knows them, for tills to find by phone or card and show at the till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    pub member_id: String,
    pub display_name: String,
    pub tier: String,
    /// HQ's balance: the points ledger, one entry per sale.
    pub points: i64,
    pub phone_hash: Option<String>,
    pub phone_masked: Option<String>,
    pub active: bool,
}

/// A provisional ID and the member it turned out to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberAlias {
    pub provisional_id: String,
    pub member_id: String,
}

/// Members changed after version `since`, oldest change first, and the provisional IDs mapped
/// in the same span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberDelta {
    /// The version a till reaches by applying this page.
    pub version: u64,
    pub members: Vec<MemberEntry>,
    pub aliases: Vec<MemberAlias>,
    /// More changes follow: ask again with `since` set to `version`.
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
}

/// The idempotency key of a batch: the hex SHA-256 of its JSON body, so a retry of the same
/// batch always carries the same key.
pub fn idempotency_key(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}
