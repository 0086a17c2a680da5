//! Claim tokens for anonymous sales (PRODUCT.md, "Member codes", version 2): the receipt's QR
//! code opens `<hq_public_url>/c/<store>-<terminal>-<seq>.<signature>`, where `signature` is
//! the first 10 bytes of HMAC-SHA256(the terminal's claim key, `"<store>-<terminal>-<seq>"`),
//! RFC 4648 base32, upper case, unpadded (16 characters).
//!
//! Each terminal's claim key is 32 random bytes that HQ makes at registration and hands to that
//! terminal alone, so a till can sign claims for its own sales only. Version 1 signed claims
//! with the chain's member key; HQ still verifies those with [`ClaimKey::from`] a
//! [`MemberKey`].

use std::fmt;

use super::{MemberError, MemberKey};

/// A terminal's claim key: 32 bytes, exchanged as 64 lower-case hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimKey(MemberKey);

impl fmt::Debug for ClaimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a key, not even in a debug log.
        f.write_str("ClaimKey(…)")
    }
}

impl ClaimKey {
    /// Parses 64 hex characters; anything else is [`MemberError::KeyShape`].
    pub fn parse_hex(text: &str) -> Result<ClaimKey, MemberError> {
        MemberKey::parse_hex(text).map(ClaimKey)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> ClaimKey {
        ClaimKey(MemberKey::from_bytes(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
}

/// Version 1 signed every terminal's claims with the chain's member key.
impl From<MemberKey> for ClaimKey {
    fn from(key: MemberKey) -> ClaimKey {
        ClaimKey(key)
    }
}

/// The claim token for sale `seq` of `store`/`terminal`: `<store>-<terminal>-<seq>.<signature>`.
pub fn claim_token(key: &ClaimKey, store: &str, terminal: &str, seq: u64) -> String {
    let subject = format!("{store}-{terminal}-{seq}");
    format!("{subject}.{}", key.0.short_mac(&subject))
}

/// Verifies a claim token with any of `keys` (in constant time each); returns (store,
/// terminal, seq), or None for a token of another shape or a signature none of them made.
pub fn verify_claim(keys: &[ClaimKey], token: &str) -> Option<(String, String, u64)> {
    let (subject, signature) = token.rsplit_once('.')?;
    if !keys
        .iter()
        .any(|k| k.0.verify_short_mac(subject, signature))
    {
        return None;
    }
    claim_subject(token)
}

/// The URL printed as the claim QR code.
pub fn claim_url(hq_public_url: &str, token: &str) -> String {
    format!("{}/c/{token}", hq_public_url.trim_end_matches('/'))
}

/// The (store, terminal, seq) a token names, before its signature is checked: which
/// terminal's keys to check it with.
pub fn claim_subject(token: &str) -> Option<(String, String, u64)> {
    let (subject, _) = token.rsplit_once('.')?;
    let mut parts = subject.splitn(3, '-');
    let (store, terminal, seq) = (parts.next()?, parts.next()?, parts.next()?);
    Some((store.to_string(), terminal.to_string(), seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token built straight from the definition above, with the hmac crate.
    fn spec_token(key: &[u8; 32], subject: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(subject.as_bytes());
        let bytes = mac.finalize().into_bytes();
        format!(
            "{subject}.{}",
            data_encoding::BASE32_NOPAD.encode(&bytes[..10])
        )
    }

    #[test]
    fn tokens_match_the_spec_and_verify_only_with_their_terminals_key() {
        let t01 = ClaimKey::from_bytes([1; 32]);
        let t02 = ClaimKey::from_bytes([2; 32]);
        let token = claim_token(&t01, "S001", "T01", 42);
        assert_eq!(token, spec_token(&[1; 32], "S001-T01-42"));
        assert_eq!(token.rsplit_once('.').unwrap().1.len(), 16);
        assert_eq!(
            verify_claim(std::slice::from_ref(&t01), &token),
            Some(("S001".into(), "T01".into(), 42))
        );
        assert_eq!(
            claim_subject(&token),
            Some(("S001".into(), "T01".into(), 42))
        );
        // Another terminal's key verifies nothing of T01's; a changed sequence fails.
        assert_eq!(verify_claim(std::slice::from_ref(&t02), &token), None);
        assert_eq!(
            verify_claim(std::slice::from_ref(&t01), &token.replace("-42.", "-43.")),
            None
        );
        // A token T01's thief makes for T02's sale verifies only with T01's key, which HQ
        // never tries for T02.
        let forged = claim_token(&t01, "S001", "T02", 7);
        assert_eq!(verify_claim(&[t02], &forged), None);
        assert_eq!(
            claim_url("https://hq.example.com/", &token),
            format!("https://hq.example.com/c/{token}")
        );
        for bad in [
            "",
            "S001-T01-42",
            "S001-T01.ABC",
            "S001-T01-x.ABCDEFGHIJKLMNOP",
        ] {
            assert_eq!(verify_claim(std::slice::from_ref(&t01), bad), None, "{bad}");
        }
        assert!(!format!("{t01:?}").contains("0101"), "keys never print");
    }

    #[test]
    fn version_1_tokens_verify_with_the_chain_key_they_were_made_with() {
        let v1 = MemberKey::from_bytes([9; 32]);
        let token = spec_token(&[9; 32], "S001-T01-5");
        assert_eq!(
            verify_claim(&[ClaimKey::from(v1)], &token),
            Some(("S001".into(), "T01".into(), 5))
        );
    }
}
