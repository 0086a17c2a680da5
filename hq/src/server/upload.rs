//! An upload of sales, checked whole before anything is written: a bad batch changes nothing.

use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use till_sync::api::{UPLOAD_VERSION, UploadRequest};

use super::{ApiError, fail, read_body};

/// An upload's body, read and checked whole for `store`/`terminal`, and its SHA-256 (hex).
/// Errors: not an upload (400), sales of another terminal (403), an unsupported version,
/// figures that do not add up, a broken hash or points not by `rules` (422).
pub(super) fn checked(
    store: &str,
    terminal: &str,
    body: &[u8],
    rules: &[till_sync::loyalty::LoyaltyRule],
) -> Result<(UploadRequest, String), ApiError> {
    let request: UploadRequest = read_body(body, "upload")?;
    if request.v != UPLOAD_VERSION {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("upload version {} is not supported", request.v),
        ));
    }
    for sale in &request.sales {
        let r = &sale.record;
        if r.store != store || r.terminal != terminal {
            return Err(fail(
                StatusCode::FORBIDDEN,
                format!(
                    "terminal {store}/{terminal} may not write sales of {}/{}",
                    r.store, r.terminal
                ),
            ));
        }
        r.check_consistency().map_err(|e| {
            fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("sale #{}: {e}", r.seq),
            )
        })?;
        if !sale.link_is_valid() {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("sale #{}: hash does not match the record", r.seq),
            ));
        }
        till_sync::loyalty::check(r, |v| rules.iter().find(|rule| rule.version == v).copied())
            .map_err(|e| {
                fail(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("sale #{}: {e}", r.seq),
                )
            })?;
    }
    Ok((request, hex::encode(Sha256::digest(body))))
}
