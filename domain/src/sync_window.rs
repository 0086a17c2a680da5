//! The nightly window in which a till syncs by itself.

/// The nightly window in which a till syncs by itself, in local time; it may cross midnight
/// (`22:00-02:00`). Parsed from `HH:MM-HH:MM`, which is also how files (config) hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SyncWindow {
    start_minute: u16,
    end_minute: u16,
}

impl SyncWindow {
    /// 02:00–05:00, when stores are shut.
    pub const DEFAULT: SyncWindow = SyncWindow {
        start_minute: 2 * 60,
        end_minute: 5 * 60,
    };

    /// Parses `HH:MM-HH:MM` (24-hour, two digits each). Errors: any other shape, an hour
    /// over 23 or a minute over 59, and an empty window (start = end), each said in words.
    pub fn parse(text: &str) -> Result<SyncWindow, String> {
        let minute = |hhmm: &str| -> Option<u16> {
            let (h, m) = hhmm.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && hhmm.trim().len() == 5).then_some(h * 60 + m)
        };
        let bad = || format!("sync window {text:?} must look like 02:00-05:00");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let (start_minute, end_minute) =
            (minute(start).ok_or_else(bad)?, minute(end).ok_or_else(bad)?);
        if start_minute == end_minute {
            return Err(format!("sync window {text:?} is empty"));
        }
        Ok(SyncWindow {
            start_minute,
            end_minute,
        })
    }

    /// This till's own part of the window: it starts at a point in the window's first half
    /// derived from `identity` (the till's `store/terminal`), the same every night, and ends
    /// with the window. A chain's tills so spread their nightly uploads instead of all
    /// arriving at HQ at the window's first minute, and each keeps at least half the window
    /// for retries.
    pub fn staggered(&self, identity: &str) -> SyncWindow {
        let length = (self.end_minute + MINUTES_A_DAY - self.start_minute) % MINUTES_A_DAY;
        let spread = u64::from(length / 2).max(1);
        // The remainder is below `spread`, at most 720: it fits.
        let offset = u16::try_from(fnv1a(identity.as_bytes()) % spread).unwrap_or(0);
        SyncWindow {
            start_minute: (self.start_minute + offset) % MINUTES_A_DAY,
            end_minute: self.end_minute,
        }
    }

    /// Whether `hour:minute` local time falls inside the window (start inclusive, end not).
    pub fn contains(&self, hour: u8, minute: u8) -> bool {
        let now = u16::from(hour) * 60 + u16::from(minute);
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&now)
        } else {
            now >= self.start_minute || now < self.end_minute
        }
    }
}

const MINUTES_A_DAY: u16 = 24 * 60;

/// 64-bit FNV-1a: a hash that is the same on every machine and in every version (std's
/// hashers promise neither), for spreading tills, not for security.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl TryFrom<String> for SyncWindow {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        SyncWindow::parse(&text)
    }
}

impl From<SyncWindow> for String {
    fn from(window: SyncWindow) -> String {
        window.to_string()
    }
}

impl std::fmt::Display for SyncWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start_minute), hm(self.end_minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(window: &str, hour: u8, minute: u8, inside: bool) {
        let w = SyncWindow::parse(window).unwrap();
        assert_eq!(
            w.contains(hour, minute),
            inside,
            "{window} at {hour:02}:{minute:02}"
        );
    }

    #[test]
    fn each_till_starts_at_its_own_stable_point_in_the_first_half() {
        let window = SyncWindow::DEFAULT;
        let starts: Vec<u16> = (1..=200)
            .map(|t| window.staggered(&format!("S001/T{t:02}")).start_minute)
            .collect();
        assert!(starts.iter().all(|s| (120..210).contains(s)), "{starts:?}");
        let distinct: std::collections::BTreeSet<_> = starts.iter().collect();
        assert!(
            distinct.len() > 60,
            "200 tills spread over 90 minutes: {distinct:?}"
        );
        // The same till, the same start, every night and on every machine.
        assert_eq!(window.staggered("S001/T01"), window.staggered("S001/T01"));
        // FNV-1a's published test vectors (draft-eastlake-fnv), so no platform changes it.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        // Across midnight, and the end stays.
        let late = SyncWindow::parse("23:00-01:00")
            .unwrap()
            .staggered("S009/T03");
        assert_eq!(late.end_minute, 60);
        assert!(
            late.start_minute >= 23 * 60 || late.start_minute < 60,
            "{late}"
        );
        assert!(late.contains(0, 59) && !late.contains(1, 0));
        let short = SyncWindow::parse("02:00-02:01")
            .unwrap()
            .staggered("S001/T01");
        assert_eq!(short.to_string(), "02:00-02:01");
    }

    #[test]
    fn windows_include_their_start_and_may_cross_midnight() {
        check("02:00-05:00", 2, 0, true);
        check("02:00-05:00", 4, 59, true);
        check("02:00-05:00", 5, 0, false);
        check("02:00-05:00", 1, 59, false);
        check("22:00-02:00", 23, 30, true);
        check("22:00-02:00", 1, 0, true);
        check("22:00-02:00", 12, 0, false);
        assert_eq!(SyncWindow::DEFAULT.to_string(), "02:00-05:00");
        for bad in [
            "2-5",
            "02:00",
            "25:00-05:00",
            "02:00-02:00",
            "02:60-03:00",
            "a-b",
        ] {
            assert!(SyncWindow::parse(bad).is_err(), "{bad}");
        }
    }
}
