//! Who is calling: the client address used by the rate limits and the access log. It is the
//! socket's peer, unless that peer is one of `--trusted-proxies`; then the `Forwarded` (or, when
//! there is none, `X-Forwarded-For`) chain is read from the right, skipping trusted hops, and the
//! first address not trusted is the client. A header sent by anyone else is ignored, so it cannot
//! be spoofed to dodge a rate limit. Pure: no I/O, no application state.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

/// The address a request is attributed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// For a request whose socket address is not known (never on a real listener).
    pub const UNKNOWN: ClientAddr = ClientAddr(IpAddr::V6(Ipv6Addr::UNSPECIFIED));

    /// The address a rate-limit bucket is kept for: IPv4 as it is, IPv6 by its /64, the
    /// smallest network one subscriber gets, so rotating within it earns no fresh bucket.
    pub fn bucket(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(Ipv6Addr::from(prefix))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The proxies whose forwarding headers are believed (`--trusted-proxies`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        if !self.trusts(peer) {
            return ClientAddr(peer);
        }
        let mut client = peer;
        // Right to left: each hop was added by the proxy in front of the next one.
        for hop in forwarded_chain(headers).into_iter().rev() {
            match hop {
                // A hop we cannot verify (`unknown`, an obfuscated name, garbage) ends the walk:
                // nothing to its left was vouched for by a proxy we trust.
                None => break,
                Some(address) => {
                    client = address;
                    if !self.trusts(address) {
                        break;
                    }
                }
            }
        }
        ClientAddr(client)
    }
}

/// The hops of the forwarding headers, left (first client) to right (last proxy); `None` for a
/// hop that is not an IP address. `Forwarded` (RFC 7239) wins when present.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or(",").split(','))
            .map(str::trim)
            .filter(|element| !element.is_empty())
            .collect::<Vec<_>>()
    };
    let forwarded = values(header::FORWARDED);
    if !forwarded.is_empty() {
        return forwarded
            .into_iter()
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
            })
            .collect();
    }
    values(header::HeaderName::from_static("x-forwarded-for"))
        .into_iter()
        .map(parse_node)
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_node(node: &str) -> Option<IpAddr> {
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = node.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<IpAddr>().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let spoofed = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=198.51.100.8"),
        ]);
        let client = TrustedProxies::default().client(ip("203.0.113.9"), &spoofed);
        assert_eq!(client, ClientAddr(ip("203.0.113.9")));
        let client = proxies(&["10.0.0.0/8"]).client(ip("203.0.113.9"), &spoofed);
        assert_eq!(client, ClientAddr(ip("203.0.113.9")));
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_hops_only() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client put a fake address first; the proxies appended the real one and themselves.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &chain),
            ClientAddr(ip("198.51.100.7"))
        );
        // Split across two header lines, same chain.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.2"),
        ]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &split),
            ClientAddr(ip("198.51.100.7"))
        );
        // Every hop trusted: the leftmost is the client.
        let internal = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.2")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &internal),
            ClientAddr(ip("10.1.1.1"))
        );
        // An unverifiable hop stops the walk at the last trusted proxy.
        let hidden = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.2")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &hidden),
            ClientAddr(ip("10.0.0.2"))
        );
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ClientAddr(ip("10.0.0.1"))
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_its_node_forms_parse() {
        let trusted = proxies(&["10.0.0.0/8", "::1/128"]);
        let both = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            (
                "forwarded",
                "for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\"",
            ),
        ]);
        assert_eq!(
            trusted.client(ip("::1"), &both),
            ClientAddr(ip("2001:db8:cafe::17"))
        );
        assert_eq!(parse_node("192.0.2.43:47011"), Some(ip("192.0.2.43")));
        assert_eq!(parse_node("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("_hidden"), None);
        // An IPv4-mapped peer is trusted by its IPv4 network.
        let mapped = headers(&[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &mapped),
            ClientAddr(ip("198.51.100.1"))
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let a = ClientAddr(ip("2001:db8:1:2:aaaa::1")).bucket();
        let b = ClientAddr(ip("2001:db8:1:2:bbbb::2")).bucket();
        let other = ClientAddr(ip("2001:db8:1:3::1")).bucket();
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(ClientAddr(ip("::ffff:192.0.2.1")).bucket(), ip("192.0.2.1"));
        assert_eq!(ClientAddr(ip("192.0.2.1")).bucket(), ip("192.0.2.1"));
    }
}
