//! The customers' pages HQ serves: claiming an anonymous sale from its receipt's QR code, and
//! joining as a member from the customer display's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use till_sync::member::{ClaimKey, Phone, claim_subject, verify_claim};

use crate::claims::{self, Claim, ClaimOutcome};

use std::sync::Arc;

use axum::extract::ConnectInfo;
use sha2::{Digest, Sha256};

use crate::db::SmsCodeCheck;

use super::limits::PeerAddr;
use super::{ApiError, Db, PageState, with_db};

/// The sale a claim token names, if its signature verifies with one of that terminal's claim
/// keys (an older key only for a sale it could have signed), or, for a receipt printed under
/// version 1, with one of the chain's member keys ([`crate::db::HqStore::sale_made_before`]).
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
        // The terminal's keys, newest first: the newest claims any of its sales; an older one
        // only a sale HQ has, made before the key that replaced it (a reissued terminal's
        // thief claims nothing new).
        let own = db.claim_keys(&store, &terminal)?;
        for (i, (key, _)) in own.iter().enumerate() {
            let Some(sale) = verify_claim(std::slice::from_ref(key), &token) else {
                continue;
            };
            if i == 0 {
                return Ok(Some(sale));
            }
            let replaced_ms = own[i - 1].1;
            let ok = db.sale_made_before(&sale.0, &sale.1, sale.2, Some(replaced_ms))?;
            return Ok(ok.then_some(sale));
        }
        // Version 1: the chain's key, for sales made before the terminal had its own.
        let v1: Vec<ClaimKey> = db
            .all_member_keys()?
            .into_iter()
            .map(ClaimKey::from)
            .collect();
        let Some(sale) = verify_claim(&v1, &token) else {
            return Ok(None);
        };
        let first_own = own.last().map(|(_, made)| *made);
        let ok = db.sale_made_before(&sale.0, &sale.1, sale.2, first_own)?;
        Ok(ok.then_some(sale))
    })
    .await
}

/// A phone's hash under the chain's pepper, and its version-1 hashes under every key HQ ever
/// held, which find a member enrolled before version 2. Argon2id is slow by design, so it
/// runs on the blocking pool, not on the request's thread, and not under the database.
async fn phone_hashes(
    db: &Db,
    pages: &PageState,
    phone: &Phone,
) -> Result<(String, Vec<String>), ApiError> {
    // A few at a time: each takes 19 MiB, and a flood must not take the node's memory.
    let _permit = pages.hashing.acquire().await.map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("phone hash: {e}"),
        )
    })?;
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
    /// The one-time code from the SMS, on the form's second step.
    code: Option<String>,
}

/// A claim: once the phone is proven by its SMS code, the phone's member (new if need be)
/// gets the sale now, or when it arrives.
pub(super) async fn claim_submit(
    State(db): State<Db>,
    State(pages): State<Arc<PageState>>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    axum::extract::Path(token): axum::extract::Path<String>,
    form: Result<axum::Form<ClaimForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    if let Err(wait) = pages.limits.address(peer.0.ip()) {
        return Ok(too_many(wait));
    }
    let Some((store, terminal, seq)) = claimed_sale(&db, &token).await? else {
        return Ok(html(StatusCode::NOT_FOUND, claims::invalid_page()));
    };
    // A claimed receipt needs no code: say so before texting one.
    let (st, te) = (store.clone(), terminal.clone());
    if with_db(&db, move |db| db.claimed(&st, &te, seq)).await? {
        return Ok(html(StatusCode::CONFLICT, claims::already_claimed_page()));
    }
    let code = code_of(&form);
    let phone = match phone_and_consent(form, |e| claims::form_page(&token, e)) {
        Ok(phone) => phone,
        Err(page) => return Ok(*page),
    };
    let (phone_hash, legacy_hashes) = phone_hashes(&db, &pages, &phone).await?;
    let proof = Proof {
        phone: &phone,
        phone_hash: &phone_hash,
        purpose: format!("claim:{store}-{terminal}-{seq}"),
        store: &store,
        action: format!("/c/{token}"),
    };
    if let Some(page) = proof.check(&db, &pages, code).await? {
        return Ok(page);
    }
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
    let (outcome, pass) = with_db(&db, move |db| {
        let outcome = db.claim(&claim)?;
        // The phone is proven: its member gets a pass to their member code.
        let pass = match &outcome {
            ClaimOutcome::Attributed { member_id, .. } | ClaimOutcome::Waiting { member_id } => {
                Some(db.new_pass(member_id)?)
            }
            ClaimOutcome::AlreadyClaimed | ClaimOutcome::MemberSale => None,
        };
        Ok((outcome, pass))
    })
    .await?;
    tracing::info!(?outcome, "claim");
    let status = match outcome {
        ClaimOutcome::AlreadyClaimed | ClaimOutcome::MemberSale => StatusCode::CONFLICT,
        ClaimOutcome::Attributed { .. } | ClaimOutcome::Waiting { .. } => StatusCode::OK,
    };
    Ok(html(
        status,
        claims::outcome_page(&outcome, &masked, pass.as_deref()),
    ))
}

/// A one-time code lives this long.
const CODE_TTL_MS: i64 = 5 * 60 * 1000;

/// The code typed on the form, if any.
fn code_of(
    form: &Result<axum::Form<ClaimForm>, axum::extract::rejection::FormRejection>,
) -> Option<String> {
    form.as_ref()
        .ok()
        .and_then(|f| f.code.as_deref())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// 429 with `Retry-After` (whole seconds, rounded up) and a page that says how long to wait.
fn too_many(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = html(
        StatusCode::TOO_MANY_REQUESTS,
        claims::too_many_page(secs.max(1)),
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs.max(1)),
    );
    response
}

/// Proving a phone with a one-time code sent by SMS, for one purpose (joining at a store,
/// claiming a sale): the form's first step sends the code, the second checks it.
struct Proof<'a> {
    phone: &'a Phone,
    phone_hash: &'a str,
    purpose: String,
    store: &'a str,
    action: String,
}

impl Proof<'_> {
    /// The code's SHA-256, bound to its purpose so a code for one page proves nothing on
    /// another.
    fn code_hash(&self, code: &str) -> String {
        hex::encode(Sha256::digest(format!("{}:{code}", self.purpose)))
    }

    /// None when `code` proves the phone; otherwise the page to show: the code step (a code
    /// just sent, or why the typed one was refused), or 429 when the phone or store has asked
    /// for too many codes.
    async fn check(
        &self,
        db: &Db,
        pages: &PageState,
        code: Option<String>,
    ) -> Result<Option<Response>, ApiError> {
        let masked = self.phone.masked();
        let page = |status: StatusCode, error: Option<(&str, &str)>| {
            Some(html(
                status,
                claims::code_page(&self.action, self.phone.e164(), &masked, error),
            ))
        };
        let now = jiff::Timestamp::now().as_millisecond();
        let Some(code) = code else {
            if let Err(wait) = pages.limits.code(self.phone_hash, self.store) {
                return Ok(Some(too_many(wait)));
            }
            let code = format!("{:06}", rand::random_range(0..1_000_000u32));
            let (hash, purpose, code_hash) = (
                self.phone_hash.to_string(),
                self.purpose.clone(),
                self.code_hash(&code),
            );
            with_db(db, move |db| {
                db.put_sms_code(&hash, &purpose, &code_hash, now, now + CODE_TTL_MS)
            })
            .await?;
            let text = format!(
                "【会员】验证码 {code}，5 分钟内有效，请勿告诉他人。Your code is {code}, valid for 5 minutes."
            );
            let (sms, phone) = (pages.sms.clone(), self.phone.clone());
            let sent = tokio::task::spawn_blocking(move || sms.send(&phone, &text))
                .await
                .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("sms: {e}")))?;
            if let Err(error) = sent {
                tracing::warn!("one-time code not sent: {error}");
                return Ok(Some(html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    claims::sms_failed_page(),
                )));
            }
            return Ok(page(StatusCode::OK, None));
        };
        let (hash, purpose, code_hash) = (
            self.phone_hash.to_string(),
            self.purpose.clone(),
            self.code_hash(&code),
        );
        let check = with_db(db, move |db| {
            db.check_sms_code(&hash, &purpose, &code_hash, now)
        })
        .await?;
        let refused = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(match check {
            SmsCodeCheck::Right => None,
            SmsCodeCheck::Wrong { tries_left: 0 } => page(
                refused,
                Some((
                    "验证码错误次数过多，请重新获取。",
                    "Too many wrong codes: ask for a new one.",
                )),
            ),
            SmsCodeCheck::Wrong { tries_left } => page(
                refused,
                Some((
                    &format!("验证码不正确，还可尝试 {tries_left} 次。"),
                    &format!("That is not the code: {tries_left} tries left."),
                )),
            ),
            SmsCodeCheck::Expired => page(
                refused,
                Some((
                    "验证码已过期，请重新获取。",
                    "The code has expired: ask for a new one.",
                )),
            ),
            SmsCodeCheck::Used => page(
                refused,
                Some((
                    "验证码已使用过，请重新获取。",
                    "That code was used already: ask for a new one.",
                )),
            ),
            SmsCodeCheck::NoCode => {
                page(refused, Some(("请先获取验证码。", "Ask for a code first.")))
            }
        })
    }
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

/// The join page behind the customer display's QR code: 404 for a store the chain does not
/// have (IDs are exact: `s001` is not `S001`).
pub(super) async fn join_form(
    State(db): State<Db>,
    axum::extract::Path(store): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    if !known_store(&db, &store).await? {
        return Ok(html(StatusCode::NOT_FOUND, claims::unknown_store_page()));
    }
    Ok(html(StatusCode::OK, claims::join_page(&store, None)))
}

async fn known_store(db: &Db, store: &str) -> Result<bool, ApiError> {
    if !store_id_shape(store) {
        return Ok(false);
    }
    let store = store.to_string();
    with_db(db, move |db| db.store_exists(&store)).await
}

/// Joining: once the phone is proven by its SMS code, the phone's member, created if new,
/// whom every till finds by phone after its next sync.
pub(super) async fn join_submit(
    State(db): State<Db>,
    State(pages): State<Arc<PageState>>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    axum::extract::Path(store): axum::extract::Path<String>,
    form: Result<axum::Form<ClaimForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    if let Err(wait) = pages.limits.address(peer.0.ip()) {
        return Ok(too_many(wait));
    }
    if !known_store(&db, &store).await? {
        return Ok(html(StatusCode::NOT_FOUND, claims::unknown_store_page()));
    }
    let code = code_of(&form);
    let phone = match phone_and_consent(form, |e| claims::join_page(&store, e)) {
        Ok(phone) => phone,
        Err(page) => return Ok(*page),
    };
    let (hash, legacy) = phone_hashes(&db, &pages, &phone).await?;
    let proof = Proof {
        phone: &phone,
        phone_hash: &hash,
        purpose: format!("join:{store}"),
        store: &store,
        action: format!("/join/{store}"),
    };
    if let Some(page) = proof.check(&db, &pages, code).await? {
        return Ok(page);
    }
    let masked = phone.masked();
    let now = jiff::Timestamp::now().as_millisecond();
    let (joined, pass) = with_db(&db, move |db| {
        let joined = db.join(&crate::db::NewMember {
            phone_hash: &hash,
            legacy_hashes: &legacy,
            phone_masked: &masked,
            consent_version: claims::CONSENT_VERSION,
            consent_at_ms: now,
            store: &store,
            enrolled_at_ms: now,
        })?;
        let pass = db.new_pass(&joined.member_id)?;
        Ok((joined, pass))
    })
    .await?;
    tracing::info!(
        member_id = joined.member_id,
        already = joined.existed,
        "joined"
    );
    Ok(html(
        StatusCode::OK,
        claims::joined_page(&phone.masked(), &pass),
    ))
}
