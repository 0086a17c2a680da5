//! What the customers' pages need besides the database: the SMS gateway their one-time codes
//! go out through, and rate limits per address, per phone and per store (GCRA, from the
//! `governor` crate), answered with 429 and `Retry-After`. The limits live in each HQ node's
//! memory: behind a load balancer each node enforces them on the requests it serves.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::sms::{FakeSmsGateway, SmsGateway};

/// How often each key may act: `burst` at once, then one more every `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(self.every.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// The rate limits on the join and claim pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimits {
    /// Any form posted from one IP address (codes asked for and codes typed).
    pub per_address: Rate,
    /// Codes sent to one phone number.
    pub per_phone: Rate,
    /// Codes sent to one phone number in a day: with 5 tries a code, a few dozen guesses a
    /// day at a million codes.
    pub per_phone_daily: Rate,
    /// Codes sent for one store's join page or its receipts' claims.
    pub per_store: Rate,
}

impl Default for PageLimits {
    /// 20 forms from an address, then one a minute; 3 codes to a phone, then one every 2
    /// minutes, and 10 a day; 100 codes for a store, then one every 30 s.
    fn default() -> Self {
        PageLimits {
            per_address: Rate {
                burst: 20,
                every: Duration::from_secs(60),
            },
            per_phone: Rate {
                burst: 3,
                every: Duration::from_secs(120),
            },
            per_phone_daily: Rate {
                burst: 10,
                every: Duration::from_secs(24 * 3600 / 10),
            },
            per_store: Rate {
                burst: 100,
                every: Duration::from_secs(30),
            },
        }
    }
}

/// The customers' pages' dependencies: how codes are sent, and the limits.
#[derive(Clone, Debug)]
pub struct Pages {
    pub sms: Arc<dyn SmsGateway>,
    pub limits: PageLimits,
}

impl Pages {
    /// Codes go to a [`FakeSmsGateway`] that keeps them in memory, with the default limits.
    pub fn fake() -> Pages {
        Pages {
            sms: Arc::new(FakeSmsGateway::default()),
            limits: PageLimits::default(),
        }
    }
}

/// The limiters, one per kind of key.
#[derive(Debug)]
pub(super) struct Limiters {
    address: DefaultKeyedRateLimiter<IpAddr>,
    phone: DefaultKeyedRateLimiter<String>,
    phone_daily: DefaultKeyedRateLimiter<String>,
    store: DefaultKeyedRateLimiter<String>,
}

impl Limiters {
    pub(super) fn new(limits: PageLimits) -> Limiters {
        Limiters {
            address: DefaultKeyedRateLimiter::keyed(limits.per_address.quota()),
            phone: DefaultKeyedRateLimiter::keyed(limits.per_phone.quota()),
            phone_daily: DefaultKeyedRateLimiter::keyed(limits.per_phone_daily.quota()),
            store: DefaultKeyedRateLimiter::keyed(limits.per_store.quota()),
        }
    }

    /// A form from `address`: Ok, or how long until the next is allowed.
    pub(super) fn address(&self, address: IpAddr) -> Result<(), Duration> {
        wait(self.address.check_key(&address))
    }

    /// A code to be sent to the phone with `phone_hash`, for `store`: the phone's limits, then
    /// the store's, must allow it; each one checked counts the request, even if a later one
    /// refuses it.
    pub(super) fn code(&self, phone_hash: &str, store: &str) -> Result<(), Duration> {
        wait(self.phone.check_key(&phone_hash.to_string()))?;
        wait(self.phone_daily.check_key(&phone_hash.to_string()))?;
        wait(self.store.check_key(&store.to_string()))
    }
}

fn wait(
    result: Result<(), governor::NotUntil<<DefaultClock as Clock>::Instant>>,
) -> Result<(), Duration> {
    result.map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// The peer's address, for the per-address limit: what the listener saw (HQ behind a proxy
/// sees the proxy, which then needs limits of its own).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_next_waits() {
        let limits = Limiters::new(PageLimits {
            per_address: Rate {
                burst: 2,
                every: Duration::from_secs(60),
            },
            per_phone: Rate {
                burst: 1,
                every: Duration::from_secs(60),
            },
            per_phone_daily: Rate {
                burst: 5,
                every: Duration::from_secs(3600),
            },
            per_store: Rate {
                burst: 2,
                every: Duration::from_secs(60),
            },
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(limits.address(ip), Ok(()));
        assert_eq!(limits.address(ip), Ok(()));
        let wait = limits.address(ip).unwrap_err();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(
            limits.address("10.0.0.2".parse().unwrap()),
            Ok(()),
            "per address"
        );
        assert_eq!(limits.code("a", "S001"), Ok(()));
        assert!(limits.code("a", "S001").is_err(), "one code per phone");
        assert_eq!(limits.code("b", "S001"), Ok(()));
        assert!(limits.code("c", "S001").is_err(), "two codes per store");
        assert_eq!(limits.code("d", "S002"), Ok(()));
    }
}
