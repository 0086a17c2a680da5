//! Tests of `store::shifts`.

use till_domain::shift::{CashCount, Denominations, MovementKind};
use till_sync::ops::{LineVoid, Op};

use super::OpsProblem;
use crate::store::sales::tests::{draft, store};
use crate::store::{Store, StoreError};

fn count(pairs: &[(i64, u32)]) -> CashCount {
    Denominations::new(&[10000, 5000, 2000, 1000, 500, 100, 50, 10])
        .unwrap()
        .count(pairs)
        .unwrap()
}

fn exec(store: &Store, sql: &str) {
    store.conn.execute_batch(sql).unwrap();
}

/// The draft sale takes ￥10 cash and gives ￥0.50 change: ￥9.50 into the drawer.
#[test]
fn a_shift_from_float_to_z_matches_its_records_to_the_fen() {
    let (_dir, mut store) = store();
    store.commit_sale(draft()).unwrap(); // before any shift: in no Z
    let (shift, open) = store.open_shift("m1", &count(&[(10000, 5)])).unwrap();
    assert_eq!(
        (shift.number, shift.first_receipt, shift.opening_float),
        (1, 2, 50_000)
    );
    assert_eq!(open.shift, Some(1));
    for _ in 0..3 {
        store.commit_sale(draft()).unwrap();
    }
    store
        .cash_movement("m1", None, MovementKind::PaidIn, 10_000, "change")
        .unwrap();
    store
        .cash_movement("m1", Some("m2"), MovementKind::PaidOut, 2_000, "supplier")
        .unwrap();
    store
        .cash_movement("c1", None, MovementKind::NoSale, 0, "change")
        .unwrap();
    let (_, x) = store.x_report().unwrap();
    assert_eq!(x.expected_cash, 50_000 + 3 * 950 + 10_000 - 2_000);
    assert_eq!(
        store.x_report().unwrap().1,
        x,
        "an X report changes nothing"
    );
    let closed = store
        .close_shift("m1", &count(&[(10000, 6), (100, 8), (50, 1)]))
        .unwrap();
    let z = closed.z.report();
    assert_eq!(z.sales_count, 3);
    assert_eq!((z.first_receipt, z.last_receipt), (Some(2), Some(4)));
    assert_eq!(z.net, 2_850);
    assert_eq!(z.expected_cash, 60_850);
    assert_eq!((z.counted_cash, z.difference), (Some(60_850), Some(0)));
    assert_eq!((z.paid_in, z.paid_out, z.no_sales), (10_000, 2_000, 1));
    assert_eq!(store.z_report(1).unwrap(), closed);
    assert_eq!(closed.shift.last_receipt, Some(4));
    assert_eq!(store.verify_ops_journal().unwrap().problem, None);
}

/// OSPOS summed the whole day at a second close; uniCenta selected voids and no-sale
/// openings by date, so one till's showed on another's close.
#[test]
fn a_second_shift_counts_only_its_own_records() {
    let (_dir, mut store) = store();
    store.open_shift("c1", &count(&[(10000, 1)])).unwrap();
    store.commit_sale(draft()).unwrap();
    store
        .cash_movement("c1", None, MovementKind::NoSale, 0, "change")
        .unwrap();
    store
        .record_op(
            "c1",
            None,
            Op::LineVoid(LineVoid {
                sku: "1".into(),
                name: "水".into(),
                qty_milli: 1000,
                amount: 600,
            }),
        )
        .unwrap();
    store
        .close_shift("c1", &count(&[(10000, 1), (500, 1)]))
        .unwrap();
    let (second, _) = store.open_shift("c2", &count(&[(10000, 2)])).unwrap();
    assert_eq!(second.number, 2, "Z numbers have no gaps");
    store.commit_sale(draft()).unwrap();
    let z = store.close_shift("c2", &count(&[(10000, 2)])).unwrap().z;
    assert_eq!((z.sales_count, z.first_receipt, z.last_receipt), (1, 2, 2));
    assert_eq!((z.voids, z.no_sales, z.opening_float), (0, 0, 20_000));
    assert_eq!(z.difference, -950);
    let first = store.z_report(1).unwrap().z;
    assert_eq!(
        (first.voids, first.no_sales, first.difference),
        (1, 1, -450)
    );
}

#[test]
fn what_a_shift_refuses_changes_nothing() {
    let (_dir, mut store) = store();
    let zero = count(&[]);
    assert!(matches!(store.x_report(), Err(StoreError::NoOpenShift)));
    assert!(matches!(
        store.close_shift("c1", &zero),
        Err(StoreError::NoOpenShift)
    ));
    assert!(matches!(
        store.cash_movement("c1", None, MovementKind::PaidIn, 100, "change"),
        Err(StoreError::NoOpenShift)
    ));
    store.open_shift("c1", &count(&[(1000, 2)])).unwrap();
    assert!(matches!(
        store.open_shift("c2", &zero),
        Err(StoreError::ShiftOpen(1))
    ));
    store.commit_sale(draft()).unwrap();
    // ￥20 float + ￥9.50: ￥29.60 is a fen more than the drawer holds.
    match store.cash_movement("c1", None, MovementKind::PaidOut, 2_960, "supplier") {
        Err(StoreError::NotEnoughCash { asked, drawer }) => {
            assert_eq!((asked.minor(), drawer.minor()), (2_960, 2_950))
        }
        other => panic!("{other:?}"),
    }
    for bad in [0, -100] {
        assert!(matches!(
            store.cash_movement("c1", None, MovementKind::PaidIn, bad, "change"),
            Err(StoreError::InvalidAmount(_))
        ));
    }
    store
        .cash_movement("c1", None, MovementKind::PaidOut, 2_950, "supplier")
        .unwrap();
    assert_eq!(
        store.recent_ops(None, 10).unwrap().len(),
        2,
        "only what passed"
    );
    store.close_shift("c1", &zero).unwrap();
    assert!(matches!(
        store.close_shift("c1", &zero),
        Err(StoreError::NoOpenShift)
    ));
    assert!(matches!(
        store.z_report(2),
        Err(StoreError::ShiftNotFound(2))
    ));
    store.open_shift("c1", &zero).unwrap();
    assert!(matches!(
        store.z_report(2),
        Err(StoreError::ShiftNotClosed(2))
    ));
}

#[test]
fn a_ticket_left_open_at_the_close_is_parked_under_its_cashier() {
    let (_dir, mut store) = store();
    store.open_shift("c1", &count(&[])).unwrap();
    let ticket = crate::store::parked::tests::ticket();
    store
        .save_open_ticket(Some(&crate::store::OpenTicket {
            nonce: "n1".into(),
            cashier: "c1".into(),
            member_id: None,
            ticket,
        }))
        .unwrap();
    store.close_shift("m1", &count(&[])).unwrap();
    assert_eq!(store.open_ticket().unwrap(), None);
    assert!(store.auto_parked_for("c1").unwrap().is_some());
}

#[test]
fn an_edited_or_deleted_operation_breaks_the_chain() {
    let check = |tamper: &str, expected: OpsProblem| {
        let (_dir, mut store) = store();
        store.open_shift("c1", &count(&[(10000, 1)])).unwrap();
        for amount in [1_000, 2_000, 3_000] {
            store
                .cash_movement("c1", None, MovementKind::PaidOut, amount, "supplier")
                .unwrap();
        }
        assert_eq!(store.verify_ops_journal().unwrap().problem, None);
        exec(&store, tamper);
        assert_eq!(
            store.verify_ops_journal().unwrap().problem,
            Some(expected),
            "{tamper}"
        );
    };
    check(
        "UPDATE ops_journal SET body = replace(body, '2000', '200') WHERE seq = 3",
        OpsProblem::Changed { seq: 3 },
    );
    check(
        "UPDATE ops_journal SET kind = 'paid_in' WHERE seq = 2",
        OpsProblem::Changed { seq: 2 },
    );
    check(
        "DELETE FROM ops_journal WHERE seq = 2",
        OpsProblem::Gap {
            expected: 2,
            found: 3,
        },
    );
    check(
        "DELETE FROM ops_journal WHERE seq = 4",
        OpsProblem::TailMissing {
            head_seq: 4,
            last_seq: 3,
        },
    );
}

/// Each operation goes up once: what HQ filed or refused is not sent again, and a refusal
/// keeps HQ's reason.
#[test]
fn operations_go_to_hq_until_it_files_or_refuses_them() {
    use till_sync::api::OpResult;
    let (_dir, mut store) = store();
    store.open_shift("c1", &count(&[(10000, 1)])).unwrap();
    store
        .cash_movement("c1", None, MovementKind::PaidIn, 1_000, "change")
        .unwrap();
    store
        .cash_movement("c1", None, MovementKind::NoSale, 0, "change")
        .unwrap();
    let pending = store.pending_ops(10).unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.iter().all(|op| op.link_is_valid()));
    assert_eq!(pending[1].prev_hash, pending[0].hash, "linked in order");
    store
        .record_ops_filed(&[
            OpResult::accepted(1),
            OpResult::rejected(2, "no".into()),
            OpResult::accepted(99),
        ])
        .unwrap();
    let left: Vec<u64> = store
        .pending_ops(10)
        .unwrap()
        .iter()
        .map(|op| op.record.seq)
        .collect();
    assert_eq!(left, [3]);
    assert_eq!(store.ops_pending().unwrap(), 1);
    assert_eq!(store.verify_ops_journal().unwrap().problem, None);
}
