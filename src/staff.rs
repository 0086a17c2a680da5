//! Logging in: PIN rules, argon2 PIN hashes, and the lockout after repeated wrong PINs.
//!
//! Hashing is deliberately slow (argon2id), so the UI runs [`verify_pin`] on a worker thread.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Wrong PINs in a row before the till locks.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a PIN prompt stays locked after [`MAX_ATTEMPTS`] wrong PINs; each further
/// lockout before a right PIN doubles it, up to [`LONGEST_LOCKOUT`].
pub const LOCKOUT: Duration = Duration::from_secs(30);
/// The longest lockout: 32 × 30 s = 16 min, reached at the sixth lockout in a row.
pub const LONGEST_LOCKOUT: Duration = Duration::from_secs(30 * 32);

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

/// The PIN prompts, each with its own count of wrong PINs: the login, and the manager's
/// approval (which a cashier could otherwise try PINs at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinPrompt {
    Login,
    Approval,
}

impl PinPrompt {
    /// The prompt's key in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            PinPrompt::Login => "login",
            PinPrompt::Approval => "approval",
        }
    }
}

/// Counts wrong PINs at one prompt and locks it after [`MAX_ATTEMPTS`] in a row: for
/// [`LOCKOUT`], doubling with each lockout until a right PIN (so guessing a 4-digit manager
/// PIN takes months, not hours). Times are wall-clock Unix milliseconds, so the store can keep
/// a lockout across a restart (pulling the plug does not reset it); time is passed in, so the
/// rule is testable without waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinGuard {
    /// Wrong PINs since the last right one or the last lockout.
    pub failures: u32,
    /// Locked until this Unix time in ms; 0 when never locked.
    pub locked_until_ms: i64,
    /// Lockouts since the last right PIN.
    pub lockouts: u32,
}

impl PinGuard {
    /// How long the prompt is still locked at `now_ms`, if it is.
    pub fn locked_for(&self, now_ms: i64) -> Option<Duration> {
        let left = self.locked_until_ms - now_ms;
        // No lockout is longer than LONGEST_LOCKOUT: one that seems longer is a clock that was
        // set back, and must not lock the till until the clock catches up.
        let longest = i64::try_from(LONGEST_LOCKOUT.as_millis()).unwrap_or(i64::MAX);
        (left > 0 && left <= longest)
            .then(|| Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }

    /// Records a wrong PIN; returns the tries left before the lockout (0 when it has begun).
    pub fn failed(&mut self, now_ms: i64) -> u32 {
        self.failures += 1;
        if self.failures >= MAX_ATTEMPTS {
            self.failures = 0;
            let lockout = self.next_lockout();
            self.lockouts = self.lockouts.saturating_add(1);
            self.locked_until_ms = now_ms + i64::try_from(lockout.as_millis()).unwrap_or(i64::MAX);
            return 0;
        }
        MAX_ATTEMPTS - self.failures
    }

    /// How long the next lockout lasts.
    pub fn next_lockout(&self) -> Duration {
        (LOCKOUT * 2u32.saturating_pow(self.lockouts.min(5))).min(LONGEST_LOCKOUT)
    }

    /// How long the lockout that has just begun lasts.
    pub fn last_lockout(&self) -> Duration {
        (LOCKOUT * 2u32.saturating_pow(self.lockouts.saturating_sub(1).min(5))).min(LONGEST_LOCKOUT)
    }

    pub fn succeeded(&mut self) {
        *self = PinGuard::default();
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
        let start = 1_790_000_000_000;
        let mut guard = PinGuard::default();
        for left in [4, 3, 2, 1] {
            assert_eq!(guard.failed(start), left);
            assert_eq!(guard.locked_for(start), None);
        }
        assert_eq!(guard.failed(start), 0);
        assert_eq!(guard.locked_for(start), Some(LOCKOUT));
        assert!(guard.locked_for(start + 29_000).is_some());
        assert_eq!(guard.locked_for(start + 30_000), None);
        // A clock set back a day does not lock the prompt for a day.
        assert_eq!(guard.locked_for(start - 86_400_000), None);
        // After the lockout the count starts again, and each lockout in a row is twice as
        // long as the last, up to 16 minutes.
        let mut now = start + 30_000;
        for expected in [60, 120, 240, 480, 960, 960] {
            assert_eq!(guard.failed(now), 4);
            for _ in 0..3 {
                guard.failed(now);
            }
            assert_eq!(guard.failed(now), 0);
            assert_eq!(guard.last_lockout(), Duration::from_secs(expected));
            assert_eq!(guard.locked_for(now), Some(Duration::from_secs(expected)));
            now += i64::try_from(expected).unwrap() * 1000;
        }
        guard.succeeded();
        assert_eq!(guard, PinGuard::default());
    }
}
