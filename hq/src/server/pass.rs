//! The member pass page's handlers: the page (`/m/<token>`) and its fresh codes
//! (`/m/<token>/codes`). The page itself is `crate::pass`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::pass;

use super::{ApiError, Db, with_db};

/// What a pass token leads to: its member and HQ's current member-code key, or the page
/// that says why not.
async fn pass_of(
    db: &Db,
    token: &str,
) -> Result<Result<(String, till_sync::member::CodeSigningKey), Response>, ApiError> {
    let shape =
        (16..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric());
    if !shape {
        return Ok(Err(
            (StatusCode::NOT_FOUND, Html(pass::not_found_page())).into_response()
        ));
    }
    let token = token.to_string();
    let (member, key) = with_db(db, move |db| {
        let now = jiff::Timestamp::now().as_millisecond();
        Ok((db.pass_member(&token)?, db.signing_code_key(now)?))
    })
    .await?;
    Ok(match (member, key) {
        (None, _) => Err((StatusCode::NOT_FOUND, Html(pass::not_found_page())).into_response()),
        (Some(_), None) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            Html(pass::unavailable_page()),
        )
            .into_response()),
        (Some(member), Some(key)) => Ok((member, key)),
    })
}

/// The member pass page: the live member code, the masked phone and the points.
pub(super) async fn pass_page(
    State(db): State<Db>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (member_id, key) = match pass_of(&db, &token).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let id = member_id.clone();
    let (phone, points) = with_db(&db, move |db| {
        let phone = db.member_phone_masked(&id)?.flatten();
        let points: i64 = db.points_ledger(&id)?.iter().map(|(_, p)| p).sum();
        Ok((phone, points))
    })
    .await?;
    let codes = pass::codes(&key, &member_id, jiff::Timestamp::now().as_millisecond());
    Ok(no_store(
        Html(pass::page(phone.as_deref(), points, &codes)).into_response(),
    ))
}

/// The next five minutes of the member's codes, for the page to swap in as they come due.
pub(super) async fn pass_codes(
    State(db): State<Db>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (member_id, key) = match pass_of(&db, &token).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let codes = pass::codes(&key, &member_id, jiff::Timestamp::now().as_millisecond());
    Ok(no_store(axum::Json(codes).into_response()))
}

/// Codes expire: no browser or proxy may serve a stored copy.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
