//! Egress safety: a webhook may not reach into the network notifier runs in. A target whose
//! address is loopback, private (RFC 1918, unique local, carrier-grade NAT), link-local (the
//! cloud metadata address among them), unspecified, multicast or broadcast is refused unless a
//! setting allows that class. The check runs at registration (the URL) and at every connection
//! (the resolver below), so a name that resolves differently later (DNS rebinding) is caught
//! too; redirects are not followed and proxies are not used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Words every refusal carries, so that a refused connection is told from a failed one.
pub const REFUSED: &str = "which notifier may not call";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Egress {
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub allow_http: bool,
}

/// Why an address may not be reached, if it may not.
pub fn refusal(policy: &Egress, address: IpAddr) -> Option<&'static str> {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let class = match address {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }?;
    match class {
        "loopback" if policy.allow_loopback => None,
        "private" if policy.allow_private => None,
        other => Some(other),
    }
}

fn v4_class(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = address.octets();
    if address.is_loopback() {
        Some("loopback")
    } else if address.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if address.is_link_local() {
        Some("link-local")
    } else if address.is_unspecified() || address.is_broadcast() || address.is_multicast() || a == 0
    {
        Some("not a unicast address")
    } else {
        None
    }
}

fn v6_class(address: Ipv6Addr) -> Option<&'static str> {
    if address.is_loopback() {
        Some("loopback")
    } else if address.is_unique_local() {
        Some("private")
    } else if address.is_unicast_link_local() {
        Some("link-local")
    } else if address.is_unspecified() || address.is_multicast() {
        Some("not a unicast address")
    } else {
        None
    }
}

/// Checks an endpoint URL as registered: http(s), a host, no credentials, and a literal
/// address only if allowed. Names are checked when they are resolved.
pub fn check_url(policy: &Egress, text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|error| format!("is not a URL: {error}"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err("must be https".to_owned()),
        other => return Err(format!("the scheme {other} is not http(s)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".to_owned());
    }
    let host = url.host_str().ok_or_else(|| "has no host".to_owned())?;
    let literal = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    };
    if let Some(reason) = literal.and_then(|address| refusal(policy, address)) {
        return Err(format!("points at a {reason} address, {REFUSED}"));
    }
    Ok(url)
}

/// The resolver every webhook connection goes through: it refuses a name whose addresses
/// include a forbidden one.
#[derive(Debug, Clone)]
pub struct SafeResolver(pub Egress);

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((address, reason)) = addresses
                .iter()
                .find_map(|address| refusal(&policy, address.ip()).map(|reason| (address, reason)))
            {
                return Err(
                    format!("{host} resolves to {} ({reason}), {REFUSED}", address.ip()).into(),
                );
            }
            let addrs: Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Egress = Egress {
        allow_loopback: false,
        allow_private: false,
        allow_http: false,
    };

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert!(refusal(&STRICT, address).is_some(), "{text} passed");
        }
        assert_eq!(refusal(&STRICT, "93.184.216.34".parse().unwrap()), None);
        let loopback = Egress {
            allow_loopback: true,
            ..STRICT
        };
        assert_eq!(refusal(&loopback, "127.0.0.1".parse().unwrap()), None);
        assert!(refusal(&loopback, "10.0.0.1".parse().unwrap()).is_some());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_when_it_is_called() {
        let name: Name = "localhost".parse().unwrap();
        let refused = SafeResolver(STRICT).resolve(name).await.err().unwrap();
        assert!(refused.to_string().contains(REFUSED), "{refused}");
        let allowed = Egress {
            allow_loopback: true,
            ..STRICT
        };
        let addresses: Vec<SocketAddr> = SafeResolver(allowed)
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
    }

    #[test]
    fn urls_are_checked_as_registered() {
        assert!(check_url(&STRICT, "https://hooks.example.it/combipat").is_ok());
        assert_eq!(
            check_url(&STRICT, "http://hooks.example.it/").unwrap_err(),
            "must be https"
        );
        assert!(
            check_url(&STRICT, "https://127.0.0.1:9000/")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            check_url(&STRICT, "https://localhost/")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(check_url(&STRICT, "https://[::1]/").is_err());
        assert!(check_url(&STRICT, "https://u:p@hooks.example.it/").is_err());
        assert!(check_url(&STRICT, "ftp://hooks.example.it/").is_err());
    }
}
