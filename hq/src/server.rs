//! HQ's HTTP API (axum): registration and sales ingest, with bearer tokens, body limits,
//! gzip request bodies and timeouts. Nodes keep no state of their own beyond the database.
//! The customers' claim and join pages are in `server/pages.rs`, the listener (plain HTTP or
//! TLS) in `server/serve.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use till_sync::api::{
    CATALOG_PATH, CodeKey, ENROLL_PATH, EnrollRequest, EnrollResponse, Enrolled, Enrollment,
    ErrorBody, IDEMPOTENCY_KEY, LOYALTY_PATH, MEMBER_KEYS_PATH, MEMBERS_PATH, MemberAlias,
    MemberDelta, MemberEntry, MemberKeysResponse, REGISTER_PATH, RegisterRequest, RegisterResponse,
    SaleResult, SaleStatus, UPLOAD_PATH, UPLOAD_VERSION, UploadRequest, UploadResponse,
    UploadedSale,
};
use till_sync::catalog::{CatalogDelta, CatalogRow};
use till_sync::{Attribution, SaleLine, SalePayment, SaleRecord};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;

use crate::db::{HqError, HqStore, TerminalId};

mod json;
mod limits;
mod ops;
mod pages;
mod pass;
mod serve;
mod upload;

use pages::{claim_form, claim_submit, join_form, join_submit};

pub use limits::{PageLimits, Pages, PeerAddr, Rate};
pub use serve::{RunningServer, ServeError, TlsFiles, spawn, spawn_with};

/// The setting holding HQ's public address (`till-hq public-url set`), which registration
/// hands to terminals for their claim and join QR codes.
pub const PUBLIC_URL: &str = "public_url";

/// Uploads larger than this, after decompression, are refused with 413.
pub const MAX_BODY: usize = till_sync::api::MAX_BODY_BYTES;

/// The store, shared by every request: backends pool their connections, so requests run side
/// by side and none holds a lock over the store as a whole.
pub(crate) type Db = Arc<dyn HqStore>;

/// What the handlers share: the database, and the customers' pages' SMS gateway and limits.
#[derive(Clone)]
struct AppState {
    db: Db,
    pages: Arc<PageState>,
    writes: WriteSlots,
}

/// The writes (uploads, enrollments) a node runs at once ([`HqStore::write_slots`]).
#[derive(Clone, Debug)]
struct WriteSlots(Arc<tokio::sync::Semaphore>);

impl axum::extract::FromRef<AppState> for WriteSlots {
    fn from_ref(state: &AppState) -> WriteSlots {
        state.writes.clone()
    }
}

impl WriteSlots {
    /// A slot, held until the returned permit drops (moved into the database call, so a
    /// request given up on still holds it until its write ends), or 503 after waiting
    /// [`WRITE_QUEUE_WAIT`]. Taken once the body has arrived, so a slow uplink holds no slot.
    /// Waiters are served in arrival order (tokio's semaphore is fair).
    async fn take(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(WRITE_QUEUE_WAIT, self.0.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(fail(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("HQ is busy: try again in {BUSY_RETRY_AFTER_S} s"),
            )),
        }
    }
}

/// The customers' pages' dependencies, as the handlers use them.
#[derive(Debug)]
struct PageState {
    sms: Arc<dyn crate::sms::SmsGateway>,
    limits: limits::Limiters,
    /// Phone hashes (Argon2id, 19 MiB each) computed at once, at most.
    hashing: tokio::sync::Semaphore,
}

/// Phone hashes one HQ node computes at once.
const HASHING_AT_ONCE: usize = 4;

impl axum::extract::FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Db {
        state.db.clone()
    }
}

impl axum::extract::FromRef<AppState> for Arc<PageState> {
    fn from_ref(state: &AppState) -> Arc<PageState> {
        state.pages.clone()
    }
}

/// The API's OpenAPI 3 description, served at `/api/openapi.json`.
#[derive(OpenApi, Debug)]
#[openapi(
    info(
        title = "Till HQ",
        description = "The terminal API of Till HQ: registration, exactly-once sales upload, the operations journal (shifts, Z reports, cash movements, audit events), member keys and the published catalog."
    ),
    paths(
        register, upload, member_keys, catalog, loyalty, enroll, members, ops::upload_ops,
        ops::sale_for_return
    ),
    components(schemas(
        till_sync::api::SaleForReturn,
        till_sync::api::OpsUploadRequest,
        till_sync::api::UploadedOp,
        till_sync::api::OpsUploadResponse,
        till_sync::api::OpResult,
        till_sync::ops::OpRecord,
        till_sync::ops::Op,
        till_sync::ops::ShiftOpen,
        till_sync::ops::ZReport,
        till_sync::ops::CashMovement,
        till_sync::ops::NoSale,
        till_sync::ops::LineVoid,
        till_sync::ops::TicketCancel,
        till_sync::ops::DiscountGiven,
        till_sync::ops::PriceOverride,
        till_sync::ops::Session,
        till_sync::ops::Lockout,
        till_sync::ops::CountLine,
        till_sync::ops::TaxTotal,
        till_sync::ops::TenderTotal,
        RegisterRequest,
        RegisterResponse,
        UploadRequest,
        UploadedSale,
        UploadResponse,
        SaleResult,
        SaleStatus,
        SaleRecord,
        SaleLine,
        SalePayment,
        Attribution,
        till_sync::loyalty::SaleLoyalty,
        till_sync::loyalty::LoyaltyRule,
        CodeKey,
        MemberKeysResponse,
        CatalogDelta,
        CatalogRow,
        EnrollRequest,
        Enrollment,
        EnrollResponse,
        Enrolled,
        MemberDelta,
        MemberEntry,
        MemberAlias,
        ErrorBody
    )),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "terminal_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(ErrorBody { error: self.1 })).into_response();
        // HQ answers 503 only when it is saturated: it says when to come back.
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_S));
        }
        response
    }
}

fn fail(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

impl From<HqError> for ApiError {
    fn from(e: HqError) -> Self {
        match e {
            HqError::BadCode => fail(StatusCode::UNAUTHORIZED, e.to_string()),
            HqError::OtherTerminal { .. } => fail(StatusCode::FORBIDDEN, e.to_string()),
            HqError::KeyReused | HqError::Loyalty(_) => {
                fail(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            HqError::UnknownStore(_) | HqError::UnknownTerminal(_) | HqError::Exists(_) => {
                fail(StatusCode::CONFLICT, e.to_string())
            }
            HqError::Database(_)
            | HqError::Backend(_)
            | HqError::Corrupt(_)
            | HqError::SchemaTooNew { .. }
            | HqError::ReplicaBehind { .. } => {
                tracing::error!("{e}");
                fail(StatusCode::INTERNAL_SERVER_ERROR, "HQ database error")
            }
        }
    }
}

/// A JSON body as a `T` ([`json::parse`]): 400 if it is not one, 422 if a string holds
/// U+0000.
fn read_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    json::parse(body).map_err(|e| match e {
        json::BodyError::Nul => fail(StatusCode::UNPROCESSABLE_ENTITY, format!("bad {what}: {e}")),
        json::BodyError::Json(_) => fail(StatusCode::BAD_REQUEST, format!("bad {what}: {e}")),
    })
}

/// Runs a database call off the async runtime's threads. A call that panics answers 500 and
/// affects no other request: no lock over the store is held, so none is poisoned.
async fn with_db<T: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&dyn HqStore) -> Result<T, HqError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || f(&*db))
        .await
        .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "HQ worker failed"))?
        .map_err(ApiError::from)
}

/// HQ's routes over `store`, with the customers' pages sending codes and limiting requests as
/// `pages` says. Serve it with connect info ([`PeerAddr`]): the pages limit per address.
pub fn router(store: Box<dyn HqStore>, pages: Pages) -> Router {
    router_over(Arc::from(store), pages)
}

/// [`router`] over a store the caller shares.
pub(crate) fn router_over(db: Db, pages: Pages) -> Router {
    let state = AppState {
        writes: WriteSlots(Arc::new(tokio::sync::Semaphore::new(db.write_slots()))),
        db,
        pages: Arc::new(PageState {
            sms: pages.sms,
            limits: limits::Limiters::new(pages.limits),
            hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE),
        }),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/api/openapi.json",
            get(|| async { axum::Json(api_spec()) }),
        )
        .route(REGISTER_PATH, post(register))
        .route(UPLOAD_PATH, post(upload))
        .route(MEMBER_KEYS_PATH, get(member_keys))
        .route(CATALOG_PATH, get(catalog))
        .route(LOYALTY_PATH, get(loyalty))
        .route(ENROLL_PATH, post(enroll))
        .route(till_sync::api::OPS_PATH, post(ops::upload_ops))
        .route(till_sync::api::SALE_PATH, get(ops::sale_for_return))
        .route("/c/{token}", get(claim_form).post(claim_submit))
        .route("/join/{store}", get(join_form).post(join_submit))
        .route("/m/{token}", get(pass::pass_page))
        .route("/m/{token}/codes", get(pass::pass_codes))
        .route(MEMBERS_PATH, get(members))
        // Unless a handler set its own: pages are never framed (clickjacking) and nothing is
        // cached, since every answer is about a member or a till.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

/// How long a write waits for a slot before HQ answers it busy: a queue this long drains in
/// seconds (a batch holds a slot for tens of milliseconds), well inside a till's 30 s timeout.
const WRITE_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Seconds a till is asked to wait when HQ is saturated.
const BUSY_RETRY_AFTER_S: u64 = 5;

/// HQ's OpenAPI document, with what the edge enforces on every string written into it.
fn api_spec() -> serde_json::Value {
    let mut spec = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    json::forbid_nul_in_strings(&mut spec);
    json::forbid_unknown_fields(&mut spec);
    spec
}

/// The Content-Security-Policy of every page: run only the pass page's script (by hash),
/// load nothing from elsewhere, post forms only to HQ, and never be framed.
fn content_security_policy() -> HeaderValue {
    let csp = format!(
        "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        crate::pass::pass_script_source()
    );
    // Base64 and ASCII only: always a valid header value.
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// Exchanges a one-time registration code for the terminal's bearer token.
#[utoipa::path(
    post,
    path = "/api/v1/register",
    request_body = RegisterRequest,
    responses(
        (status = 200, description = "the terminal's identity and token", body = RegisterResponse),
        (status = 400, description = "not a registration request", body = ErrorBody),
        (status = 401, description = "the code is unknown or already used", body = ErrorBody),
        (status = 422, description = "a text holds U+0000", body = ErrorBody)
    )
)]
async fn register(
    State(db): State<Db>,
    body: Bytes,
) -> Result<axum::Json<RegisterResponse>, ApiError> {
    let request: RegisterRequest = read_body(&body, "registration request")?;
    let (store, terminal, token, public_url, claim_key, pepper) = with_db(&db, move |db| {
        let device = crate::db::Device {
            device: request.device.as_deref(),
            store: request.store.as_deref(),
            terminal: request.terminal.as_deref(),
        };
        let crate::db::Registered {
            id: TerminalId { store, terminal },
            token,
        } = db.register(&request.code, &device)?;
        // A retry of a lost answer gets the same key: it is the terminal's newest.
        let claim_key = db.claim_key(&store, &terminal)?;
        let pepper = db.phone_pepper()?;
        Ok((
            store,
            terminal,
            token,
            db.setting(PUBLIC_URL)?,
            claim_key,
            pepper,
        ))
    })
    .await?;
    tracing::info!(store, terminal, "terminal registered");
    Ok(axum::Json(RegisterResponse {
        store,
        terminal,
        token,
        public_url,
        claim_key: claim_key.to_hex(),
        phone_pepper: pepper.to_hex(),
    }))
}

/// The chain's current points rule, which terminals stamp their new sales with.
#[utoipa::path(
    get,
    path = "/api/v1/loyalty",
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "the current rule", body = till_sync::loyalty::LoyaltyRule),
        (status = 401, description = "no token or an unknown token", body = ErrorBody)
    )
)]
async fn loyalty(
    State(db): State<Db>,
    _: Authenticated,
) -> Result<axum::Json<till_sync::loyalty::LoyaltyRule>, ApiError> {
    Ok(axum::Json(
        with_db(&db, |db| db.current_loyalty_rule()).await?,
    ))
}

/// The keys a registered terminal needs offline, and only its own: HQ's public member-code
/// keys (current, then previous), its claim key and the chain's phone pepper.
#[utoipa::path(
    get,
    path = "/api/v1/member-keys",
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "the current key, then the previous one", body = MemberKeysResponse),
        (status = 401, description = "no token or an unknown token", body = ErrorBody)
    )
)]
async fn member_keys(
    State(db): State<Db>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
) -> Result<axum::Json<MemberKeysResponse>, ApiError> {
    let (code_keys, claim_key, pepper) = {
        let (store, terminal) = (store.clone(), terminal.clone());
        with_db(&db, move |db| {
            Ok((
                db.code_keys()?,
                db.claim_key(&store, &terminal)?,
                db.phone_pepper()?,
            ))
        })
        .await?
    };
    tracing::info!(
        store,
        terminal,
        code_keys = code_keys.len(),
        "member keys sent"
    );
    Ok(axum::Json(MemberKeysResponse {
        // Only the public halves: a terminal verifies codes and can make none.
        code_keys: code_keys
            .iter()
            .map(|key| {
                let public = key.public();
                CodeKey {
                    kid: public.kid(),
                    public_key: public.to_hex(),
                }
            })
            .collect(),
        // This terminal's own: it signs claims for its own sales only.
        claim_key: claim_key.to_hex(),
        phone_pepper: pepper.to_hex(),
    }))
}

/// Enrollments per request, at most.
pub const MAX_ENROLLMENTS: usize = 1000;

/// Why an enrollment cannot be filed, checked before anything is written.
fn enrollment_problem(store: &str, terminal: &str, e: &Enrollment) -> Option<(StatusCode, String)> {
    let prefix = format!("P-{store}-{terminal}-");
    let id = &e.provisional_id;
    if !id.starts_with(&prefix) {
        return Some((
            StatusCode::FORBIDDEN,
            format!(
                "terminal {store}/{terminal} may not enroll {id:?}: its provisional IDs start with {prefix}"
            ),
        ));
    }
    let rest = &id[prefix.len()..];
    if rest.is_empty() || rest.len() > 40 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("provisional ID {id:?} is malformed"),
        ));
    }
    let hex = |h: &str| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(&e.phone_hash) {
        return Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{id}: phone_hash must be 64 lower-case hex characters"),
        ));
    }
    let masked_ok = (4..=20).contains(&e.phone_masked.chars().count())
        && e.phone_masked
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '+');
    if !masked_ok {
        return Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{id}: phone_masked {:?} is not a masked number",
                e.phone_masked
            ),
        ));
    }
    if e.consent_version.trim().is_empty() || e.consent_version.len() > 64 {
        return Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{id}: a consent version is required"),
        ));
    }
    if e.consent_at_ms <= 0 || e.enrolled_at_ms <= 0 {
        return Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{id}: consent and enrollment times are required"),
        ));
    }
    None
}

/// Files members enrolled at the till under provisional IDs; answers each one's final ID.
/// Enrollments with a phone hash HQ already knows join that member.
#[utoipa::path(
    post,
    path = "/api/v1/members:enroll",
    request_body = EnrollRequest,
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "each enrollment's final member ID", body = EnrollResponse),
        (status = 400, description = "not JSON or not an enrollment request", body = ErrorBody),
        (status = 401, description = "no token or an unknown token", body = ErrorBody),
        (status = 403, description = "a provisional ID of another store or terminal", body = ErrorBody),
        (status = 422, description = "unsupported version, too many enrollments, or a malformed one", body = ErrorBody),
        (status = 503, description = "HQ is saturated: try again after Retry-After seconds", body = ErrorBody)
    )
)]
async fn enroll(
    State(db): State<Db>,
    State(writes): State<WriteSlots>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
    body: Bytes,
) -> Result<axum::Json<EnrollResponse>, ApiError> {
    let request: EnrollRequest = read_body(&body, "enrollment request")?;
    if request.v != UPLOAD_VERSION {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("enrollment version {} is not supported", request.v),
        ));
    }
    if request.enrollments.len() > MAX_ENROLLMENTS {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("at most {MAX_ENROLLMENTS} enrollments per request"),
        ));
    }
    if let Some((status, reason)) = request
        .enrollments
        .iter()
        .find_map(|e| enrollment_problem(&store, &terminal, e))
    {
        return Err(fail(status, reason));
    }
    let count = request.enrollments.len();
    let store_id = store.clone();
    let slot = writes.take().await?;
    let results = with_db(&db, move |db| {
        let _slot = slot;
        db.enroll(&store_id, &request.enrollments)
    })
    .await?;
    tracing::info!(store, terminal, enrollments = count, "enrollments filed");
    Ok(axum::Json(EnrollResponse { results }))
}

/// A version a terminal sent, which the databases hold as a signed 64-bit integer (the
/// OpenAPI `int64` it is documented as): a larger one is a 400.
fn version(name: &str, v: u64) -> Result<u64, ApiError> {
    if v > i64::MAX as u64 {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{name} must be at most {}", i64::MAX),
        ));
    }
    Ok(v)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct MembersQuery {
    /// The member version the terminal has (0, the default, for none).
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    since: Option<u64>,
}

/// Members changed after version `since`, with provisional IDs mapped meanwhile.
#[utoipa::path(
    get,
    path = "/api/v1/members",
    params(MembersQuery),
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "changed members, oldest change first", body = MemberDelta),
        (status = 400, description = "no or a bad `since`", body = ErrorBody),
        (status = 401, description = "no token or an unknown token", body = ErrorBody)
    )
)]
async fn members(
    State(db): State<Db>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
    query: Result<Query<MembersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<MemberDelta>, ApiError> {
    let Query(query) = query.map_err(|e| fail(StatusCode::BAD_REQUEST, e.body_text()))?;
    let since = version("since", query.since.unwrap_or(0))?;
    let delta = with_db(&db, move |db| db.member_delta(since, MEMBER_PAGE)).await?;
    tracing::info!(
        store,
        terminal,
        members = delta.members.len(),
        version = delta.version,
        "members sent"
    );
    Ok(axum::Json(delta))
}

/// Members per page of a member delta.
pub const MEMBER_PAGE: usize = 5000;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CatalogQuery {
    /// The catalog version the terminal has (0, the default, for none).
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    since: Option<u64>,
    /// The version this pull brings the terminal to, from the first page's answer.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    upto: Option<u64>,
    /// The last SKU of the page before (no control characters).
    #[serde(default)]
    #[param(max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    after: String,
}

/// The published catalog's products changed after version `since`, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/catalog",
    params(CatalogQuery),
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "changed products, by SKU", body = CatalogDelta),
        (status = 400, description = "no or a bad `since`", body = ErrorBody),
        (status = 401, description = "no token or an unknown token", body = ErrorBody)
    )
)]
async fn catalog(
    State(db): State<Db>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
    query: Result<Query<CatalogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<CatalogDelta>, ApiError> {
    let Query(query) = query.map_err(|e| fail(StatusCode::BAD_REQUEST, e.body_text()))?;
    let since = version("since", query.since.unwrap_or(0))?;
    let upto = query.upto.map(|v| version("upto", v)).transpose()?;
    // A SKU never holds a control character; PostgreSQL cannot even compare with a NUL.
    if query.after.chars().any(char::is_control) || query.after.len() > 256 {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("after {:?} is not a SKU", query.after),
        ));
    }
    let delta = with_db(&db, move |db| {
        db.catalog_delta(since, upto, &query.after, crate::catalog::DELTA_PAGE)
    })
    .await?;
    tracing::info!(
        store,
        terminal,
        rows = delta.rows.len(),
        version = delta.version,
        "catalog sent"
    );
    Ok(axum::Json(delta))
}

/// The terminal a request's bearer token belongs to, as a handler's argument: 401 without a
/// valid token (the scheme in any case, RFC 9110 §11.1).
struct Authenticated(TerminalId);

impl<S> axum::extract::FromRequestParts<S> for Authenticated
where
    Db: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_string())
            .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "a bearer token is required"))?;
        let db = <Db as axum::extract::FromRef<S>>::from_ref(state);
        with_db(&db, move |db| db.authenticate(&token))
            .await?
            .map(Authenticated)
            .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "unknown token"))
    }
}

/// Uploads a batch of sales, gzip-compressed. Answers per sale: accepted, duplicate or
/// rejected. Replaying an Idempotency-Key returns the first answer.
#[utoipa::path(
    post,
    path = "/api/v1/sales:batch",
    request_body(content = UploadRequest, description = "gzip with Content-Encoding: gzip"),
    params(("Idempotency-Key" = String, Header, description = "hex SHA-256 of the uncompressed body", min_length = 1, max_length = 128)),
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "one result per sale", body = UploadResponse),
        (status = 400, description = "not JSON, not an upload, or no Idempotency-Key", body = ErrorBody),
        (status = 401, description = "no token or an unknown token", body = ErrorBody),
        (status = 403, description = "sales of another store or terminal", body = ErrorBody),
        (status = 413, description = "body over 8 MiB"),
        (status = 422, description = "unsupported version, figures that do not add up, a broken hash, or a reused key", body = ErrorBody),
        (status = 503, description = "HQ is saturated: try again after Retry-After seconds", body = ErrorBody)
    )
)]
async fn upload(
    State(db): State<Db>,
    State(writes): State<WriteSlots>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "an Idempotency-Key header is required",
            )
        })?
        .to_string();
    // Every check happens before anything is written: a bad batch changes nothing. Reading
    // and checking thousands of sales is CPU work: off the async threads, so a batch never
    // holds up a health check or a customer's page.
    let slot = writes.take().await?;
    let rules = with_db(&db, |db| db.loyalty_rules()).await?;
    let (request, body_hash) = {
        let (store, terminal) = (store.clone(), terminal.clone());
        tokio::task::spawn_blocking(move || upload::checked(&store, &terminal, &body, &rules))
            .await
            .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "HQ worker failed"))??
    };
    let count = request.sales.len();
    tracing::info!(store, terminal, sales = count, "batch received");
    let response = with_db(&db, move |db| {
        let _slot = slot;
        db.ingest(&store, &terminal, &key, &body_hash, &request.sales)
    })
    .await?;
    tracing::info!(sales = count, "batch ingested");
    Ok(axum::Json(response).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request that panics (a bug) answers 500, and every later request is served as
    /// before: no lock over the store is left poisoned.
    #[tokio::test]
    async fn a_request_that_panics_affects_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let db: Db = Arc::new(crate::db::SqliteStore::open(&dir.path().join("hq.db")).unwrap());
        let failed = with_db(&db, |db| -> Result<(), HqError> {
            db.add_store("S001", "")?;
            panic!("a bug, after a write");
        })
        .await;
        assert!(failed.is_err());
        assert!(with_db(&db, |db| db.add_store("S002", "")).await.is_ok());
        assert!(matches!(
            with_db(&db, |db| db.store_exists("S002")).await,
            Ok(true)
        ));
    }
}
