//! AB-1..AB-3, AB-6: client addresses and the store counters the limits are kept in.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv6Addr};

/// The address a request came from, as the limits count it (AB-3): an IPv4 address, or the
/// /64 an IPv6 address is in (one host usually holds a whole /64), or `unknown` when the
/// transport told nothing (tests, a binding that passes none). An address is no secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientAddr(String);

/// The bucket of requests whose address is not known.
pub const UNKNOWN_ADDR: &str = "unknown";

impl ClientAddr {
    /// The bucket of an IP address: IPv4 as is (an IPv4-mapped IPv6 address too), IPv6 by /64.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientAddr(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientAddr(v4.to_string()),
                None => {
                    let s = v6.segments();
                    let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    ClientAddr(format!("{net}/64"))
                }
            },
        }
    }

    /// The bucket of requests with no known address.
    pub fn unknown() -> Self {
        ClientAddr(UNKNOWN_ADDR.to_owned())
    }

    /// Parses what an operator types: an IP address (IPv6 taken by /64), an IPv6 `…/64`, or
    /// `unknown`. `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == UNKNOWN_ADDR {
            return Some(Self::unknown());
        }
        if let Some(net) = s.strip_suffix("/64") {
            return match net.parse::<IpAddr>().ok()? {
                ip @ IpAddr::V6(_) => Some(Self::from_ip(ip)),
                IpAddr::V4(_) => None,
            };
        }
        s.parse::<IpAddr>().ok().map(Self::from_ip)
    }

    /// The bucket's name (`192.0.2.1`, `2001:db8::/64`, `unknown`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A counter in the store (AB-6): `count` events since its window began; it counts until
/// `expires_at` (seconds), after which it is gone (a read ignores it, the next bump restarts it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// `<group>/<name>`, e.g. `ab1-block/192.0.2.1`.
    pub key: String,
    /// Events in the window.
    pub count: u64,
    /// When the window ends (Unix seconds).
    pub expires_at: crate::time::Timestamp,
}

/// The group of a counter key: the part before the first `/` ([`crate::ports::Store::list_counters`]
/// lists one group).
pub fn counter_group(key: &str) -> &str {
    key.split_once('/').map_or(key, |(g, _)| g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_counted_per_64() {
        // SPEC: AB-1, AB-3
        let a = ClientAddr::from_ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientAddr::from_ip("2001:db8:1:2:bbbb:cccc:dddd:eeee".parse().unwrap());
        let c = ClientAddr::from_ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str(), "2001:db8:1:2::/64");
        assert_eq!(ClientAddr::parse("2001:db8:1:2::/64"), Some(a.clone()));
        assert_eq!(ClientAddr::parse("2001:db8:1:2::9"), Some(a));
        assert_eq!(
            ClientAddr::from_ip("::ffff:192.0.2.7".parse().unwrap()).as_str(),
            "192.0.2.7"
        );
        assert_eq!(ClientAddr::parse("192.0.2.7/64"), None);
        assert_eq!(ClientAddr::parse("nonsense"), None);
        assert_eq!(ClientAddr::parse("unknown"), Some(ClientAddr::unknown()));
    }
}
