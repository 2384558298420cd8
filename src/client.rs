//! Who is calling: the client address used by the rate limits and the access log. It is the
//! socket's peer, unless that peer is one of `--trusted-proxies`; then the one header those
//! proxies write (`--forwarded-header`: `X-Forwarded-For`, or `Forwarded`) is read from the right,
//! skipping trusted hops, and the first address not trusted is the client. The other header is
//! never read: a client can add it beside the proxy's, and the proxy passes it on untouched.
//! Headers are read as bytes, so a hop the client wrote in non-UTF-8 or non-ASCII bytes, to the
//! left of what the proxy appended, cannot hide it. A header sent by anyone else is ignored, so
//! it cannot be spoofed to dodge a rate limit. Pure: no I/O, no application state.

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

/// Which header the trusted proxies write the client into (`--forwarded-header`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx's `$proxy_add_x_forwarded_for`, most
    /// cloud load balancers).
    #[default]
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1, ...` (Envoy, HAProxy, Traefik when set so).
    Forwarded,
}

/// The proxies whose forwarding header is believed (`--trusted-proxies`), and which header that
/// is (`--forwarded-header`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        TrustedProxies { networks, header }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        self.networks.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        if !self.trusts(peer) {
            return ClientAddr(peer);
        }
        let mut client = peer;
        // Right to left: each hop was added by the proxy in front of the next one.
        for hop in hops_from_the_right(headers, self.header) {
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

/// The hops of `which` header, right (the last proxy) to left (the first client); `None` for a
/// hop that is not an IP address. Several header lines are one list, in order (RFC 9110 5.3).
/// Bytes, not text: one malformed hop must not make the hops right of it unreadable.
fn hops_from_the_right(
    headers: &HeaderMap,
    which: ForwardedHeader,
) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    let name = match which {
        ForwardedHeader::XForwardedFor => header::HeaderName::from_static("x-forwarded-for"),
        ForwardedHeader::Forwarded => header::FORWARDED,
    };
    let lines: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
    lines
        .into_iter()
        .rev()
        .flat_map(|line| line.rsplit(|&b| b == b','))
        .map(trim_whitespace)
        // Empty list elements (`a,,b`, a trailing comma) are allowed and mean nothing.
        .filter(|element| !element.is_empty())
        .map(move |element| match which {
            ForwardedHeader::XForwardedFor => parse_node(element),
            ForwardedHeader::Forwarded => forwarded_for(element),
        })
}

/// The node of the `for` parameter of one `Forwarded` element (`for=192.0.2.60;proto=http`).
fn forwarded_for(element: &[u8]) -> Option<IpAddr> {
    element
        .split(|&b| b == b';')
        .filter_map(|pair| {
            let at = pair.iter().position(|&b| b == b'=')?;
            Some((
                trim_whitespace(&pair[..at]),
                trim_whitespace(&pair[at + 1..]),
            ))
        })
        .find(|(name, _)| name.eq_ignore_ascii_case(b"for"))
        .and_then(|(_, node)| {
            let node = match node {
                [b'"', quoted @ .., b'"'] => quoted,
                bare => bare,
            };
            parse_node(node)
        })
}

/// Without the optional white space (spaces and tabs) around a list element or parameter.
fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1` or `[2001:db8::1]:443`; anything else, ASCII or
/// not, is no address.
fn parse_node(node: &[u8]) -> Option<IpAddr> {
    // An address is ASCII; bytes that are not UTF-8 are not one.
    let node = std::str::from_utf8(node).ok()?;
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
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        proxies_writing(ForwardedHeader::XForwardedFor, nets)
    }

    fn proxies_writing(header: ForwardedHeader, nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect(), header)
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let spoofed = headers(&[
            ("x-forwarded-for", b"198.51.100.7"),
            ("forwarded", b"for=198.51.100.8"),
        ]);
        let client = TrustedProxies::default().client(ip("203.0.113.9"), &spoofed);
        assert_eq!(client, ClientAddr(ip("203.0.113.9")));
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let client =
                proxies_writing(header, &["10.0.0.0/8"]).client(ip("203.0.113.9"), &spoofed);
            assert_eq!(client, ClientAddr(ip("203.0.113.9")), "{header:?}");
        }
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_hops_only() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client put a fake address first; the proxies appended the real one and themselves.
        let chain = headers(&[("x-forwarded-for", b"1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &chain),
            ClientAddr(ip("198.51.100.7"))
        );
        // Split across two header lines, same chain.
        let split = headers(&[
            ("x-forwarded-for", b"1.2.3.4"),
            ("x-forwarded-for", b"198.51.100.7, 10.0.0.2"),
        ]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &split),
            ClientAddr(ip("198.51.100.7"))
        );
        // Every hop trusted: the leftmost is the client.
        let internal = headers(&[("x-forwarded-for", b"10.1.1.1, 10.0.0.2")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &internal),
            ClientAddr(ip("10.1.1.1"))
        );
        // An unverifiable hop stops the walk at the last trusted proxy.
        let hidden = headers(&[("x-forwarded-for", b"198.51.100.7, unknown, 10.0.0.2")]);
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
    fn only_the_header_the_proxy_writes_is_read_never_the_one_a_client_adds_beside_it() {
        // nginx appends to X-Forwarded-For and passes a client's own Forwarded on untouched.
        let behind_nginx = headers(&[
            ("forwarded", b"for=192.0.2.60"),
            ("x-forwarded-for", b"198.51.100.1"),
        ]);
        let nginx = proxies_writing(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
        assert_eq!(
            nginx.client(ip("10.0.0.1"), &behind_nginx),
            ClientAddr(ip("198.51.100.1"))
        );
        // A proxy writing Forwarded: a client's X-Forwarded-For is the one ignored.
        let envoy = proxies_writing(ForwardedHeader::Forwarded, &["10.0.0.0/8"]);
        assert_eq!(
            envoy.client(ip("10.0.0.1"), &behind_nginx),
            ClientAddr(ip("192.0.2.60"))
        );
        let only_xff = headers(&[("x-forwarded-for", b"198.51.100.1")]);
        assert_eq!(
            envoy.client(ip("10.0.0.1"), &only_xff),
            ClientAddr(ip("10.0.0.1"))
        );
    }

    #[test]
    fn forwarded_elements_and_their_node_forms_parse() {
        let trusted = proxies_writing(ForwardedHeader::Forwarded, &["10.0.0.0/8", "::1/128"]);
        let chain = headers(&[(
            "forwarded",
            b"for=192.0.2.60;proto=http, proto=https; For=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            trusted.client(ip("::1"), &chain),
            ClientAddr(ip("2001:db8:cafe::17"))
        );
        assert_eq!(parse_node(b"192.0.2.43:47011"), Some(ip("192.0.2.43")));
        assert_eq!(parse_node(b"[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node(b"_hidden"), None);
        assert_eq!(forwarded_for(b"by=10.0.0.1;proto=http"), None);
        // An IPv4-mapped peer is trusted by its IPv4 network.
        let mapped = headers(&[("forwarded", b"for=198.51.100.1")]);
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &mapped),
            ClientAddr(ip("198.51.100.1"))
        );
    }

    #[test]
    fn a_malformed_hop_the_client_wrote_does_not_hide_the_address_the_proxy_appended() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // obs-text, UTF-8 that is not ASCII, and a control-free mess, each left of the real hop.
        for written in [
            &b"\xff\xfe, 198.51.100.7"[..],
            "caf\u{e9}, 198.51.100.7".as_bytes(),
            b"\x80\x81\x82,198.51.100.7 , 10.0.0.2",
        ] {
            let chain = headers(&[("x-forwarded-for", written)]);
            assert_eq!(
                trusted.client(ip("10.0.0.1"), &chain),
                ClientAddr(ip("198.51.100.7")),
                "{written:?}"
            );
        }
        // The client's line and the proxy's line, concatenated in order.
        let lines = headers(&[
            ("x-forwarded-for", b"\xff"),
            ("x-forwarded-for", b"198.51.100.7"),
        ]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &lines),
            ClientAddr(ip("198.51.100.7"))
        );
        // The same for Forwarded, the client's element quoted and unterminated.
        let forwarded = proxies_writing(ForwardedHeader::Forwarded, &["10.0.0.0/8"]);
        let chain = headers(&[("forwarded", b"for=\"\xff\xfe, for=198.51.100.7")]);
        assert_eq!(
            forwarded.client(ip("10.0.0.1"), &chain),
            ClientAddr(ip("198.51.100.7"))
        );
        // A malformed hop right of the last trusted proxy is where the walk stops.
        let garbled = headers(&[("x-forwarded-for", b"198.51.100.7, \xff")]);
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &garbled),
            ClientAddr(ip("10.0.0.1"))
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
