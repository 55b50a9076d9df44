//! Which addresses a request may reach.
//!
//! A podcast feed names its files' hosts, and anybody can write a feed: a
//! feed on the internet must not make the member's machine fetch
//! `http://127.0.0.1:631/`, the router's admin page or a LAN NAS. So the
//! hosts of a feed that is itself on a public address are [`Reach::Public`]:
//! a literal IP that is loopback, private, link-local, shared (CGNAT),
//! unique-local, multicast or unspecified is refused before any connection,
//! a host name is resolved by [`PublicResolver`] to its public addresses
//! only (so DNS pointing a public name at 127.0.0.1 gets nothing), and every
//! redirect hop is held to the same rule. A feed the member subscribed to on
//! a LAN or loopback address may use such addresses for its files
//! ([`Reach::Any`]), as a library's own mirrors always may.
//!
//! Names pinned in [`ClientConfig::pins`](crate::ClientConfig::pins) resolve
//! to their pinned address and count as public: how a test stands a public
//! host in for loopback (a boundary this machine cannot run otherwise).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

use crate::MirrorError;

/// Where requests to a mirror or source may go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reach {
    /// Anywhere (a library's mirrors; a feed on the member's own network).
    #[default]
    Any,
    /// Public addresses only (the hosts a public feed names).
    Public,
}

/// Whether `ip` is an address on the internet (not this machine, the local
/// network, link-local, shared address space, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || a >= 240 // reserved
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || (a == 192 && b == 0 && v4.octets()[2] == 0)) // IETF protocol assignments
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            // IPv4 inside IPv6: mapped, compatible, NAT64 (RFC 6052, 8215), 6to4.
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            if seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public(embedded(seg[6], seg[7])); // ::a.b.c.d
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1)
            {
                return is_public(embedded(seg[6], seg[7]));
            }
            if seg[0] == 0x2002 {
                return is_public(embedded(seg[1], seg[2]));
            }
            let first = seg[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0) // site-local (deprecated)
        }
    }
}

/// Pinned names: lower-cased host → address.
pub(crate) type Pins = Arc<HashMap<String, SocketAddr>>;

/// Whether `url` may be requested with `reach` (a literal address must be
/// public; a name is checked when it is resolved).
pub(crate) fn check(url: &Url, reach: Reach) -> Result<(), MirrorError> {
    if reach == Reach::Any {
        return Ok(());
    }
    let refuse = |what: &str| {
        Err(MirrorError::NotPublic(format!(
            "{url}: {what}; a feed on the internet may not point there"
        )))
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
            refuse("a loopback, private or link-local address")
        }
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
            refuse("a loopback, private or link-local address")
        }
        Some(url::Host::Domain(d))
            if d.eq_ignore_ascii_case("localhost")
                || d.to_ascii_lowercase().ends_with(".localhost") =>
        {
            refuse("this machine")
        }
        None => refuse("no host"),
        _ => Ok(()),
    }
}

/// Whether `url` is on this machine or the local network: a literal
/// address that is not public, `localhost`, or a name *every* address of
/// which is not public (a public name with one private address among its
/// records is public). Such a feed may name such hosts. Decided once, when
/// the member subscribes, so a later DNS answer cannot change it.
pub(crate) async fn is_local(url: &Url, pins: &Pins) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            if pins.contains_key(&d) {
                return false;
            }
            if d == "localhost" || d.ends_with(".localhost") {
                return true;
            }
            let port = url.port_or_known_default().unwrap_or(80);
            let found = tokio::net::lookup_host((d.as_str(), port)).await;
            match found {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    !addrs.is_empty() && addrs.iter().all(|a| !is_public(a.ip()))
                }
                Err(_) => false,
            }
        }
        None => false,
    }
}

/// Resolves names to their public addresses only (pinned names to their
/// pin): the DNS half of [`Reach::Public`].
pub(crate) struct PublicResolver {
    pub(crate) pins: Pins,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let pins = self.pins.clone();
        Box::pin(async move {
            if let Some(pin) = pins.get(&host) {
                let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(*pin));
                return Ok(addrs);
            }
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} has no public address (a public feed may not point at this machine or the local network)"
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_addresses_are_public() {
        for (ip, public) in [
            ("8.8.8.8", true),
            ("93.184.216.34", true),
            ("127.0.0.1", false),
            ("127.8.9.10", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("169.254.169.254", false), // cloud metadata
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("255.255.255.255", false),
            ("224.0.0.1", false),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fd12:3456::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("2606:4700::1111", true),
            ("198.18.0.1", false),
            ("240.0.0.1", false),
            ("::7f00:1", false),            // IPv4-compatible 127.0.0.1
            ("64:ff9b::a00:1", false),      // NAT64 of 10.0.0.1
            ("64:ff9b::808:808", true),     // NAT64 of 8.8.8.8
            ("64:ff9b:1::c0a8:101", false), // local-use NAT64 of 192.168.1.1
            ("2002:7f00:1::", false),       // 6to4 of 127.0.0.1
            ("2002:808:808::", true),
            ("fec0::1", false),
        ] {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }

    /// The DNS half: a name resolves to its public addresses only (this
    /// machine's `localhost` has none), a pinned name to its pin.
    #[tokio::test]
    async fn names_resolve_to_public_addresses_only() {
        use reqwest::dns::Resolve;
        let pin: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let r = PublicResolver {
            pins: Arc::new(HashMap::from([("podcast.example".to_owned(), pin)])),
        };
        let e = match r.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("no public address"), "{e}");
        let pinned: Vec<SocketAddr> = match r.resolve("podcast.example".parse().unwrap()).await {
            Ok(a) => a.collect(),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(pinned, [pin]);
    }

    #[test]
    fn literal_private_addresses_are_refused_for_public_reach() {
        for (url, ok) in [
            ("https://cdn.example/ep.mp3", true),
            ("http://8.8.8.8/ep.mp3", true),
            ("http://127.0.0.1:631/", false),
            ("http://[::1]/", false),
            ("http://192.168.0.1/admin", false),
            ("http://169.254.169.254/latest/meta-data/", false),
            ("http://localhost:8080/", false),
            ("http://printer.localhost/", false),
        ] {
            let u = Url::parse(url).unwrap();
            assert_eq!(check(&u, Reach::Public).is_ok(), ok, "{url}");
            assert!(check(&u, Reach::Any).is_ok());
        }
    }
}
