//! Logging in: PIN rules, argon2 PIN hashes, and the lockout after repeated wrong PINs.
//!
//! Hashing is deliberately slow (argon2id), so the UI runs [`verify_pin`] on a worker thread.

use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Wrong PINs in a row before the till locks.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long the till stays locked after [`MAX_ATTEMPTS`] wrong PINs.
pub const LOCKOUT: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is 4 to 8 digits")]
    Shape,
}

/// Checks a PIN's shape: 4 to 8 ASCII digits.
pub fn check_pin_shape(pin: &str) -> Result<(), PinError> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::Shape)
    }
}

/// An argon2id hash of `pin` in PHC string form, with a fresh random salt.
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    check_pin_shape(pin)?;
    let mut salt = [0u8; 16];
    salt.iter_mut().for_each(|b| *b = fastrand::u8(..));
    let salt = SaltString::encode_b64(&salt).map_err(|_| PinError::Shape)?;
    Ok(Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|_| PinError::Shape)?
        .to_string())
}

/// Whether `pin` matches `hash`. A damaged hash never matches.
pub fn verify_pin(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Counts wrong PINs and locks the till for [`LOCKOUT`] after [`MAX_ATTEMPTS`] in a row.
/// Time is passed in, so the rule is testable without waiting.
#[derive(Debug, Default)]
pub struct LoginGuard {
    failures: u32,
    locked_until: Option<Instant>,
}

impl LoginGuard {
    /// How long the till is still locked at `now`, if it is.
    pub fn locked_for(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Records a wrong PIN; returns the tries left before the lockout (0 when it has begun).
    pub fn failed(&mut self, now: Instant) -> u32 {
        if self.locked_until.is_some_and(|until| until <= now) {
            self.locked_until = None;
        }
        self.failures += 1;
        if self.failures >= MAX_ATTEMPTS {
            self.failures = 0;
            self.locked_until = Some(now + LOCKOUT);
            return 0;
        }
        MAX_ATTEMPTS - self.failures
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.locked_until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_shapes() {
        fn check(pin: &str, ok: bool) {
            assert_eq!(check_pin_shape(pin).is_ok(), ok, "{pin:?}");
        }
        check("1234", true);
        check("12345678", true);
        check("123", false);
        check("123456789", false);
        check("12a4", false);
        check("１２３４", false);
        check("", false);
    }

    #[test]
    fn a_hash_verifies_only_its_own_pin() {
        let hash = hash_pin("2468").unwrap();
        assert!(
            !hash.contains("2468"),
            "the PIN must not be readable in its hash"
        );
        assert!(verify_pin("2468", &hash));
        assert!(!verify_pin("2469", &hash));
        assert!(!verify_pin("2468", "not a hash"));
        assert_ne!(
            hash,
            hash_pin("2468").unwrap(),
            "each hash has its own salt"
        );
    }

    #[test]
    fn five_wrong_pins_lock_for_thirty_seconds() {
        let start = Instant::now();
        let mut guard = LoginGuard::default();
        for left in [4, 3, 2, 1] {
            assert_eq!(guard.failed(start), left);
            assert_eq!(guard.locked_for(start), None);
        }
        assert_eq!(guard.failed(start), 0);
        assert_eq!(guard.locked_for(start), Some(LOCKOUT));
        assert!(guard.locked_for(start + Duration::from_secs(29)).is_some());
        assert_eq!(guard.locked_for(start + LOCKOUT), None);
        // After the lockout the count starts again.
        assert_eq!(guard.failed(start + LOCKOUT), 4);
    }
}
