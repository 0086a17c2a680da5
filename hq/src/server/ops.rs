//! An upload of a terminal's operations journal, checked whole before anything is written:
//! a bad batch changes nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use till_sync::api::{MAX_OPS, OpsUploadRequest, OpsUploadResponse, UPLOAD_VERSION, UploadedOp};
use till_sync::ops::{OP_RECORD_VERSION, Op};

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
