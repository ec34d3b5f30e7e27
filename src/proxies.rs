//! Reverse proxies: which peers are trusted to say who their client is, and the rule that finds
//! the client's address behind them. Without trusted proxies the peer is the client, whatever a
//! request's headers claim.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The networks (CIDRs; a bare address is a network of one) whose forwarded headers are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `["10.0.0.0/8", "::1"]`, or one text of them separated by commas (as an environment
    /// variable gives it).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in entries
            .into_iter()
            .flat_map(|e| e.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let network = match entry.parse::<IpNet>() {
                Ok(network) => network,
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("{entry:?} is not a network (10.0.0.0/8) or an address (10.0.0.1)")
                })?,
            };
            networks.push(network.trunc());
        }
        Ok(Self(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|network| network.contains(&ip))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&shown.join(", "))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(IpNet::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            List(Vec<String>),
            Text(String),
        }
        let given = Given::deserialize(deserializer)?;
        let entries = match &given {
            Given::List(list) => list.iter().map(String::as_str).collect(),
            Given::Text(text) => vec![text.as_str()],
        };
        Self::parse(entries).map_err(serde::de::Error::custom)
    }
}

/// The header the trusted proxies keep: each appends the address it received the request from.
/// Only one is read, because a proxy passes the other one through as the client wrote it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`: nginx, HAProxy, Caddy, Traefik, cloud
    /// load balancers.
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }

    /// The addresses one value of the header lists, left to right; `None` for an entry that is
    /// no address (`unknown`, an obfuscated name, garbage).
    fn addresses(self, value: &str) -> Vec<Option<IpAddr>> {
        value
            .split(',')
            .map(|element| match self {
                Self::XForwardedFor => address(element),
                Self::Forwarded => element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| address(node)),
            })
            .collect()
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    let bare = node
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(node);
    bare.parse::<IpAddr>()
        .or_else(|_| node.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
/// address of the header that is not a trusted proxy (each proxy appends its own peer, so
/// what lies left of the first untrusted one was written by the client and proves nothing).
/// `values` are the header's values in the order they came. An entry that is no address where
/// one is needed stops the walk at the last trusted hop, which then stands for the client.
pub fn client_address<'a>(
    peer: IpAddr,
    trusted: &TrustedProxies,
    header: ForwardedHeader,
    values: impl Iterator<Item = &'a str>,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    let hops: Vec<Option<IpAddr>> = values.flat_map(|v| header.addresses(v)).collect();
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list.iter().copied()).unwrap()
    }

    fn client(peer: &str, trusted: &[&str], header: ForwardedHeader, values: &[&str]) -> IpAddr {
        client_address(ip(peer), &proxies(trusted), header, values.iter().copied())
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn networks_addresses_and_comma_separated_text_are_read_and_anything_else_refused() {
        let list = TrustedProxies::parse(["10.0.0.0/8, 192.168.1.7", "fd00::/8", "::1"]).unwrap();
        assert_eq!(
            list.to_string(),
            "10.0.0.0/8, 192.168.1.7/32, fd00::/8, ::1/128"
        );
        assert!(list.contains(ip("10.200.3.4")));
        assert!(
            list.contains(ip("::ffff:10.1.1.1")),
            "an IPv4 peer on an IPv6 socket"
        );
        assert!(!list.contains(ip("192.168.1.8")));
        for bad in ["10.0.0.0/33", "localhost", "10.0.0", "*"] {
            assert!(TrustedProxies::parse([bad]).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse([""]).unwrap().is_empty());
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        assert_eq!(
            client("127.0.0.1", &[], XFF, &["203.0.113.9"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            client("198.51.100.2", &["10.0.0.0/8"], XFF, &["203.0.113.9"]),
            ip("198.51.100.2"),
            "a peer that is no trusted proxy"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_right_most_untrusted_address() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            client("10.0.0.2", &trusted, XFF, &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // The client wrote the first two; the proxy appended the third.
        assert_eq!(
            client(
                "10.0.0.2",
                &trusted,
                XFF,
                &["1.1.1.1, 10.9.9.9, 203.0.113.9"]
            ),
            ip("203.0.113.9")
        );
        // Two proxies: the second appended the first's address.
        assert_eq!(
            client(
                "10.0.0.2",
                &trusted,
                XFF,
                &["6.6.6.6, 203.0.113.9, 10.0.0.1"]
            ),
            ip("203.0.113.9")
        );
        // Values on several header lines read as one list, in order.
        assert_eq!(
            client("10.0.0.2", &trusted, XFF, &["6.6.6.6", "203.0.113.9:4711"]),
            ip("203.0.113.9")
        );
        // No header, or only trusted hops: the farthest trusted hop.
        assert_eq!(client("10.0.0.2", &trusted, XFF, &[]), ip("10.0.0.2"));
        assert_eq!(
            client("10.0.0.2", &trusted, XFF, &["10.0.0.1"]),
            ip("10.0.0.1")
        );
        // Garbage where an address is needed: the walk stops at the last trusted hop.
        assert_eq!(
            client("10.0.0.2", &trusted, XFF, &["1.1.1.1, nonsense"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn the_forwarded_header_gives_its_for_parameters() {
        let trusted = ["127.0.0.1"];
        let forwarded = ForwardedHeader::Forwarded;
        assert_eq!(
            client(
                "127.0.0.1",
                &trusted,
                forwarded,
                &["for=6.6.6.6;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=x"]
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client(
                "127.0.0.1",
                &trusted,
                forwarded,
                &["for=\"192.0.2.43:47011\""]
            ),
            ip("192.0.2.43")
        );
        assert_eq!(
            client(
                "127.0.0.1",
                &trusted,
                forwarded,
                &["for=6.6.6.6, for=unknown"]
            ),
            ip("127.0.0.1"),
            "an unknown hop stops the walk"
        );
    }
}
