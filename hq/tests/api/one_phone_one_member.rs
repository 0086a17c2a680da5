//! One phone, typed in any format at any till, enrolled any number of times with any number of
//! member-code key rotations in between, is one member at HQ: phone hashes depend on the
//! chain's pepper only. (Issue 14's fault: after a rotation the same phone became a second
//! member.)

use super::*;
use proptest::prelude::*;
use till_sync::member::Phone;

/// The ways a cashier or a customer types a mainland mobile number.
fn typed(national: &str, style: u8) -> String {
    let (a, b, c) = (&national[..3], &national[3..7], &national[7..]);
    match style % 6 {
        0 => national.to_string(),
        1 => format!("+86{national}"),
        2 => format!("+86 {a} {b} {c}"),
        3 => format!("0086-{a}-{b}-{c}"),
        4 => format!("{a} {b} {c}"),
        _ => format!("{a}-{b}-{c}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// The chain ran version 1 first: the phone joined once per member key (a rotation
    /// split it into that many members), each earning a sale's points. Then, under
    /// version 2, the phone is typed in any format at a till that holds the last
    /// version-1 key, a till registered since (none), or HQ's join page, with code-key
    /// rotations between, and every time it earns a sale's points (at a till, under the
    /// provisional ID, as a till records it before syncing). HQ's upgrade of stored
    /// hashes runs at some point, and at the end, as `till-hq serve` does.
    #[test]
    fn one_phone_is_one_member_with_all_its_points_whatever_the_format_till_or_rotations(
        middle in 0u32..100_000_000,
        version_1_joins in 1usize..4,
        steps in proptest::collection::vec((0u8..6, 0u8..3, 0u8..3), 1..5),
        upgrade_before in 0usize..6,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
        let db = || &store;
        db().add_store("S001", "").unwrap();
        let national = format!("139{middle:08}");
        let phone = Phone::parse(&national).unwrap();
        let mut sales = 0u64;
        // One sale of ￥5.00 (5 points) for `member`, the `sales`-th at S001/T01.
        let mut earn = |member: &str| {
            sales += 1;
            let seq = 2 * sales;
            let sale = journal_of("S001", "T01", seq, member).pop().unwrap();
            db().ingest("S001", "T01", &format!("k{seq}"), &format!("b{seq}"), &[sale])
                .unwrap();
        };
        let mut v1_keys = Vec::new();
        for _ in 0..version_1_joins {
            let (_, key) = db().rotate_member_key().unwrap();
            let key = till_sync::member::MemberKey::parse_hex(&key).unwrap();
            let till_hq::db::Joined { member_id: member, .. } = db().join(&till_hq::db::NewMember {
                phone_hash: &phone.legacy_hash(&key),
                legacy_hashes: &[],
                phone_masked: &phone.masked(),
                consent_version: "2025-01",
                consent_at_ms: 1_760_000_000_000,
                store: "S001",
                enrolled_at_ms: 1_760_000_000_000,
            }).unwrap();
            v1_keys.push(key);
            earn(&member);
        }
        let pepper = db().phone_pepper().unwrap();
        for (n, (style, place, rotations)) in steps.iter().enumerate() {
            if n == upgrade_before {
                till_hq::phones::upgrade_version_1_phones(&store, 2).unwrap();
            }
            for _ in 0..*rotations {
                db().rotate_code_key().unwrap();
            }
            let typed = Phone::parse(&typed(&national, *style)).unwrap();
            let legacy: Vec<String> = match place {
                0 => vec![typed.legacy_hash(v1_keys.last().unwrap())],
                1 => Vec::new(),
                _ => v1_keys.iter().map(|k| typed.legacy_hash(k)).collect(),
            };
            if *place == 2 {
                let till_hq::db::Joined { member_id: member, .. } = db().join(&till_hq::db::NewMember {
                    phone_hash: &typed.hash(&pepper),
                    legacy_hashes: &legacy,
                    phone_masked: &typed.masked(),
                    consent_version: "2026-11",
                    consent_at_ms: 1_795_000_000_000,
                    store: "S001",
                    enrolled_at_ms: 1_795_000_000_000,
                }).unwrap();
                earn(&member);
            } else {
                let provisional = format!("P-S001-T0{place}-{n}");
                let enrollment = till_sync::api::Enrollment {
                    provisional_id: provisional.clone(),
                    phone_hash: typed.hash(&pepper),
                    legacy_phone_hashes: legacy,
                    phone_masked: typed.masked(),
                    consent_version: "2026-11".into(),
                    consent_at_ms: 1_795_000_000_000,
                    enrolled_at_ms: 1_795_000_000_000,
                };
                db().enroll("S001", &[enrollment]).unwrap();
                earn(&provisional);
            }
        }
        till_hq::phones::upgrade_version_1_phones(&store, 2).unwrap();
        let delta = db().member_delta(0, 1000).unwrap();
        let active: Vec<_> = delta.members.iter().filter(|m| m.active).collect();
        prop_assert_eq!(active.len(), 1, "one phone became {:?}", active);
        prop_assert_eq!(active[0].phone_hash.clone(), Some(phone.hash(&pepper)));
        prop_assert_eq!(active[0].points, 5 * sales as i64, "every sale's points");
        let ledger = db().points_ledger(&active[0].member_id).unwrap();
        prop_assert_eq!(ledger.len() as u64, sales);
    }
}
