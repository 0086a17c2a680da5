//! Members across the version-1 upgrade: phones rehashed, split members merged with their points.

use super::*;

/// `phone` joins on HQ's page at S001 as version 1 did, stored under `hash`: the member's ID.
pub(crate) fn joined(db: &mut dyn HqStore, phone: &till_sync::member::Phone, hash: &str) -> String {
    db.join(&till_hq::db::NewMember {
        phone_hash: hash,
        legacy_hashes: &[],
        phone_masked: &phone.masked(),
        consent_version: "2026-01",
        consent_at_ms: 1_795_000_000_000,
        store: "S001",
        enrolled_at_ms: 1_795_000_000_000,
    })
    .unwrap()
    .member_id
}

/// A chain that ran version 1 (phones hashed with its member key, which it rotated) moves to
/// version 2 with no member split and no points lost: the same phone, typed again on HQ's
/// pages or enrolled at a till, finds its member and moves them to the version-2 hash.
pub(crate) fn a_version_1_chain_keeps_its_members_and_points_through_the_upgrade(app: App) {
    use till_sync::member::{MemberKey, Phone};
    let mut db = app.db();
    // What version 1 wrote: a member joined under key 1, then the key rotated twice.
    let (_, first) = db.rotate_member_key().unwrap();
    let first = MemberKey::parse_hex(&first).unwrap();
    let phone = Phone::parse("13812345678").unwrap();
    let other = Phone::parse("13900001111").unwrap();
    let m1 = joined(&mut *db, &phone, &phone.legacy_hash(&first));
    let m2 = joined(&mut *db, &other, &other.legacy_hash(&first));
    db.rotate_member_key().unwrap();
    db.rotate_member_key().unwrap();
    // Member 1 earns points on a claimed sale (the ledger is keyed by sale).
    let client = app.client(0);
    client.upload(&journal("S001", "T01", 1)).unwrap();
    let t01 = client.member_keys().unwrap();
    let token = till_sync::member::claim_token(
        &till_sync::member::ClaimKey::parse_hex(&t01.claim_key).unwrap(),
        "S001",
        "T01",
        1,
    );
    let (status, page) = app.proven_post(
        &format!("{}/c/{token}", app.server.url()),
        "phone=138-1234-5678&consent=yes",
        "13812345678",
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        db.points_ledger(&m1).unwrap().len(),
        1,
        "the claim found member 1"
    );
    // The join page, typed again: the same member, now under the version-2 hash.
    let pepper = till_sync::member::PhonePepper::parse_hex(&t01.phone_pepper).unwrap();
    let (status, _) = app.proven_post(
        &format!("{}/join/S001", app.server.url()),
        "phone=%2B8613812345678&consent=yes",
        "13812345678",
    );
    assert_eq!(status, 200);
    let members = client.members(0).unwrap().members;
    let hash_of = |id: &str| {
        members
            .iter()
            .find(|m| m.member_id == id)
            .unwrap()
            .phone_hash
            .clone()
    };
    assert_eq!(members.len(), 2, "no member was split");
    assert_eq!(hash_of(&m1), Some(phone.hash(&pepper)));
    // The other phone, enrolled at a till that holds the first key only: it names its
    // version-1 hash, and HQ files it as member 2.
    // A stolen till names member 2's stored hash for a phone of its own: the masked numbers
    // differ, so HQ makes a new member and leaves member 2 alone.
    let thief = Phone::parse("13700009999").unwrap();
    let mut hostile = enrollment("P-S001-T01-thief", 8);
    hostile.phone_hash = thief.hash(&pepper);
    hostile.phone_masked = thief.masked();
    hostile.legacy_phone_hashes = vec![other.legacy_hash(&first)];
    let filed = client.enroll(&[hostile]).unwrap();
    assert!(!filed.results[0].merged, "the thief's phone took no member");
    assert_ne!(filed.results[0].member_id, m2);
    let mut enrolled = enrollment("P-S001-T01-x", 9);
    enrolled.phone_hash = other.hash(&pepper);
    enrolled.phone_masked = other.masked();
    enrolled.legacy_phone_hashes = vec![other.legacy_hash(&first)];
    let filed = client.enroll(&[enrolled]).unwrap();
    let filed = &filed.results[0];
    assert_eq!(
        (filed.member_id.as_str(), filed.merged),
        (m2.as_str(), true)
    );
    let members = client.members(0).unwrap().members;
    assert_eq!(members.len(), 3, "members 1 and 2, and the thief's own");
    assert_eq!(
        members
            .iter()
            .find(|m| m.member_id == m2)
            .unwrap()
            .phone_hash,
        Some(other.hash(&pepper))
    );
    assert_eq!(db.points_ledger(&m1).unwrap().len(), 1, "no points lost");
}

/// A version-1 chain where one phone became two members (a key rotation split it, as issue
/// #14 found): HQ's upgrade finds each number from its mask, merges the split into one member
/// with all the points, and a till that never held a version-1 key then finds that member by
/// phone, and a sale it made for the merged ID still earns the survivor's points.
pub(crate) fn a_phone_that_version_1_split_is_one_member_again_with_all_its_points(app: App) {
    use till_sync::member::{MemberKey, Phone};
    let mut db = app.db();
    let phone = Phone::parse("13812345678").unwrap();
    let other = Phone::parse("13900001111").unwrap();
    // What version 1 wrote: the phone joined under key 1, and again after a rotation.
    let (_, k1) = db.rotate_member_key().unwrap();
    let k1 = MemberKey::parse_hex(&k1).unwrap();
    let first = joined(&mut *db, &phone, &phone.legacy_hash(&k1));
    let (_, k2) = db.rotate_member_key().unwrap();
    let k2 = MemberKey::parse_hex(&k2).unwrap();
    let split = joined(&mut *db, &phone, &phone.legacy_hash(&k2));
    let second = joined(&mut *db, &other, &other.legacy_hash(&k2));
    assert_ne!(first, split, "version 1 split the phone");
    let pepper = db.phone_pepper().unwrap();
    let fresh = Phone::parse("13700002222").unwrap();
    let new = joined(&mut *db, &fresh, &fresh.hash(&pepper));
    // Each half of the split earned points on its own.
    let (t01, t02) = (app.client(0), app.client(1));
    t01.upload(&journal_of("S001", "T01", 2, &first)).unwrap();
    t02.upload(&journal_of("S001", "T02", 2, &split)).unwrap();

    let report = till_hq::phones::upgrade_version_1_phones(&*db, 3).unwrap();
    assert_eq!(report.checked, 4, "{report:?}");
    assert_eq!(
        report.moved, 2,
        "the first half and the other phone: {report:?}"
    );
    assert_eq!(report.merged, vec![(split.clone(), first.clone())]);
    let again = till_hq::phones::upgrade_version_1_phones(&*db, 3).unwrap();
    assert_eq!(again.checked, 0, "each member is checked once");
    assert_eq!(db.points_ledger(&first).unwrap().len(), 2, "no points lost");

    // Tills learn it: the survivor under the version-2 hash with both halves' points, the
    // merged ID inactive with no phone and an alias to the survivor.
    let delta = t01.members(0).unwrap();
    let entry = |id: &str| delta.members.iter().find(|m| m.member_id == id).unwrap();
    assert_eq!(entry(&first).phone_hash, Some(phone.hash(&pepper)));
    assert_eq!((entry(&first).points, entry(&first).active), (10, true));
    assert_eq!(
        (entry(&split).phone_hash.clone(), entry(&split).active),
        (None, false)
    );
    assert_eq!(entry(&second).phone_hash, Some(other.hash(&pepper)));
    assert_eq!(
        entry(&new).phone_hash,
        Some(fresh.hash(&pepper)),
        "left alone"
    );
    assert!(
        delta
            .aliases
            .iter()
            .any(|a| (a.provisional_id.as_str(), a.member_id.as_str()) == (&split, &first)),
        "{:?}",
        delta.aliases
    );
    // A till registered after the upgrade holds no version-1 key: the phone typed there
    // finds the survivor by its version-2 hash alone.
    let mut typed = enrollment("P-S001-T02-9", 0);
    typed.phone_hash = phone.hash(&pepper);
    typed.phone_masked = phone.masked();
    let filed = t02.enroll(&[typed]).unwrap();
    assert_eq!(
        (filed.results[0].member_id.as_str(), filed.results[0].merged),
        (first.as_str(), true)
    );
    // A sale a till made for the merged ID before it synced still earns the survivor points,
    // and tills pull the survivor's new balance (the merged ID shows none).
    let pulled = t01.members(0).unwrap().version;
    t02.upload(&journal_of("S001", "T02", 4, &split)).unwrap();
    assert_eq!(db.points_ledger(&first).unwrap().len(), 3);
    let changed = t01.members(pulled).unwrap();
    let survivor = changed.members.iter().find(|m| m.member_id == first);
    assert_eq!(survivor.map(|m| m.points), Some(15), "{changed:?}");
    let merged = t01.members(0).unwrap();
    let merged = merged
        .members
        .iter()
        .find(|m| m.member_id == split)
        .unwrap();
    assert_eq!(merged.points, 0, "counted once, for the survivor");
    // A second upgrade run that read the split member before the first merged it (a second
    // node, or the command beside `serve`) changes nothing and does not fail.
    let stale = till_hq::db::StoredPhone {
        member_id: split.clone(),
        phone_hash: phone.legacy_hash(&k2),
        phone_masked: phone.masked(),
    };
    let again = db.settle_phone(&stale, Some(&phone.hash(&pepper))).unwrap();
    assert_eq!(again, till_hq::db::PhoneSettled::Unchanged);
    assert_eq!(db.points_ledger(&first).unwrap().len(), 3);
}
