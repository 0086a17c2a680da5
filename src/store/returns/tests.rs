//! Tests of `store::returns`.

use till_domain::returns::{ManagerReason, ReturnError, ReturnPolicy};
use till_domain::shift::Denominations;
use till_sync::Attribution;
use till_sync::ops::Op;

use crate::store::sales::tests::{draft, store};
use crate::store::{ReturnRequest, Store, StoreError};

const POLICY: ReturnPolicy = ReturnPolicy {
    window_days: 30,
    approval_over: 50_000,
};

fn open_shift(store: &mut Store, float: i64) {
    let cny = Denominations::new(&[100]).unwrap();
    let count = cny
        .count(&[(100, u32::try_from(float / 100).unwrap())])
        .unwrap();
    store.open_shift("m1", &count).unwrap();
}

fn request(seq: u64, lines: &[(u32, i64)]) -> ReturnRequest {
    ReturnRequest {
        sale_seq: seq,
        lines: lines.to_vec(),
        reason: String::new(),
        policy: POLICY,
    }
}

fn ops(store: &Store) -> usize {
    store.recent_ops(None, 1000).unwrap().len()
}

/// A sale of three waters at ￥2.00 (￥6.00), paid ￥10 cash, ￥4.00 change.
fn three_waters() -> till_sync::SaleRecord {
    let mut d = draft();
    d.lines.truncate(1);
    let l = &mut d.lines[0];
    (l.qty_milli, l.unit_price, l.gross, l.total) = (3000, 200, 600, 600);
    l.tax = 69;
    (d.subtotal, d.total, d.tax) = (600, 600, 69);
    d.payments[0].amount = 1000;
    d.change = 400;
    d
}

/// Odoo refunded a refund line again: each return takes from what is left, checked in its
/// own transaction, and the parts add up to what the line cost.
#[test]
fn a_line_is_never_returned_beyond_what_was_sold() {
    let (_dir, mut store) = store();
    open_shift(&mut store, 10_000);
    let sale = store.commit_sale(three_waters()).unwrap().record;
    let first = store
        .commit_return("c1", None, &request(sale.seq, &[(1, 2000)]))
        .unwrap();
    assert_eq!((first.ret.refund, first.ret.lines[0].tax), (400, 46));
    let before = ops(&store);
    match store.commit_return("c1", None, &request(sale.seq, &[(1, 2000)])) {
        Err(StoreError::Return(ReturnError::TooMuch {
            line_no: 1,
            left_milli: 1000,
        })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(ops(&store), before, "a refused return records nothing");
    let last = store
        .commit_return("c1", None, &request(sale.seq, &[(1, 1000)]))
        .unwrap();
    assert_eq!((last.ret.refund, last.ret.lines[0].tax), (200, 23));
    let (_, lines) = store.returnable(sale.seq).unwrap();
    assert_eq!((lines[0].left_milli, lines[0].refunded), (0, 600));
    for (lines, expected) in [
        (vec![(1, 1000)], "only 0 left"),
        (vec![(9, 1000)], "no line 9"),
        (vec![], "nothing to return"),
    ] {
        let error = store
            .commit_return("c1", None, &request(sale.seq, &lines))
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{lines:?}: {error}");
    }
    assert!(matches!(
        store.commit_return("c1", None, &request(sale.seq, &[(1, 500), (1, 500)])),
        Err(StoreError::LinePickedTwice(1))
    ));
    assert!(matches!(
        store.commit_return("c1", None, &request(99, &[(1, 1000)])),
        Err(StoreError::SaleNotFound(99))
    ));
    assert_eq!(store.verify_ops_journal().unwrap().problem, None);
}

/// Two tills on one database race to take back the last water: exactly one wins.
#[test]
fn two_returns_of_the_last_unit_at_once_refund_it_once() {
    let (dir, mut store) = store();
    open_shift(&mut store, 10_000);
    let sale = store.commit_sale(three_waters()).unwrap().record;
    let seq = sale.seq;
    store
        .commit_return("c1", None, &request(sale.seq, &[(1, 2000)]))
        .unwrap();
    let path = dir.path().join("till.db");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let results: Vec<bool> = (0..2)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                barrier.wait();
                store
                    .commit_return("c1", None, &request(seq, &[(1, 1000)]))
                    .is_ok()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    assert_eq!(store.returnable(sale.seq).unwrap().1[0].refunded, 600);
}

/// A refund goes back to the tender that paid; the shift's Z takes it off the takings, the
/// tax and the drawer.
#[test]
fn a_refund_goes_back_to_its_tender_and_into_the_z() {
    let (_dir, mut store) = store();
    open_shift(&mut store, 10_000);
    let cash = store.commit_sale(three_waters()).unwrap().record;
    let mut mobile = three_waters();
    mobile.payments[0] = till_sync::SalePayment {
        kind: "wechat_pay".into(),
        amount: 600,
        reference: Some("134567890123456789".into()),
    };
    mobile.change = 0;
    let mobile = store.commit_sale(mobile).unwrap().record;
    let back = store
        .commit_return("c1", None, &request(mobile.seq, &[(1, 1000)]))
        .unwrap();
    assert_eq!(back.ret.tenders.len(), 1);
    assert_eq!(back.ret.tenders[0].kind, "wechat_pay");
    assert_eq!(
        back.ret.tenders[0].reference.as_deref(),
        Some("134567890123456789")
    );
    store
        .commit_return("c1", None, &request(cash.seq, &[(1, 3000)]))
        .unwrap();
    let z = store
        .close_shift("m1", &Denominations::new(&[100]).unwrap().empty_count())
        .unwrap()
        .z;
    assert_eq!((z.returns_count, z.returns, z.net), (2, 800, 400));
    assert_eq!(z.expected_cash, 10_000 + 600 - 600);
    assert_eq!(z.tax[0].tax, 69 * 2 - 23 - 69);
}

#[test]
fn an_old_or_large_return_needs_a_manager_and_a_member_loses_its_points() {
    let (_dir, mut store) = store();
    open_shift(&mut store, 10_000);
    let mut d = three_waters();
    d.attribution = Attribution::Member {
        member_id: "10086".into(),
    };
    let sale = store.commit_sale(d).unwrap().record;
    let strict = ReturnRequest {
        policy: ReturnPolicy {
            window_days: 30,
            approval_over: 100,
        },
        ..request(sale.seq, &[(1, 1000)])
    };
    assert!(matches!(
        store.commit_return("c1", None, &strict),
        Err(StoreError::ReturnNeedsManager(ManagerReason::OverLimit {
            limit: 100
        }))
    ));
    store
        .conn
        .execute(
            "UPDATE sales SET created_at_ms = created_at_ms - 31 * 86400000",
            [],
        )
        .unwrap();
    assert!(matches!(
        store.commit_return("c1", None, &request(sale.seq, &[(1, 1000)])),
        Err(StoreError::ReturnNeedsManager(ManagerReason::PastWindow {
            days: 30
        }))
    ));
    let approved = store
        .commit_return("c1", Some("m1"), &request(sale.seq, &[(1, 3000)]))
        .unwrap();
    assert_eq!(approved.record.approver.as_deref(), Some("m1"));
    assert_eq!(approved.ret.member_id.as_deref(), Some("10086"));
    assert_eq!(
        approved.ret.points,
        till_sync::loyalty::earned(&sale),
        "the whole sale back: every point it earned"
    );
    assert!(matches!(approved.record.op, Op::Return(_)));
}
