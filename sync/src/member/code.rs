//! `TM2` dynamic member codes (PRODUCT.md, "Member codes", version 2):
//! `TM2.<member_id>.<step>.<kid>.<signature>`, where `signature` is the 64-byte Ed25519
//! signature (RFC 8032) by HQ's member-code key `kid` over the ASCII bytes
//! `TM2.<member_id>.<step>.<kid>`, in RFC 4648 base32, upper case, unpadded (103 characters).
//!
//! HQ alone holds the private keys ([`CodeSigningKey`], behind the `signing` feature);
//! terminals hold the public keys ([`CodePublicKey`]) of the current and previous `kid` and
//! verify offline, so a stolen till cannot make a code for anyone.

use ed25519_dalek::{Signature, VerifyingKey};

use super::{MemberError, STEPS_BACK};

/// Characters of a signature: 64 bytes in unpadded base32.
pub const SIGNATURE_CHARS: usize = 103;

/// The bytes a `TM2` code's signature covers: `TM2.<member_id>.<step>.<kid>`.
fn signed_part(member_id: &str, step: u64, kid: u64) -> String {
    format!("TM2.{member_id}.{step}.{kid}")
}

/// One of HQ's member-code public keys, as terminals hold it: its ID and 32 bytes, exchanged
/// as 64 lower-case hex characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodePublicKey {
    kid: u64,
    key: VerifyingKey,
}

impl CodePublicKey {
    /// Parses key `kid` from 64 hex characters: a string of another shape is
    /// [`MemberError::KeyShape`], 32 bytes that are not a point on the curve
    /// [`MemberError::NotAPublicKey`].
    pub fn parse_hex(kid: u64, text: &str) -> Result<CodePublicKey, MemberError> {
        let bytes = parse_32_hex(text)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| MemberError::NotAPublicKey)?;
        Ok(CodePublicKey { kid, key })
    }

    pub fn kid(&self) -> u64 {
        self.kid
    }

    /// The key as 64 lower-case hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }
}

/// 32 bytes from 64 hex characters (either case, surrounding whitespace ignored).
pub(super) fn parse_32_hex(text: &str) -> Result<[u8; 32], MemberError> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MemberError::KeyShape);
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.to_ascii_lowercase(), &mut bytes)
        .map_err(|_| MemberError::KeyShape)?;
    Ok(bytes)
}

/// Verifies a `TM2` code's parts (as the scan classifier split them) against `keys` and its
/// step against `now_step`. Returns the last step the code is valid in, which is how long a
/// till must remember it was used.
///
/// # Errors
/// [`MemberError::UnknownKey`] for a `kid` not among `keys` (the till has not synced since
/// HQ rotated, or the code is forged), [`MemberError::Invalid`] for a signature that does not
/// verify (strictly, RFC 8032 with no malleable encodings), then
/// [`MemberError::FromTheFuture`] or [`MemberError::Expired`] for a step outside
/// `now_step - 3 ..= now_step`.
pub fn verify_tm2(
    keys: &[CodePublicKey],
    member_id: &str,
    step: u64,
    kid: u64,
    signature: &str,
    now_step: u64,
) -> Result<u64, MemberError> {
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(MemberError::UnknownKey(kid))?;
    let bytes: [u8; 64] = data_encoding::BASE32_NOPAD
        .decode(signature.as_bytes())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(MemberError::Invalid)?;
    let signature = Signature::from_bytes(&bytes);
    key.key
        .verify_strict(signed_part(member_id, step, kid).as_bytes(), &signature)
        .map_err(|_| MemberError::Invalid)?;
    if step > now_step {
        return Err(MemberError::FromTheFuture);
    }
    if now_step - step > STEPS_BACK {
        return Err(MemberError::Expired);
    }
    Ok(step + STEPS_BACK)
}

/// One of HQ's member-code private keys. Only HQ holds these (and tests that play HQ); a
/// terminal's build does not even contain this type.
#[cfg(any(test, feature = "signing"))]
#[derive(Clone)]
pub struct CodeSigningKey {
    kid: u64,
    key: ed25519_dalek::SigningKey,
}

#[cfg(any(test, feature = "signing"))]
impl std::fmt::Debug for CodeSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a private key, not even in a debug log.
        write!(f, "CodeSigningKey({}, …)", self.kid)
    }
}

#[cfg(any(test, feature = "signing"))]
impl CodeSigningKey {
    /// Key `kid` from its 32-byte secret (RFC 8032's seed), which the caller draws from a
    /// cryptographic random source.
    pub fn from_secret(kid: u64, secret: [u8; 32]) -> CodeSigningKey {
        CodeSigningKey {
            kid,
            key: ed25519_dalek::SigningKey::from_bytes(&secret),
        }
    }

    /// Key `kid` from its secret as 64 hex characters, as HQ stores it.
    pub fn parse_hex(kid: u64, text: &str) -> Result<CodeSigningKey, MemberError> {
        Ok(CodeSigningKey::from_secret(kid, parse_32_hex(text)?))
    }

    pub fn kid(&self) -> u64 {
        self.kid
    }

    /// The secret as 64 lower-case hex characters, for HQ's database only.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The public half, which terminals get.
    pub fn public(&self) -> CodePublicKey {
        CodePublicKey {
            kid: self.kid,
            key: self.key.verifying_key(),
        }
    }

    /// The `TM2` code for `member_id` at `step` (`floor(unix_seconds / 30)`).
    pub fn code(&self, member_id: &str, step: u64) -> String {
        use ed25519_dalek::Signer;
        let message = signed_part(member_id, step, self.kid);
        let signature = self.key.sign(message.as_bytes());
        format!(
            "{message}.{}",
            data_encoding::BASE32_NOPAD.encode(&signature.to_bytes())
        )
    }
}

/// The member-code key demo terminals trust (`till::demo::DEMO_CODE_KEY`), as key 1: RFC
/// 8032's test key 1, whose secret is published, so demos and tests can make codes a demo
/// terminal accepts. HQ never uses it; a real terminal never trusts it.
#[cfg(any(test, feature = "signing"))]
pub fn demo_code_key() -> CodeSigningKey {
    CodeSigningKey::parse_hex(1, RFC8032_SECRET)
        .unwrap_or_else(|_| unreachable!("a published 32-byte key"))
}

/// RFC 8032's test 1 secret key.
#[cfg(any(test, feature = "signing"))]
const RFC8032_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032's test 1 public key, the pair of [`RFC8032_SECRET`].
    const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn key(kid: u64) -> CodeSigningKey {
        CodeSigningKey::parse_hex(kid, RFC8032_SECRET).unwrap()
    }

    /// Splits a code as the scan classifier does and verifies it.
    fn verify(keys: &[CodePublicKey], code: &str, now: u64) -> Result<u64, MemberError> {
        let parts: Vec<&str> = code.split('.').collect();
        assert_eq!(parts.len(), 5, "{code}");
        verify_tm2(
            keys,
            parts[1],
            parts[2].parse().unwrap(),
            parts[3].parse().unwrap(),
            parts[4],
            now,
        )
    }

    #[test]
    fn codes_have_the_spec_shape_and_a_published_key() {
        let key = key(3);
        assert_eq!(key.public().to_hex(), RFC8032_PUBLIC);
        let code = key.code("10086", 59_372_011);
        let (signed, signature) = code.rsplit_once('.').unwrap();
        assert_eq!(signed, "TM2.10086.59372011.3");
        assert_eq!(signature.len(), SIGNATURE_CHARS);
        // Everything in QR alphanumeric mode: upper case, digits and dots.
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.'),
            "{code}"
        );
        // Ed25519 is deterministic: the same code every time.
        assert_eq!(key.code("10086", 59_372_011), code);
    }

    #[test]
    fn verification_rules() {
        let now = 1_000_000;
        let keys = [key(3).public()];
        let other = CodeSigningKey::from_secret(3, [7; 32]);
        let check = |code: &str, expected: Result<u64, MemberError>| {
            assert_eq!(verify(&keys, code, now), expected, "{code}");
        };
        check(&key(3).code("10086", now), Ok(now + 3));
        check(&key(3).code("10086", now - 3), Ok(now));
        check(&key(3).code("10086", now - 4), Err(MemberError::Expired));
        check(
            &key(3).code("10086", now + 1),
            Err(MemberError::FromTheFuture),
        );
        // Signed by a key HQ never published, under a kid the till knows.
        check(&other.code("10086", now), Err(MemberError::Invalid));
        // A kid the till does not know.
        check(&key(4).code("10086", now), Err(MemberError::UnknownKey(4)));
        // The signature over another member's ID, or the step or kid changed.
        let good = key(3).code("10086", now);
        check(
            &good.replacen("10086", "10087", 1),
            Err(MemberError::Invalid),
        );
        let signature = good.rsplit_once('.').unwrap().1;
        check(
            &format!("TM2.10086.{}.3.{signature}", now - 1),
            Err(MemberError::Invalid),
        );
        // One character of the signature changed, and base32 junk of the right length.
        let last = if good.ends_with('A') { 'B' } else { 'A' };
        check(
            &format!("{}{last}", &good[..good.len() - 1]),
            Err(MemberError::Invalid),
        );
        check(
            &format!("TM2.10086.{now}.3.{}", "A".repeat(SIGNATURE_CHARS)),
            Err(MemberError::Invalid),
        );
    }

    #[test]
    fn the_previous_key_still_verifies_after_a_rotation() {
        let old = key(1);
        let new = CodeSigningKey::from_secret(2, [9; 32]);
        let code = old.code("M1", 5);
        assert_eq!(verify(&[new.public(), old.public()], &code, 5), Ok(8));
        assert_eq!(
            verify(&[new.public()], &code, 5),
            Err(MemberError::UnknownKey(1))
        );
    }

    #[test]
    fn public_keys_parse_only_from_32_bytes_of_hex() {
        assert!(CodePublicKey::parse_hex(1, RFC8032_PUBLIC).is_ok());
        assert!(CodePublicKey::parse_hex(1, &RFC8032_PUBLIC.to_uppercase()).is_ok());
        for bad in ["", "abc", &"g".repeat(64), &"ab".repeat(33)] {
            assert_eq!(
                CodePublicKey::parse_hex(1, bad),
                Err(MemberError::KeyShape),
                "{bad}"
            );
        }
        // y = 2 is on no point of the curve.
        let off_curve = format!("02{}", "00".repeat(31));
        assert_eq!(
            CodePublicKey::parse_hex(1, &off_curve),
            Err(MemberError::NotAPublicKey)
        );
        let printed = format!("{:?}", key(1));
        assert!(
            !printed.contains("9d61"),
            "private keys never print: {printed}"
        );
    }
}
