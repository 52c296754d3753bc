//! The client's address: the TCP peer, or — only when the peer is a trusted proxy — the
//! nearest untrusted address in `X-Forwarded-For`. A client that sends its own
//! `X-Forwarded-For` directly cannot pick its own bucket.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Request;
use ipnet::IpNet;

/// Parses `TRUSTED_PROXIES` (comma-separated IPs or CIDRs).
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    common::config::split_list(list)
        .iter()
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("TRUSTED_PROXIES: {entry:?} is not an IP address or CIDR"))
        })
        .collect()
}

/// The address requests are limited by; `None` when the server was not started with
/// connect info (then the caller falls back to one shared anonymous bucket).
pub fn client_ip<B>(request: &Request<B>, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return Some(peer);
    }
    // Walk the chain from the nearest hop back; the first address that is not one of our
    // proxies is the client as our own proxies saw it.
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.iter().any(|net| net.contains(ip)))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> Request<()> {
        let mut builder = Request::builder();
        if let Some(f) = forwarded {
            builder = builder.header("x-forwarded-for", f);
        }
        let mut r = builder.body(()).unwrap();
        r.extensions_mut().insert(ConnectInfo(
            format!("{peer}:1234").parse::<SocketAddr>().unwrap(),
        ));
        r
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted = parse_trusted("10.0.0.0/8, 127.0.0.1").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Direct client: its header is ignored.
        assert_eq!(
            client_ip(&request("203.0.113.9", Some("1.2.3.4")), &trusted),
            Some(ip("203.0.113.9"))
        );
        // Through our proxy: the nearest untrusted hop.
        assert_eq!(
            client_ip(
                &request("10.1.2.3", Some("1.2.3.4, 198.51.100.7, 10.9.9.9")),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        // Proxy without the header: the proxy itself.
        assert_eq!(
            client_ip(&request("127.0.0.1", None), &trusted),
            Some(ip("127.0.0.1"))
        );
        assert!(parse_trusted("nonsense").is_err());
        assert!(client_ip(&Request::new(()), &trusted).is_none());
    }
}
