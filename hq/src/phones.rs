//! Upgrading the phone hashes a version-1 chain stored (PRODUCT.md "Member codes").
//!
//! Version 1 stored each phone as an HMAC under the chain's member key of the day, and a key
//! rotation made the same phone hash differently, so one customer could become two members.
//! A member is found by a version-1 hash only where something still holds that key: HQ's own
//! pages, and tills registered before the upgrade. A till registered since holds no version-1
//! key, so a customer typed there first would become a new member beside the old one.
//!
//! So HQ does not wait for each phone to be typed again: it checks every stored hash once.
//! The masked number (`138****5678`) leaves 10,000 numbers open, and an HMAC is cheap, so each
//! version-1 key finds the number in milliseconds (the weakness version 2 removes). HQ hashes
//! it under version 2, keeps no number, and the member moves to the new hash, or merges into
//! the member who has it already (the split a rotation made), with their sales and points.

use till_sync::member::{MemberKey, Phone, PhonePepper};

use crate::db::{HqStore, PhoneSettled, Result, StoredPhone};

/// What one run of [`upgrade_version_1_phones`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneUpgrade {
    /// Members whose stored hash was checked.
    pub checked: u64,
    /// Members moved to their version-2 hash.
    pub moved: u64,
    /// Members merged into the member who had their phone already: (merged, survivor).
    pub merged: Vec<(String, String)>,
}

/// The version-2 hash of the phone `stored` holds a version-1 hash of, if any of `keys` made
/// it.
pub fn version_2_hash(
    stored: &StoredPhone,
    keys: &[MemberKey],
    pepper: &PhonePepper,
) -> Option<String> {
    keys.iter()
        .find_map(|key| Phone::recover_legacy(&stored.phone_masked, &stored.phone_hash, key))
        .map(|phone| phone.hash(pepper))
}

/// Checks every member's stored phone hash that has not been checked, `batch` at a time, each
/// member settled in its own short transaction: the hashing (about 25 ms a member) runs
/// outside any, so requests keep being served meanwhile. A chain that never held a version-1
/// key has nothing to check and returns at once.
pub fn upgrade_version_1_phones(store: &dyn HqStore, batch: usize) -> Result<PhoneUpgrade> {
    let keys = store.all_member_keys()?;
    let mut report = PhoneUpgrade::default();
    if keys.is_empty() {
        return Ok(report);
    }
    let pepper = store.phone_pepper()?;
    loop {
        let phones = store.unchecked_phones(batch.max(1))?;
        if phones.is_empty() {
            return Ok(report);
        }
        for stored in phones {
            let upgrade = version_2_hash(&stored, &keys, &pepper);
            report.checked += 1;
            match store.settle_phone(&stored, upgrade.as_deref())? {
                PhoneSettled::Unchanged => {}
                PhoneSettled::Moved => report.moved += 1,
                PhoneSettled::MergedInto(survivor) => {
                    report.merged.push((stored.member_id, survivor));
                }
            }
        }
    }
}
