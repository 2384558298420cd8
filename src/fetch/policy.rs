//! Where qrscan may fetch from: the blocked address ranges of API.md section 5, the development
//! escape hatches, host allow/deny lists, and the DNS resolver that enforces the ranges.
//!
//! The ranges are checked on the addresses a name resolves to, inside a `reqwest::dns::Resolve`
//! implementation, so a connection can only ever go to an address that was checked (no DNS
//! rebinding window); IP-literal hosts, which reqwest never resolves, are checked by the caller
//! before sending and on every redirect hop. IPv6 forms that carry an IPv4 address at a fixed
//! place (mapped, compatible, NAT64, 6to4) are judged as that IPv4 address; translation prefixes
//! whose IPv4 is elsewhere or means a private translator (SIIT, local-use NAT64) are blocked
//! whole. Pure apart from the system lookup.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is normally refused; decides which escape hatch opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeClass {
    /// `127/8`, `::1`: opened by `--allow-loopback`.
    Loopback,
    /// RFC 1918, shared address space and unique-local IPv6: opened by `--allow-private`.
    Private,
    /// Everything else on the list (unspecified, link-local, documentation, multicast, ...):
    /// opened only by an explicit `--allow-cidr`.
    Reserved,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> (Ipv4Addr, u8) {
    (Ipv4Addr::new(a, b, c, d), len)
}

/// The IPv4 rows of API.md section 5.
const BLOCKED_V4: [((Ipv4Addr, u8), RangeClass); 14] = [
    (v4(0, 0, 0, 0, 8), RangeClass::Reserved),
    (v4(10, 0, 0, 0, 8), RangeClass::Private),
    (v4(100, 64, 0, 0, 10), RangeClass::Private),
    (v4(127, 0, 0, 0, 8), RangeClass::Loopback),
    (v4(169, 254, 0, 0, 16), RangeClass::Reserved),
    (v4(172, 16, 0, 0, 12), RangeClass::Private),
    (v4(192, 0, 0, 0, 24), RangeClass::Reserved),
    (v4(192, 0, 2, 0, 24), RangeClass::Reserved),
    (v4(192, 168, 0, 0, 16), RangeClass::Private),
    (v4(198, 18, 0, 0, 15), RangeClass::Reserved),
    (v4(198, 51, 100, 0, 24), RangeClass::Reserved),
    (v4(203, 0, 113, 0, 24), RangeClass::Reserved),
    (v4(224, 0, 0, 0, 4), RangeClass::Reserved),
    (v4(240, 0, 0, 0, 4), RangeClass::Reserved),
];

/// The IPv6 rows that do not carry an IPv4 address, and the translation prefixes whose IPv4
/// is not reliably where `embedded_ipv4` looks (or means another host): blocked whole.
const BLOCKED_V6: [((Ipv6Addr, u8), RangeClass); 10] = [
    ((Ipv6Addr::UNSPECIFIED, 128), RangeClass::Reserved),
    ((Ipv6Addr::LOCALHOST, 128), RangeClass::Loopback),
    (
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
        RangeClass::Private,
    ),
    (
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        RangeClass::Reserved,
    ),
    (
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
        RangeClass::Reserved,
    ),
    (
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
        RangeClass::Reserved,
    ),
    // SIIT's IPv4-translated addresses (RFC 2765): `::ffff:0:a.b.c.d` reaches a.b.c.d through a
    // translator, so judging it as a plain IPv6 address let `::ffff:0:7f00:1` through.
    (
        (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96),
        RangeClass::Reserved,
    ),
    // Local-use NAT64 (RFC 8215): the IPv4 may sit at any of RFC 6052's offsets, and the
    // translator is the operator's own, so no address in it is public.
    (
        (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
        RangeClass::Reserved,
    ),
    // Discard-only (RFC 6666): a black hole by design; nothing to fetch there.
    (
        (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
        RangeClass::Reserved,
    ),
    // Deprecated site-local (RFC 3879): still routed inside some old networks, like fc00::/7.
    (
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
        RangeClass::Reserved,
    ),
];

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    Ipv4Net::new(net, len).is_ok_and(|n| n.contains(&ip))
}

fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u8)) -> bool {
    Ipv6Net::new(net, len).is_ok_and(|n| n.contains(&ip))
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible
/// (`::/96`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        // `::` and `::1` are in `::/96` too; they are listed on their own and handled there.
        if ip == Ipv6Addr::UNSPECIFIED || ip == Ipv6Addr::LOCALHOST {
            return None;
        }
        return Some(low32);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low32);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// The blocked range an address falls in, if any, with IPv6 forms judged by the IPv4 they carry.
pub fn blocked_range(ip: IpAddr) -> Option<RangeClass> {
    match ip {
        IpAddr::V4(ip) => BLOCKED_V4
            .iter()
            .find(|(net, _)| in_v4(ip, *net))
            .map(|(_, class)| *class),
        IpAddr::V6(ip) => match embedded_ipv4(ip) {
            Some(inner) => blocked_range(IpAddr::V4(inner)),
            None => BLOCKED_V6
                .iter()
                .find(|(net, _)| in_v6(ip, *net))
                .map(|(_, class)| *class),
        },
    }
}

/// Which destinations are allowed: the blocked ranges minus the escape hatches that are on.
#[derive(Clone, Debug, Default)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub allow_cidrs: Vec<IpNet>,
}

impl AddressPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let carried = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let explicitly_allowed = self
            .allow_cidrs
            .iter()
            .any(|net| net.contains(&ip) || carried.is_some_and(|c| net.contains(&c)));
        if explicitly_allowed {
            return true;
        }
        match blocked_range(ip) {
            None => true,
            Some(RangeClass::Loopback) => self.allow_loopback,
            Some(RangeClass::Private) => self.allow_private,
            Some(RangeClass::Reserved) => false,
        }
    }

    /// One line for the start-up log.
    pub fn summary(&self) -> String {
        let cidrs: Vec<String> = self.allow_cidrs.iter().map(ToString::to_string).collect();
        format!(
            "loopback {}, private {}, extra CIDRs [{}]",
            if self.allow_loopback {
                "allowed"
            } else {
                "blocked"
            },
            if self.allow_private {
                "allowed"
            } else {
                "blocked"
            },
            cidrs.join(", ")
        )
    }
}

/// A host list entry: `example.com` (exactly) or `*.example.com` (any subdomain of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Subdomains(String),
}

impl std::str::FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let pattern = match s.strip_prefix("*.") {
            Some(suffix) => HostPattern::Subdomains(suffix.to_owned()),
            None => HostPattern::Exact(s.clone()),
        };
        match &pattern {
            HostPattern::Exact(h) | HostPattern::Subdomains(h)
                if h.is_empty() || h.contains(['*', '/', ':', '@']) =>
            {
                Err(format!("`{s}` is not a host name or `*.suffix` pattern"))
            }
            _ => Ok(pattern),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(h) => write!(f, "{h}"),
            HostPattern::Subdomains(h) => write!(f, "*.{h}"),
        }
    }
}

impl HostPattern {
    /// Whether `host` (lower case, without a trailing dot) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host == h,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        }
    }
}

/// The host lists: denied hosts are never fetched; a non-empty allow list admits only its hosts.
#[derive(Clone, Debug, Default)]
pub struct HostPolicy {
    pub allow: Vec<HostPattern>,
    pub deny: Vec<HostPattern>,
}

impl HostPolicy {
    /// Whether a URL host (any spelling; normalised here) may be fetched.
    pub fn permits(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.deny.iter().any(|p| p.matches(&host)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|p| p.matches(&host))
    }
}

/// A DNS lookup, replaceable so tests can return any address without sending a packet.
pub trait Lookup: Send + Sync + 'static {
    /// All addresses `host` resolves to.
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver (getaddrinfo, through tokio).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A resolver failure, kept as a type so the fetcher can tell "blocked" from "does not resolve".
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("the host resolves only to blocked addresses")]
    Blocked,
    #[error("the host name could not be resolved: {0}")]
    Lookup(io::Error),
}

/// The resolver reqwest connects through: it drops blocked addresses and fails when none remain.
pub struct PolicyResolver {
    policy: Arc<AddressPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl PolicyResolver {
    /// A resolver applying `policy` to what `lookup` returns.
    pub fn new(policy: Arc<AddressPolicy>, lookup: Arc<dyn Lookup>) -> Self {
        PolicyResolver { policy, lookup }
    }

    /// The allowed addresses of `host`, or why there are none.
    pub async fn resolve_allowed(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = self
            .lookup
            .lookup(host)
            .await
            .map_err(ResolveError::Lookup)?;
        if addrs.is_empty() {
            return Err(ResolveError::Lookup(io::Error::new(
                io::ErrorKind::NotFound,
                "no addresses",
            )));
        }
        let allowed: Vec<IpAddr> = addrs
            .into_iter()
            .filter(|ip| self.policy.permits(*ip))
            .collect();
        if allowed.is_empty() {
            return Err(ResolveError::Blocked);
        }
        Ok(allowed)
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = PolicyResolver {
            policy: self.policy.clone(),
            lookup: self.lookup.clone(),
        };
        Box::pin(async move {
            let allowed = resolver.resolve_allowed(name.as_str()).await?;
            // The port is a placeholder: the connector sets the URL's port.
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_blocked_ipv4_range_is_blocked_at_both_edges_and_open_just_outside() {
        // (first, last, just below, just above) of each range of API.md section 5.
        let rows = [
            ("0.0.0.0", "0.255.255.255", None, Some("1.0.0.0")),
            (
                "10.0.0.0",
                "10.255.255.255",
                Some("9.255.255.255"),
                Some("11.0.0.0"),
            ),
            (
                "100.64.0.0",
                "100.127.255.255",
                Some("100.63.255.255"),
                Some("100.128.0.0"),
            ),
            (
                "127.0.0.0",
                "127.255.255.255",
                Some("126.255.255.255"),
                Some("128.0.0.0"),
            ),
            (
                "169.254.0.0",
                "169.254.255.255",
                Some("169.253.255.255"),
                Some("169.255.0.0"),
            ),
            (
                "172.16.0.0",
                "172.31.255.255",
                Some("172.15.255.255"),
                Some("172.32.0.0"),
            ),
            (
                "192.0.0.0",
                "192.0.0.255",
                Some("191.255.255.255"),
                Some("192.0.1.0"),
            ),
            (
                "192.0.2.0",
                "192.0.2.255",
                Some("192.0.1.255"),
                Some("192.0.3.0"),
            ),
            (
                "192.168.0.0",
                "192.168.255.255",
                Some("192.167.255.255"),
                Some("192.169.0.0"),
            ),
            (
                "198.18.0.0",
                "198.19.255.255",
                Some("198.17.255.255"),
                Some("198.20.0.0"),
            ),
            (
                "198.51.100.0",
                "198.51.100.255",
                Some("198.51.99.255"),
                Some("198.51.101.0"),
            ),
            (
                "203.0.113.0",
                "203.0.113.255",
                Some("203.0.112.255"),
                Some("203.0.114.0"),
            ),
            (
                "224.0.0.0",
                "239.255.255.255",
                Some("223.255.255.255"),
                None,
            ),
            ("240.0.0.0", "255.255.255.255", None, None),
        ];
        let policy = AddressPolicy::default();
        for (first, last, below, above) in rows {
            assert!(!policy.permits(ip(first)), "{first}");
            assert!(!policy.permits(ip(last)), "{last}");
            for outside in [below, above].into_iter().flatten() {
                // Some neighbours are themselves in the next blocked range (239.255.255.255 -> 240/4).
                if blocked_range(ip(outside)).is_none() {
                    assert!(policy.permits(ip(outside)), "{outside} next to {first}");
                }
            }
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "223.255.255.255",
            "11.0.0.0",
        ] {
            assert!(policy.permits(ip(public)), "{public}");
        }
    }

    #[test]
    fn every_blocked_ipv6_range_is_blocked_at_both_edges() {
        let blocked = [
            "::",
            "::1",
            "fc00::",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ff00::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        let open = [
            "::2:0:0:0",
            "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
        ];
        let policy = AddressPolicy::default();
        for s in blocked {
            assert!(!policy.permits(ip(s)), "{s}");
        }
        for s in open {
            assert!(policy.permits(ip(s)), "{s}");
        }
    }

    #[test]
    fn translation_discard_and_site_local_ipv6_ranges_are_blocked_at_both_edges_and_open_outside() {
        // (range, first, last, just below, just above). Unit level only: nothing is sent.
        let rows = [
            (
                "::ffff:0:0:0/96",
                "::ffff:0:0:0",
                "::ffff:0:ffff:ffff",
                "::fffe:ffff:ffff:ffff",
                "::ffff:1:0:0",
            ),
            (
                "64:ff9b:1::/48",
                "64:ff9b:1::",
                "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
                "64:ff9b:0:ffff:ffff:ffff:ffff:ffff",
                "64:ff9b:2::",
            ),
            (
                "100::/64",
                "100::",
                "100::ffff:ffff:ffff:ffff",
                "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "100:0:0:1::",
            ),
            (
                "fec0::/10",
                "fec0::",
                "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ff00::",
            ),
        ];
        let policy = AddressPolicy::default();
        for (range, first, last, below, above) in rows {
            let net: IpNet = range.parse().unwrap();
            assert_eq!(net.network(), ip(first), "{range}");
            assert_eq!(net.broadcast(), ip(last), "{range}");
            for inside in [first, last] {
                assert_eq!(
                    blocked_range(ip(inside)),
                    Some(RangeClass::Reserved),
                    "{inside}"
                );
                assert!(!policy.permits(ip(inside)), "{inside}");
            }
            for outside in [below, above] {
                assert!(!net.contains(&ip(outside)), "{outside} next to {range}");
                // fec0::/10 sits between link-local and multicast, both blocked on their own.
                if blocked_range(ip(outside)).is_none() {
                    assert!(policy.permits(ip(outside)), "{outside} next to {range}");
                }
            }
        }
        // Issue 14's spelling of loopback through SIIT; a public IPv4 through it is blocked too.
        assert!(!policy.permits(ip("::ffff:0:7f00:1")));
        assert!(!policy.permits(ip("::ffff:0:808:808")));
        // Only an explicit --allow-cidr opens them.
        let cidr = AddressPolicy {
            allow_cidrs: vec!["100::/64".parse().unwrap()],
            ..AddressPolicy::default()
        };
        assert!(cidr.permits(ip("100::1")));
        assert!(!cidr.permits(ip("fec0::1")));
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4_address() {
        let policy = AddressPolicy::default();
        for s in [
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::0.0.0.2",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "::ffff:0.0.0.0",
        ] {
            assert!(!policy.permits(ip(s)), "{s}");
        }
        for s in [
            "::ffff:8.8.8.8",
            "64:ff9b::1.1.1.1",
            "2002:0808:0808::1",
            "::8.8.4.4",
        ] {
            assert!(policy.permits(ip(s)), "{s}");
        }
    }

    #[test]
    fn escape_hatches_open_only_their_own_ranges() {
        let loopback = AddressPolicy {
            allow_loopback: true,
            ..AddressPolicy::default()
        };
        assert!(loopback.permits(ip("127.0.0.1")));
        assert!(loopback.permits(ip("::1")));
        assert!(loopback.permits(ip("::ffff:127.0.0.1")));
        assert!(!loopback.permits(ip("10.0.0.1")));
        assert!(!loopback.permits(ip("0.0.0.0")));
        assert!(!loopback.permits(ip("169.254.169.254")));

        let private = AddressPolicy {
            allow_private: true,
            ..AddressPolicy::default()
        };
        for s in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(private.permits(ip(s)), "{s}");
        }
        assert!(!private.permits(ip("127.0.0.1")));
        assert!(!private.permits(ip("169.254.169.254")));

        let cidr = AddressPolicy {
            allow_cidrs: vec!["127.0.0.2/32".parse().unwrap()],
            ..AddressPolicy::default()
        };
        assert!(cidr.permits(ip("127.0.0.2")));
        assert!(cidr.permits(ip("::ffff:127.0.0.2")));
        assert!(!cidr.permits(ip("127.0.0.1")));
    }

    #[test]
    fn host_patterns_match_exactly_or_subdomains_only() {
        let exact: HostPattern = "Images.Example.com.".parse().unwrap();
        assert!(exact.matches("images.example.com"));
        assert!(!exact.matches("x.images.example.com"));
        let sub: HostPattern = "*.example.com".parse().unwrap();
        assert!(sub.matches("a.example.com"));
        assert!(sub.matches("a.b.example.com"));
        assert!(!sub.matches("example.com"));
        assert!(!sub.matches("badexample.com"));
        assert!("*.".parse::<HostPattern>().is_err());
        assert!("a/b".parse::<HostPattern>().is_err());
    }

    #[test]
    fn deny_wins_over_allow_and_a_non_empty_allow_list_is_exclusive() {
        let hosts = HostPolicy {
            allow: vec!["*.example.com".parse().unwrap()],
            deny: vec!["bad.example.com".parse().unwrap()],
        };
        assert!(hosts.permits("img.example.com"));
        assert!(hosts.permits("IMG.EXAMPLE.COM."));
        assert!(!hosts.permits("bad.example.com"));
        assert!(!hosts.permits("other.org"));
        assert!(HostPolicy::default().permits("anything.org"));
    }

    /// A lookup that answers from a table and never touches the network.
    struct StubLookup(Vec<IpAddr>);

    impl Lookup for StubLookup {
        fn lookup(
            &self,
            _host: &str,
        ) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
            let addrs = self.0.clone();
            Box::pin(async move { Ok(addrs) })
        }
    }

    fn resolver(addrs: &[&str], policy: AddressPolicy) -> PolicyResolver {
        PolicyResolver::new(
            Arc::new(policy),
            Arc::new(StubLookup(addrs.iter().map(|s| ip(s)).collect())),
        )
    }

    #[tokio::test]
    async fn the_resolver_fails_when_a_name_resolves_only_to_blocked_addresses() {
        for addrs in [
            &["10.0.0.5"][..],
            &["169.254.169.254"],
            &["127.0.0.1", "::1"],
            &["192.168.0.1", "fd12::1", "::ffff:172.16.0.1"],
            &["0.0.0.0"],
        ] {
            let result = resolver(addrs, AddressPolicy::default())
                .resolve_allowed("rebind.example")
                .await;
            assert!(matches!(result, Err(ResolveError::Blocked)), "{addrs:?}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_blocked_addresses_and_keeps_the_rest() {
        let allowed = resolver(
            &["10.0.0.5", "93.184.216.34", "::1"],
            AddressPolicy::default(),
        )
        .resolve_allowed("mixed.example")
        .await
        .unwrap();
        assert_eq!(allowed, vec![ip("93.184.216.34")]);
    }

    #[tokio::test]
    async fn the_resolver_reports_a_name_without_addresses_as_a_lookup_failure() {
        let result = resolver(&[], AddressPolicy::default())
            .resolve_allowed("nothing.example")
            .await;
        assert!(matches!(result, Err(ResolveError::Lookup(_))));
    }

    #[tokio::test]
    async fn the_reqwest_resolver_yields_only_allowed_addresses() {
        use reqwest::dns::Resolve;
        let r = resolver(&["10.0.0.5", "93.184.216.34"], AddressPolicy::default());
        let name: reqwest::dns::Name = "mixed.example".parse().unwrap();
        let addrs: Vec<SocketAddr> = r.resolve(name).await.unwrap().collect();
        assert_eq!(addrs, vec![SocketAddr::new(ip("93.184.216.34"), 0)]);
        let name: reqwest::dns::Name = "private.example".parse().unwrap();
        let blocked = resolver(&["10.0.0.5"], AddressPolicy::default())
            .resolve(name)
            .await;
        assert!(blocked.is_err());
    }
}
