//! An upload of a terminal's operations journal, checked whole before anything is written:
//! a bad batch changes nothing; and a sale of the store, for a return at another of its
//! terminals.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use till_sync::SaleRecord;
use till_sync::api::{
    MAX_OPS, OpsUploadRequest, OpsUploadResponse, SaleForReturn, UPLOAD_VERSION, UploadedOp,
};
use till_sync::ops::{OP_RECORD_VERSION, Op, OpRecord};

use super::{ApiError, Authenticated, Db, WriteSlots, fail, read_body, with_db};
use crate::db::TerminalId;

/// The largest count or number the databases hold (a signed 64-bit integer).
const MAX_STORED: u64 = i64::MAX as u64;

/// Why one uploaded operation cannot be filed, before anything is written.
fn problem(store: &str, terminal: &str, op: &UploadedOp) -> Option<(StatusCode, String)> {
    let r = &op.record;
    let unprocessable = |m: String| Some((StatusCode::UNPROCESSABLE_ENTITY, m));
    if r.store != store || r.terminal != terminal {
        return Some((
            StatusCode::FORBIDDEN,
            format!(
                "terminal {store}/{terminal} may not write operations of {}/{}",
                r.store, r.terminal
            ),
        ));
    }
    if r.v != OP_RECORD_VERSION {
        return unprocessable(format!("operation record version {} is not supported", r.v));
    }
    if r.seq == 0 || r.seq > MAX_STORED || r.shift.is_some_and(|s| s == 0 || s > MAX_STORED) {
        return unprocessable(format!(
            "operation #{}: sequence and shift numbers run from 1 to {MAX_STORED}",
            r.seq
        ));
    }
    if let Op::ShiftClose(z) = &r.op {
        if r.shift.is_none() {
            return unprocessable(format!("operation #{}: a Z names its shift", r.seq));
        }
        let counts = [
            z.sales_count,
            z.returns_count,
            z.member_sales,
            z.voids,
            z.no_sales,
            z.first_receipt,
            z.last_receipt,
        ];
        if counts.iter().any(|n| *n > MAX_STORED) {
            return unprocessable(format!("operation #{}: a count is out of range", r.seq));
        }
    }
    if let Op::Return(ret) = &r.op {
        let mut seen = Vec::new();
        for line in &ret.lines {
            if line.qty_milli <= 0 || seen.contains(&line.line_no) {
                return unprocessable(format!(
                    "operation #{}: a return takes each line once, and more than nothing of it",
                    r.seq
                ));
            }
            seen.push(line.line_no);
        }
        if ret.lines.is_empty() || ret.sale_seq == 0 || ret.sale_seq > MAX_STORED {
            return unprocessable(format!(
                "operation #{}: a return names a sale and at least one line",
                r.seq
            ));
        }
    }
    if !op.link_is_valid() {
        return unprocessable(format!(
            "operation #{}: hash does not match the record",
            r.seq
        ));
    }
    None
}

/// Files a terminal's operations journal: shift openings, Z reports, paid in and out, no-sale
/// openings and audit events, each once per (terminal, seq).
#[utoipa::path(
    post,
    path = "/api/v1/ops:batch",
    request_body = OpsUploadRequest,
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "one result per operation", body = OpsUploadResponse),
        (status = 400, description = "not JSON or not an operations upload", body = till_sync::api::ErrorBody),
        (status = 401, description = "no token or an unknown token", body = till_sync::api::ErrorBody),
        (status = 403, description = "operations of another store or terminal", body = till_sync::api::ErrorBody),
        (status = 413, description = "body over 8 MiB"),
        (status = 422, description = "unsupported version, too many operations, a number out of range, or a broken hash", body = till_sync::api::ErrorBody),
        (status = 503, description = "HQ is saturated: try again after Retry-After seconds", body = till_sync::api::ErrorBody)
    )
)]
pub(super) async fn upload_ops(
    State(db): State<Db>,
    State(writes): State<WriteSlots>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
    body: Bytes,
) -> Result<axum::Json<OpsUploadResponse>, ApiError> {
    let request: OpsUploadRequest = read_body(&body, "operations upload")?;
    if request.v != UPLOAD_VERSION {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("upload version {} is not supported", request.v),
        ));
    }
    if request.ops.len() > MAX_OPS {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("at most {MAX_OPS} operations per upload"),
        ));
    }
    if let Some((status, reason)) = request
        .ops
        .iter()
        .find_map(|op| problem(&store, &terminal, op))
    {
        return Err(fail(status, reason));
    }
    let count = request.ops.len();
    let slot = writes.take().await?;
    let (store_id, terminal_id) = (store.clone(), terminal.clone());
    let response = with_db(&db, move |db| {
        let _slot = slot;
        db.ingest_ops(&store_id, &terminal_id, &request.ops)
    })
    .await?;
    tracing::info!(store, terminal, ops = count, "operations filed");
    Ok(axum::Json(response))
}

/// A sale's store, terminal and receipt number, as a receipt code names them.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct SalePath {
    /// The sale's store (its receipt code's second part).
    store: String,
    /// The terminal that made the sale.
    terminal: String,
    /// Its receipt number on that terminal.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    seq: u64,
}

/// A sale of the asking terminal's own store, for a return there: the sale as its till
/// recorded it, and the return operations filed against it from every terminal. Another
/// store's sale is refused; a sale HQ does not hold (not synced yet) is not found.
#[utoipa::path(
    get,
    path = "/api/v1/sales/{store}/{terminal}/{seq}",
    params(SalePath),
    security(("terminal_token" = [])),
    responses(
        (status = 200, description = "the sale and the returns filed against it", body = SaleForReturn),
        (status = 400, description = "the receipt number is not a number", body = till_sync::api::ErrorBody),
        (status = 401, description = "no token or an unknown token", body = till_sync::api::ErrorBody),
        (status = 403, description = "a sale of another store", body = till_sync::api::ErrorBody),
        (status = 404, description = "HQ holds no such sale", body = till_sync::api::ErrorBody),
        (status = 503, description = "HQ is saturated: try again after Retry-After seconds", body = till_sync::api::ErrorBody)
    )
)]
pub(super) async fn sale_for_return(
    State(db): State<Db>,
    Authenticated(TerminalId { store, terminal }): Authenticated,
    path: Result<Path<SalePath>, PathRejection>,
) -> Result<axum::Json<SaleForReturn>, ApiError> {
    let Path(wanted) = path.map_err(|e| fail(StatusCode::BAD_REQUEST, e.body_text()))?;
    let named = format!("{}/{} #{}", wanted.store, wanted.terminal, wanted.seq);
    if wanted.store != store {
        return Err(fail(
            StatusCode::FORBIDDEN,
            format!(
                "terminal {store}/{terminal} takes returns of its own store's sales, not {named}"
            ),
        ));
    }
    // No terminal has an ID outside the site-ID rule, nor a receipt number past the
    // databases' integers: such a sale is simply not held (and reaches no database).
    let held = till_domain::scan::is_valid_site_id(&wanted.terminal) && wanted.seq <= MAX_STORED;
    let found = if !held {
        None
    } else {
        let wanted = (wanted.store.clone(), wanted.terminal.clone(), wanted.seq);
        with_db(&db, move |db| {
            db.sale_for_return(&wanted.0, &wanted.1, wanted.2)
        })
        .await?
    };
    let Some(found) = found else {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("HQ holds no sale {named}: it may not have synced yet"),
        ));
    };
    let corrupt = |what: &str, e: serde_json::Error| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("HQ's copy of {what} cannot be read: {e}"),
        )
    };
    let sale = SaleRecord::from_canonical_bytes(found.record.as_bytes())
        .map_err(|e| corrupt(&named, e))?;
    let returns = found
        .returns
        .iter()
        .map(|body| OpRecord::from_canonical_bytes(body.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(&format!("a return of {named}"), e))?;
    tracing::info!(
        store,
        terminal,
        sale = named,
        returns = returns.len(),
        "sale sent for a return"
    );
    Ok(axum::Json(SaleForReturn { sale, returns }))
}
