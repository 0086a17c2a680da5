//! The customers' pages HQ serves: claiming an anonymous sale from its receipt's QR code, and
//! joining as a member from the customer display's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use till_sync::member::{ClaimKey, Phone, claim_subject, verify_claim};

use crate::claims::{self, Claim, ClaimOutcome};

use super::{ApiError, Db, with_db};

/// The sale a claim token names, if its signature verifies with one of that terminal's claim
/// keys, or, for a receipt printed under version 1, with one of the chain's member keys and
/// the sale is one version 1 could have printed ([`crate::db::HqStore::version_1_claimable`]).
async fn claimed_sale(db: &Db, token: &str) -> Result<Option<(String, String, u64)>, ApiError> {
    let shape = token.len() <= 100
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let Some((store, terminal, _)) = claim_subject(token).filter(|_| shape) else {
        return Ok(None);
    };
    let token = token.to_string();
    with_db(db, move |db| {
        let own = db.claim_keys(&store, &terminal)?;
        if let Some(sale) = verify_claim(&own, &token) {
            return Ok(Some(sale));
        }
        let v1: Vec<ClaimKey> = db
            .all_member_keys()?
            .into_iter()
            .map(ClaimKey::from)
            .collect();
        match verify_claim(&v1, &token) {
            Some(sale) if db.version_1_claimable(&sale.0, &sale.1, sale.2)? => Ok(Some(sale)),
            _ => Ok(None),
        }
    })
    .await
}

/// A phone's hash under the chain's pepper, and its version-1 hashes under every key HQ ever
/// held, which find a member enrolled before version 2. Argon2id is slow by design, so it
/// runs on the blocking pool, not on the request's thread, and not under the database.
async fn phone_hashes(db: &Db, phone: &Phone) -> Result<(String, Vec<String>), ApiError> {
    let (pepper, v1) = with_db(db, |db| Ok((db.phone_pepper()?, db.all_member_keys()?))).await?;
    let phone = phone.clone();
    tokio::task::spawn_blocking(move || {
        let legacy = v1.iter().map(|key| phone.legacy_hash(key)).collect();
        (phone.hash(&pepper), legacy)
    })
    .await
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("phone hash: {e}"),
        )
    })
}

fn html(status: StatusCode, body: String) -> Response {
    (status, axum::response::Html(body)).into_response()
}

/// The claim page a receipt's QR code opens: phone number and consent.
pub(super) async fn claim_form(
    State(db): State<Db>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let Some((store, terminal, seq)) = claimed_sale(&db, &token).await? else {
        return Ok(html(StatusCode::NOT_FOUND, claims::invalid_page()));
    };
    if with_db(&db, move |db| db.claimed(&store, &terminal, seq)).await? {
        return Ok(html(StatusCode::OK, claims::already_claimed_page()));
    }
    Ok(html(StatusCode::OK, claims::form_page(&token, None)))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct ClaimForm {
    #[serde(default)]
    phone: String,
    consent: Option<String>,
}

/// A claim: the phone's member (new if need be) gets the sale now, or when it arrives.
pub(super) async fn claim_submit(
    State(db): State<Db>,
    axum::extract::Path(token): axum::extract::Path<String>,
    form: Result<axum::Form<ClaimForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Some((store, terminal, seq)) = claimed_sale(&db, &token).await? else {
        return Ok(html(StatusCode::NOT_FOUND, claims::invalid_page()));
    };
    let phone = match phone_and_consent(form, |e| claims::form_page(&token, e)) {
        Ok(phone) => phone,
        Err(page) => return Ok(*page),
    };
    let (phone_hash, legacy_hashes) = phone_hashes(&db, &phone).await?;
    let claim = Claim {
        store,
        terminal,
        seq,
        phone_hash,
        legacy_hashes,
        phone_masked: phone.masked(),
        consent_version: claims::CONSENT_VERSION.to_string(),
        at_ms: jiff::Timestamp::now().as_millisecond(),
    };
    let masked = claim.phone_masked.clone();
    let outcome = with_db(&db, move |db| db.claim(&claim)).await?;
    tracing::info!(?outcome, "claim");
    let status = match outcome {
        ClaimOutcome::AlreadyClaimed | ClaimOutcome::MemberSale => StatusCode::CONFLICT,
        ClaimOutcome::Attributed { .. } | ClaimOutcome::Waiting { .. } => StatusCode::OK,
    };
    Ok(html(status, claims::outcome_page(&outcome, &masked)))
}

/// Reads the phone form: the number and the consent, or the page to show again and why.
fn phone_and_consent(
    form: Result<axum::Form<ClaimForm>, axum::extract::rejection::FormRejection>,
    again: impl Fn(Option<(&str, &str)>) -> String,
) -> Result<Phone, Box<Response>> {
    let retry = |zh: &str, en: &str| {
        Box::new(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            again(Some((zh, en))),
        ))
    };
    let Ok(axum::Form(form)) = form else {
        return Err(retry("请填写手机号。", "Please enter your mobile number."));
    };
    let Ok(phone) = Phone::parse(&form.phone) else {
        return Err(retry(
            "手机号应为 11 位数字，以 1 开头。",
            "A mobile number is 11 digits starting with 1.",
        ));
    };
    if form.consent.as_deref() != Some("yes") {
        return Err(retry(
            "请勾选同意后再提交。",
            "Please tick the consent box first.",
        ));
    }
    Ok(phone)
}

fn store_id_shape(store: &str) -> bool {
    (1..=16).contains(&store.len()) && store.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The join page behind the customer display's QR code.
pub(super) async fn join_form(axum::extract::Path(store): axum::extract::Path<String>) -> Response {
    if !store_id_shape(&store) {
        return html(StatusCode::NOT_FOUND, claims::invalid_page());
    }
    html(StatusCode::OK, claims::join_page(&store, None))
}

/// Joining: the phone's member, created if new, whom every till finds by phone after its
/// next sync.
pub(super) async fn join_submit(
    State(db): State<Db>,
    axum::extract::Path(store): axum::extract::Path<String>,
    form: Result<axum::Form<ClaimForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    if !store_id_shape(&store) {
        return Ok(html(StatusCode::NOT_FOUND, claims::invalid_page()));
    }
    let phone = match phone_and_consent(form, |e| claims::join_page(&store, e)) {
        Ok(phone) => phone,
        Err(page) => return Ok(*page),
    };
    let masked = phone.masked();
    let (hash, legacy) = phone_hashes(&db, &phone).await?;
    let now = jiff::Timestamp::now().as_millisecond();
    let (member_id, already) = with_db(&db, move |db| {
        db.join(&crate::db::NewMember {
            phone_hash: &hash,
            legacy_hashes: &legacy,
            phone_masked: &masked,
            consent_version: claims::CONSENT_VERSION,
            consent_at_ms: now,
            store: &store,
            enrolled_at_ms: now,
        })
    })
    .await?;
    tracing::info!(member_id, already, "joined");
    Ok(html(StatusCode::OK, claims::joined_page(&phone.masked())))
}
