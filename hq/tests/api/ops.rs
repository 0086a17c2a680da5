//! The operations journal: shift openings, Z reports, cash movements and audit events, filed
//! once per (terminal, seq) whatever the retries, a second Z for one shift refused, and the
//! Z reports listed with their cash differences.

use till_domain::shift::{MovementKind, SaleHeader, ShiftTally};
use till_domain::ticket::TenderKind;
use till_sync::api::{OPS_PATH, SaleStatus, UploadedOp};
use till_sync::chain_hash;
use till_sync::ops::{CashMovement, Op, OpRecord, ShiftOpen, ZReport};

use super::{App, till_hq};

/// A terminal's operations, chained from genesis: shift `shift` opened with ¥500, a paid out,
/// and its Z (one cash sale of ¥12.50, ¥2.50 short), for `store`/`terminal`.
pub(crate) fn shift_ops(store: &str, terminal: &str, shift: u64) -> Vec<UploadedOp> {
    let mut tally = ShiftTally::new(50_000);
    tally.add_sale(&SaleHeader {
        seq: 1,
        subtotal: 1_250,
        discount: 0,
        total: 1_250,
        rounding: 0,
        change: 750,
        member: true,
    });
    tally.add_sale_payment(TenderKind::Cash, 2_000);
    tally.add_movement(MovementKind::PaidOut, 1_000);
    let report = tally.report(Some(50_000));
    let ops = [
        Op::ShiftOpen(ShiftOpen {
            float: 50_000,
            counts: Vec::new(),
            first_receipt: 1,
        }),
        Op::PaidOut(CashMovement {
            amount: 1_000,
            reason: "供应商付款 supplier".into(),
        }),
        Op::ShiftClose(ZReport::new(
            &report,
            1_764_550_000_000,
            "m1",
            &[(10000, 5)],
        )),
    ];
    chained(
        store,
        terminal,
        Some(shift),
        till_sync::GENESIS_HASH,
        1,
        ops.into(),
    )
}

/// `ops` as a terminal's operations `first`, `first + 1`, … linked after `prev`, in `shift`.
pub(crate) fn chained(
    store: &str,
    terminal: &str,
    shift: Option<u64>,
    mut prev: [u8; 32],
    first: u64,
    ops: Vec<Op>,
) -> Vec<UploadedOp> {
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| {
            let seq = first + i as u64;
            let record = OpRecord {
                v: 1,
                op_id: format!("0193a000-0000-7000-8000-{seq:012}"),
                store: store.into(),
                terminal: terminal.into(),
                seq,
                at_ms: 1_764_550_000_000 + (seq as i64 - 1) * 60_000,
                utc_offset_s: 28_800,
                staff: "m1".into(),
                approver: None,
                shift,
                op,
            };
            let hash = chain_hash(&prev, &record.canonical_bytes());
            let uploaded = UploadedOp {
                record,
                prev_hash: hex::encode(prev),
                hash: hex::encode(hash),
            };
            prev = hash;
            uploaded
        })
        .collect()
}

fn statuses(response: &till_sync::api::OpsUploadResponse) -> Vec<SaleStatus> {
    response.results.iter().map(|r| r.status).collect()
}

pub(crate) fn operations_are_filed_once_and_z_reports_listed(app: App) {
    use SaleStatus::{Accepted, Duplicate, Rejected};
    let client = app.client(0);
    let ops = shift_ops("S001", "T01", 1);
    assert_eq!(statuses(&client.upload_ops(&ops).unwrap()), [Accepted; 3]);
    // A lost answer, retried; then the same and one more.
    assert_eq!(statuses(&client.upload_ops(&ops).unwrap()), [Duplicate; 3]);
    let rows = app.db().z_reports(None, 10).unwrap();
    assert_eq!(rows.len(), 1);
    let z = &rows[0];
    assert_eq!(
        (z.store.as_str(), z.terminal.as_str(), z.z_no, z.sales_count),
        ("S001", "T01", 1, 1)
    );
    assert_eq!(
        (z.expected_cash, z.counted_cash, z.difference),
        (50_250, 50_000, -250)
    );

    // Another record under a filed sequence number, and a second Z for shift 1 under a new
    // one, are refused and change nothing.
    let mut forged = shift_ops("S001", "T01", 1);
    let mut second_z = forged.pop().unwrap();
    second_z.record.seq = 4;
    second_z.record.op_id = "0193a000-0000-7000-8000-000000000099".into();
    let prev: [u8; 32] = hex::decode(&ops[2].hash).unwrap().try_into().unwrap();
    second_z.prev_hash = ops[2].hash.clone();
    second_z.hash = hex::encode(chain_hash(&prev, &second_z.record.canonical_bytes()));
    let mut other = forged.pop().unwrap();
    if let Op::PaidOut(m) = &mut other.record.op {
        m.amount = 99_900;
    }
    let prev: [u8; 32] = hex::decode(&other.prev_hash).unwrap().try_into().unwrap();
    other.hash = hex::encode(chain_hash(&prev, &other.record.canonical_bytes()));
    let answer = client.upload_ops(&[other, second_z]).unwrap();
    assert_eq!(statuses(&answer), [Rejected, Rejected]);
    assert!(
        answer.results[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("operation #2 of this terminal is already filed with another record"),
        "{answer:?}"
    );
    assert!(
        answer.results[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("Z 1 of this terminal is already filed (operation #3)"),
        "{answer:?}"
    );
    assert_eq!(app.db().z_reports(None, 10).unwrap().len(), 1);

    // Each terminal numbers its own shifts: S002/T01's Z 1 is its own.
    let other_store = app.client(2);
    let theirs = shift_ops("S002", "T01", 1);
    assert_eq!(
        statuses(&other_store.upload_ops(&theirs).unwrap()),
        [Accepted; 3]
    );
    assert_eq!(app.db().z_reports(None, 10).unwrap().len(), 2);
    assert_eq!(app.db().z_reports(Some("S002"), 10).unwrap().len(), 1);
}

pub(crate) fn bad_operation_uploads_get_a_reason_and_file_nothing(app: App) {
    let token = app.token(0);
    let post = |body: String| {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{OPS_PATH}", app.server.url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let body = |ops: &[UploadedOp]| {
        serde_json::to_string(&till_sync::api::OpsUploadRequest {
            v: 1,
            ops: ops.to_vec(),
        })
        .unwrap()
    };
    let good = shift_ops("S001", "T01", 1);
    let mut edited = good.clone();
    if let Op::ShiftClose(z) = &mut edited[2].record.op {
        z.counted_cash += 10_000;
    }
    let mut huge = good.clone();
    huge[0].record.seq = u64::MAX;
    let check = |body: String, status: u16, message: &str| {
        let (got, text) = post(body);
        assert_eq!(got, status, "{text}");
        assert!(text.contains(message), "{message:?} missing from {text}");
    };
    check(
        body(&shift_ops("S002", "T01", 1)),
        403,
        "may not write operations of S002/T01",
    );
    check(
        body(&edited),
        422,
        "operation #3: hash does not match the record",
    );
    check(body(&huge), 422, "sequence and shift numbers run from 1 to");
    check(
        body(&good).replace("\"v\":1,\"ops\"", "\"v\":2,\"ops\""),
        422,
        "upload version 2",
    );
    check("{\"v\":1}".into(), 400, "bad operations upload");
    check("not json".into(), 400, "bad operations upload");
    assert!(app.db().z_reports(None, 10).unwrap().is_empty());
    let (status, _) = {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{OPS_PATH}", app.server.url()))
            .header("content-type", "application/json")
            .body(body(&good))
            .send()
            .unwrap();
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 401, "no token");
    let db = match &app.pg {
        Some(pg) => pg.url(),
        None => format!("sqlite:{}", app.dir.path().join("hq.db").display()),
    };
    let (ok, out) = till_hq(&["--db", &db, "z-reports"]);
    assert!(ok && out.contains("no Z reports yet"), "{out}");
    let client = app.client(1);
    client.upload_ops(&shift_ops("S001", "T02", 1)).unwrap();
    let (ok, out) = till_hq(&["--db", &db, "z-reports", "--store", "S001"]);
    assert!(ok, "{out}");
    for expected in [
        "S001/T02 Z 1    closed 2025-12-01 08:48 by m1",
        "expected       502.50",
        "counted       500.00",
        "difference      -2.50",
        "store S001: 1 Z report, cash difference -2.50",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from\n{out}");
    }
}

/// A return of `qty_milli` of line 1 of `sale`.
fn return_of(sale: &till_sync::SaleRecord, qty_milli: i64) -> Op {
    use till_sync::ops::{RefundTender, Return, ReturnLine};
    let amount = sale.lines[0].total * qty_milli / sale.lines[0].qty_milli;
    Op::Return(Return {
        sale_store: sale.store.clone(),
        sale_terminal: sale.terminal.clone(),
        sale_seq: sale.seq,
        sale_id: sale.sale_id.clone(),
        member_id: None,
        lines: vec![ReturnLine {
            line_no: 1,
            sku: sale.lines[0].sku.clone(),
            name: sale.lines[0].name_zh.clone(),
            qty_milli,
            amount,
            tax: 0,
            tax_rate_bp: sale.lines[0].tax_rate_bp,
        }],
        refund: amount,
        tenders: vec![RefundTender {
            kind: "cash".into(),
            amount,
            reference: None,
        }],
        points: 0,
        reason: String::new(),
    })
}

/// PRODUCT.md, "Returns": HQ refuses at ingest a return that takes more than was sold, across
/// the store's terminals: T01 sold two, T01 takes one back, T02 (which looked the sale up at
/// HQ) may take the other but not two.
pub(crate) fn returns_are_filed_only_for_what_is_left_across_terminals(app: App) {
    use SaleStatus::{Accepted, Rejected};
    let sales = till_hq::testing::journal("S001", "T01", 1);
    let sale = sales[0].record.clone();
    assert_eq!(sale.lines[0].qty_milli, 2000, "the journal sells two");
    let t01_client = app.client(0);
    t01_client.upload(&sales).unwrap();
    let genesis = till_sync::GENESIS_HASH;
    let t01 = chained(
        "S001",
        "T01",
        Some(1),
        genesis,
        1,
        vec![return_of(&sale, 1000)],
    );
    assert_eq!(statuses(&t01_client.upload_ops(&t01).unwrap()), [Accepted]);
    let t02 = app.client(1);
    let too_much = chained(
        "S001",
        "T02",
        Some(1),
        genesis,
        1,
        vec![return_of(&sale, 2000)],
    );
    let answer = t02.upload_ops(&too_much).unwrap();
    assert_eq!(statuses(&answer), [Rejected]);
    let reason = answer.results[0].reason.clone().unwrap();
    assert!(
        reason.contains("line 1 of sale S001/T01 #1: only 1 left to return"),
        "{reason}"
    );
    let mut unknown = sale.clone();
    unknown.sale_id = "01a20404-bc68-727e-9316-999999999999".into();
    let ghost = chained(
        "S001",
        "T02",
        Some(1),
        genesis,
        1,
        vec![return_of(&unknown, 1000)],
    );
    let answer = t02.upload_ops(&ghost).unwrap();
    assert!(
        answer.results[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("is not at HQ"),
        "{answer:?}"
    );
    let rest = chained(
        "S001",
        "T02",
        Some(1),
        genesis,
        1,
        vec![return_of(&sale, 1000)],
    );
    assert_eq!(statuses(&t02.upload_ops(&rest).unwrap()), [Accepted]);
    // Nothing is left for T01 now.
    let again = chained(
        "S001",
        "T01",
        Some(1),
        hex::decode(&t01[0].hash).unwrap().try_into().unwrap(),
        2,
        vec![return_of(&sale, 1000)],
    );
    assert_eq!(
        statuses(&t01_client.upload_ops(&again).unwrap()),
        [Rejected]
    );
    // Bad returns are refused whole at the edge.
    let mut nothing = chained(
        "S001",
        "T01",
        Some(1),
        genesis,
        9,
        vec![return_of(&sale, 0)],
    );
    nothing.truncate(1);
    let error = t01_client.upload_ops(&nothing).unwrap_err().to_string();
    assert!(error.contains("more than nothing"), "{error}");
}

/// PRODUCT.md, "Returns": a sale made at another terminal of the store is looked up at HQ,
/// with the returns filed against it from every terminal; another store's terminal is
/// refused, and a sale HQ does not hold is not found, each with the reason.
pub(crate) fn another_terminal_looks_a_sale_up_at_hq_for_its_return(app: App) {
    use till_sync::client::SyncError;
    let sales = till_hq::testing::journal("S001", "T01", 2);
    let t01 = app.client(0);
    t01.upload(&sales).unwrap();
    let token = app.token(1);
    let t02 = till_sync::client::SyncClient::new(
        &app.server.url(),
        &token,
        std::time::Duration::from_secs(10),
        None,
    )
    .unwrap();
    let found = t02.sale_for_return("S001", "T01", 2).unwrap();
    assert_eq!(found.sale, sales[1].record);
    assert!(found.returns.is_empty());
    // T01 takes one back; T02 sees that return.
    let sale = sales[0].record.clone();
    let returned = chained(
        "S001",
        "T01",
        Some(1),
        till_sync::GENESIS_HASH,
        1,
        vec![return_of(&sale, 1000)],
    );
    t01.upload_ops(&returned).unwrap();
    let found = t02.sale_for_return("S001", "T01", 1).unwrap();
    assert_eq!(found.sale, sale);
    assert_eq!(found.returns, vec![returned[0].record.clone()]);
    match t02.sale_for_return("S001", "T01", 99) {
        Err(SyncError::Refused {
            status: 404,
            reason,
        }) => assert_eq!(
            reason,
            "HQ holds no sale S001/T01 #99: it may not have synced yet"
        ),
        other => panic!("{other:?}"),
    }
    // What no till would ask: a number that is not one, past the databases' integers, a
    // terminal ID no terminal has; and no token at all.
    let get = |path: &str, token: Option<&str>| {
        let mut request =
            reqwest::blocking::Client::new().get(format!("{}{path}", app.server.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().unwrap().status().as_u16()
    };
    for (path, status) in [
        ("/api/v1/sales/S001/T01/one", 400),
        ("/api/v1/sales/S001/T01/99999999999999999999", 400),
        ("/api/v1/sales/S001/T01/18446744073709551615", 404),
        ("/api/v1/sales/S001/T%00/1", 404),
        ("/api/v1/sales/S001/%E4%B8%80/1", 404),
    ] {
        assert_eq!(get(path, Some(&token)), status, "{path}");
    }
    assert_eq!(get("/api/v1/sales/S001/T01/1", None), 401);
    match app.client(2).sale_for_return("S001", "T01", 1) {
        Err(SyncError::Forbidden(reason)) => assert_eq!(
            reason,
            "terminal S002/T01 takes returns of its own store's sales, not S001/T01 #1"
        ),
        other => panic!("{other:?}"),
    }
}
