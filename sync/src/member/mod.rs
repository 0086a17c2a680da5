//! The member protocol shared by the member app, terminals and HQ: dynamic member QR codes
//! (`TM2` in [`code`]; `TM1`, version 1, here), claim tokens for anonymous sales, and phone
//! numbers kept only as keyed hashes. The
//! encodings are PRODUCT.md's "Member codes"; terminals and HQ must compute them identically,
//! so they live here once.
//!
//! Pure: keys and time are passed in, so every rule is tested from a table.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub mod claim;
pub mod code;

pub use claim::{ClaimKey, claim_subject, claim_token, claim_url, verify_claim};
pub use code::{CodePublicKey, verify_tm2};
#[cfg(any(test, feature = "signing"))]
pub use code::{CodeSigningKey, demo_code_key};

type HmacSha256 = Hmac<Sha256>;

/// Seconds per dynamic-code step.
pub const STEP_SECONDS: u64 = 30;
/// Steps back a code stays valid (clock skew and a slow queue).
pub const STEPS_BACK: u64 = 3;
/// Bytes of the HMAC kept in codes and claim signatures.
const MAC_BYTES: usize = 10;

/// The chain's member key: 32 random bytes, exchanged as 64 lower-case hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct MemberKey([u8; 32]);

impl fmt::Debug for MemberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a key, not even in a debug log.
        f.write_str("MemberKey(…)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    #[error("a member key is 64 hex characters (32 bytes)")]
    KeyShape,
    /// 32 bytes that are not an Ed25519 public key (not a point on the curve).
    #[error("a member-code key must be an Ed25519 public key; these 32 bytes are not one")]
    NotAPublicKey,
    #[error("member code expired")]
    Expired,
    #[error("member code is from the future: check this till's clock")]
    FromTheFuture,
    #[error("member code is invalid (bad signature)")]
    Invalid,
    /// A `TM2` code signed by a key this till does not hold: HQ rotated since its last sync,
    /// or the code is forged.
    #[error("member code is signed by key {0}, which this till does not know: sync with HQ")]
    UnknownKey(u64),
    #[error("a phone number is 11 digits starting with 1 (a mainland mobile)")]
    PhoneShape,
}

impl MemberKey {
    pub fn parse_hex(text: &str) -> Result<MemberKey, MemberError> {
        code::parse_32_hex(text).map(MemberKey)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> MemberKey {
        MemberKey(bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short, public fingerprint to tell keys apart in status output: the first 4 bytes
    /// of the key's SHA-256, as HQ prints it too.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(&Sha256::digest(self.0)[..4])
    }

    fn hmac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; 32 bytes never fails.
        HmacSha256::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    fn mac(&self, message: &[u8]) -> Vec<u8> {
        let mut mac = self.hmac();
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    /// The first 10 bytes of HMAC-SHA256(key, message), RFC 4648 base32, upper case, unpadded.
    pub(crate) fn short_mac(&self, message: &str) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.mac(message.as_bytes())[..MAC_BYTES])
    }

    /// Checks a short MAC in constant time.
    pub(crate) fn verify_short_mac(&self, message: &str, mac: &str) -> bool {
        let Ok(bytes) = data_encoding::BASE32_NOPAD.decode(mac.as_bytes()) else {
            return false;
        };
        if bytes.len() != MAC_BYTES {
            return false;
        }
        let mut hmac = self.hmac();
        hmac.update(message.as_bytes());
        hmac.verify_truncated_left(&bytes).is_ok()
    }
}

/// The step a Unix time falls in.
pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// A dynamic member code for `member_id` at `step`, as the member app shows it.
pub fn dynamic_code(key: &MemberKey, member_id: &str, step: u64) -> String {
    let message = format!("TM1.{member_id}.{step}");
    format!("{message}.{}", key.short_mac(&message))
}

/// Verifies a dynamic code's MAC with any of `keys` (current, then previous during a
/// rotation) and its step against `now_step`. Returns the last step the code is valid in,
/// which is how long the replay cache must remember it.
pub fn verify_dynamic(
    keys: &[MemberKey],
    member_id: &str,
    step: u64,
    mac: &str,
    now_step: u64,
) -> Result<u64, MemberError> {
    let message = format!("TM1.{member_id}.{step}");
    if !keys.iter().any(|key| key.verify_short_mac(&message, mac)) {
        return Err(MemberError::Invalid);
    }
    if step > now_step {
        return Err(MemberError::FromTheFuture);
    }
    if now_step - step > STEPS_BACK {
        return Err(MemberError::Expired);
    }
    Ok(step + STEPS_BACK)
}

/// The chain's phone pepper: 32 random bytes made once per chain and never rotated (so
/// rotating code keys never splits a member), exchanged as 64 lower-case hex characters. It
/// salts every phone hash ([`Phone::hash`]).
#[derive(Clone, PartialEq, Eq)]
pub struct PhonePepper([u8; 32]);

impl fmt::Debug for PhonePepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhonePepper(…)")
    }
}

impl PhonePepper {
    /// Parses 64 hex characters; anything else is [`MemberError::KeyShape`].
    pub fn parse_hex(text: &str) -> Result<PhonePepper, MemberError> {
        code::parse_32_hex(text).map(PhonePepper)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> PhonePepper {
        PhonePepper(bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// A mainland mobile number in E.164 form (`+8613812345678`), parsed from what a cashier
/// keys: spaces, dashes and a `+86` or `0086` prefix are allowed.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, MemberError> {
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let national = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .unwrap_or(&compact);
        if national.len() != 11
            || !national.starts_with('1')
            || !national.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MemberError::PhoneShape);
        }
        Ok(Phone(format!("+86{national}")))
    }

    pub fn e164(&self) -> &str {
        &self.0
    }

    fn national(&self) -> &str {
        &self.0[3..]
    }

    /// `138****5678`: what screens and receipts show.
    pub fn masked(&self) -> String {
        let n = self.national();
        format!("{}****{}", &n[..3], &n[7..])
    }

    pub fn last4(&self) -> String {
        self.national()[7..].to_string()
    }

    /// The hash terminals and HQ keep instead of the number (version 2):
    /// `hex(Argon2id(password = E.164, salt = the chain's pepper, m = 19456 KiB, t = 2, p = 1,
    /// 32-byte output))`. Memory-hard, so enumerating every mobile number from a stolen
    /// till's hashes and pepper takes years, not minutes; it costs tens of milliseconds.
    pub fn hash(&self, pepper: &PhonePepper) -> String {
        let params = argon2::Params::new(19_456, 2, 1, Some(32))
            .unwrap_or_else(|_| unreachable!("PRODUCT.md's parameters are valid"));
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        argon
            .hash_password_into(self.0.as_bytes(), &pepper.0, &mut out)
            .unwrap_or_else(|_| unreachable!("a 32-byte salt and output are in range"));
        hex::encode(out)
    }

    /// The version-1 hash, hex HMAC-SHA256(member key, E.164): what members enrolled before
    /// version 2 are stored under, matched with every key HQ ever held until the phone is
    /// typed again and the member moves to [`Phone::hash`].
    pub fn legacy_hash(&self, key: &MemberKey) -> String {
        hex::encode(key.mac(self.0.as_bytes()))
    }

    /// The number a version-1 hash was made from, found from its masked form (`138****5678`)
    /// by trying the 10,000 numbers the mask leaves open under `key`: None if none matches
    /// (the hash is not version 1, or was made with another key) or the mask or hash is
    /// malformed. This is why version 1 was replaced, and how HQ upgrades the hashes it still
    /// holds: an HMAC is cheap, so a mask and a key give the number away in milliseconds.
    pub fn recover_legacy(masked: &str, hash_hex: &str, key: &MemberKey) -> Option<Phone> {
        let hash = hex::decode(hash_hex).ok().filter(|h| h.len() == 32)?;
        let (head, tail) = masked.split_once("****")?;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if head.len() != 3 || tail.len() != 4 || !digits(head) || !digits(tail) {
            return None;
        }
        let keyed = key.hmac();
        (0..10_000u32).find_map(|middle| {
            let e164 = format!("+86{head}{middle:04}{tail}");
            let mut mac = keyed.clone();
            mac.update(e164.as_bytes());
            // Constant time is not needed: the caller holds the key and the hash.
            (mac.finalize().into_bytes().as_slice() == hash.as_slice()).then_some(Phone(e164))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MemberKey {
        MemberKey::parse_hex(&"0123456789abcdef".repeat(4)).unwrap()
    }

    /// Builds a code straight from PRODUCT.md's definition, independently of `dynamic_code`.
    fn spec_code(key_hex: &str, member_id: &str, step: u64) -> String {
        let key = hex::decode(key_hex).unwrap();
        let message = format!("TM1.{member_id}.{step}");
        let mut mac = HmacSha256::new_from_slice(&key).unwrap();
        mac.update(message.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let encoded = data_encoding::BASE32.encode(&bytes[..10]);
        format!("{message}.{}", encoded.trim_end_matches('='))
    }

    #[test]
    fn a_version_1_hash_gives_its_number_back_under_its_key_only() {
        let phone = Phone::parse("139 1234 5678").unwrap();
        let hash = phone.legacy_hash(&key());
        let other = MemberKey::parse_hex(&"fedcba9876543210".repeat(4)).unwrap();
        assert_eq!(
            Phone::recover_legacy("139****5678", &hash, &key()),
            Some(phone.clone())
        );
        let check = |masked: &str, hash: &str, key: &MemberKey| {
            assert_eq!(
                Phone::recover_legacy(masked, hash, key),
                None,
                "{masked} {hash}"
            );
        };
        check("139****5678", &hash, &other);
        check("139****5679", &hash, &key());
        check("138****5678", &hash, &key());
        check("139***5678", &hash, &key());
        check("13a****5678", &hash, &key());
        check(
            "139****5678",
            &phone.hash(&PhonePepper::from_bytes([7; 32])),
            &key(),
        );
        check("139****5678", "not hex", &key());
        check("139****5678", &hash[..62], &key());
    }

    #[test]
    fn codes_match_the_spec_encoding() {
        let hex = "0123456789abcdef".repeat(4);
        let code = dynamic_code(&key(), "10086", 59_372_011);
        assert_eq!(code, spec_code(&hex, "10086", 59_372_011));
        let mac = code.rsplit('.').next().unwrap();
        assert_eq!(mac.len(), 16);
        assert!(
            mac.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }

    #[test]
    fn verification_rules() {
        let hex = "0123456789abcdef".repeat(4);
        let now = 1_000_000;
        fn check(code: &str, now: u64, expected: Result<u64, MemberError>) {
            let parts: Vec<&str> = code.split('.').collect();
            let got = verify_dynamic(&[key()], parts[1], parts[2].parse().unwrap(), parts[3], now);
            assert_eq!(got, expected, "{code}");
        }
        check(&spec_code(&hex, "10086", now), now, Ok(now + 3));
        check(&spec_code(&hex, "10086", now - 3), now, Ok(now));
        check(
            &spec_code(&hex, "10086", now - 4),
            now,
            Err(MemberError::Expired),
        );
        check(
            &spec_code(&hex, "10086", now + 1),
            now,
            Err(MemberError::FromTheFuture),
        );
        let other = "f".repeat(64);
        check(
            &spec_code(&other, "10086", now),
            now,
            Err(MemberError::Invalid),
        );
        // One character of the MAC flipped.
        let good = spec_code(&hex, "10086", now);
        let flipped = format!(
            "{}{}",
            &good[..good.len() - 1],
            if good.ends_with('A') { 'B' } else { 'A' }
        );
        check(&flipped, now, Err(MemberError::Invalid));
        // The same MAC on another member's ID.
        let stolen = good.replace("10086", "10087");
        check(&stolen, now, Err(MemberError::Invalid));
    }

    #[test]
    fn the_previous_key_still_verifies_during_a_rotation() {
        let old = key();
        let new = MemberKey::from_bytes([7; 32]);
        let code = dynamic_code(&old, "M1", 5);
        let mac = code.rsplit('.').next().unwrap();
        assert_eq!(verify_dynamic(&[new.clone(), old], "M1", 5, mac, 5), Ok(8));
        assert_eq!(
            verify_dynamic(&[new], "M1", 5, mac, 5),
            Err(MemberError::Invalid)
        );
    }

    #[test]
    fn key_shapes() {
        assert!(MemberKey::parse_hex(&"ab".repeat(32)).is_ok());
        assert!(MemberKey::parse_hex(&"AB".repeat(32)).is_ok());
        for bad in ["", "abc", &"g".repeat(64), &"ab".repeat(33)] {
            assert_eq!(
                MemberKey::parse_hex(bad),
                Err(MemberError::KeyShape),
                "{bad}"
            );
        }
        assert!(!format!("{:?}", key()).contains("0123"), "keys never print");
    }

    #[test]
    fn phones() {
        fn check(input: &str, expected: Option<&str>) {
            assert_eq!(
                Phone::parse(input).ok().map(|p| p.e164().to_string()),
                expected.map(str::to_string),
                "{input:?}"
            );
        }
        check("13812345678", Some("+8613812345678"));
        check("+86 138 1234 5678", Some("+8613812345678"));
        check("0086-138-1234-5678", Some("+8613812345678"));
        check("1381234567", None);
        check("138123456789", None);
        check("23812345678", None);
        check("1381234567a", None);
        check("", None);
        let phone = Phone::parse("13812345678").unwrap();
        assert_eq!(phone.masked(), "138****5678");
        assert_eq!(phone.last4(), "5678");
        assert_eq!(
            phone.legacy_hash(&key()),
            Phone::parse("+86 13812345678").unwrap().legacy_hash(&key())
        );
        assert_ne!(
            phone.legacy_hash(&key()),
            phone.legacy_hash(&MemberKey::from_bytes([1; 32]))
        );
    }

    /// The version-2 hash, checked against the Argon2 reference parameters written out here
    /// and against a value computed independently (Python's argon2-cffi:
    /// `hash_secret_raw(b"+8613812345678", bytes(range(32)), 2, 19456, 1, 32, Type.ID)`).
    #[test]
    fn phone_hashes_are_argon2id_with_the_chains_pepper() {
        let pepper = PhonePepper::from_bytes(core::array::from_fn(|i| i as u8));
        let phone = Phone::parse("138 1234 5678").unwrap();
        let hash = phone.hash(&pepper);
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, Phone::parse("+8613812345678").unwrap().hash(&pepper));
        assert_eq!(hash, ARGON2_CFFI_HASH);
        assert_ne!(hash, phone.hash(&PhonePepper::from_bytes([7; 32])));
        assert!(
            !format!("{pepper:?}").contains("0001"),
            "peppers never print"
        );
        assert_eq!(PhonePepper::parse_hex(&pepper.to_hex()), Ok(pepper));
    }

    const ARGON2_CFFI_HASH: &str =
        "32d29ef1e60d32bb1154e350c379f543a7bffbc34510e1c9e7200e82d0f2c8dd";
}
