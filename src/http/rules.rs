//! The header rules of the Streamable HTTP transport, as pure functions: DNS-rebinding
//! protection (`Origin`, `Host`, and whether the listener counts as loopback), content
//! negotiation (`Accept`, `Content-Type`) and the `MCP-Protocol-Version` header.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use rmcp::model::ProtocolVersion;

/// MCP revisions whose `MCP-Protocol-Version` header the proxy accepts: the session-based
/// revisions of Streamable HTTP (rmcp's model names them).
pub const SUPPORTED_PROTOCOL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
];

/// Host names that always mean "this machine" (IPv6 only in its bracketed URI form, the only
/// form a `Host` or `Origin` can carry).
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Whether a listener bound to `addr` is reachable only from this machine. An IPv4-mapped
/// IPv6 loopback (`::ffff:127.0.0.1`) is loopback too, although `Ipv6Addr::is_loopback` says no.
pub fn is_loopback_bind(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether a browser `Origin` may talk to the proxy: localhost origins always may (with any
/// port), others only when listed in `--allow-origin` (or when it lists `*`).
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if allowed
        .iter()
        .any(|entry| entry == "*" || entry.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    Authority::parse(rest).is_some_and(|authority| is_loopback_name(authority.host))
}

/// Whether a `Host` header is acceptable. Bound to loopback, only loopback names (and
/// `--allow-host` entries) are: that is what stops DNS rebinding. Bound elsewhere, any host is,
/// unless `--allow-host` names some. A malformed `Host` is never acceptable.
///
/// An `--allow-host` entry with a port (`proxy.internal:8443`) matches that host and port
/// only; one without a port matches the host on any port.
pub fn host_allowed(host: &str, bound_to_loopback: bool, allowed: &[String]) -> bool {
    let Some(authority) = Authority::parse(host.trim()) else {
        return false;
    };
    if allowed
        .iter()
        .any(|entry| entry == "*" || authority.matches_entry(entry.trim()))
    {
        return true;
    }
    if bound_to_loopback {
        is_loopback_name(authority.host)
    } else {
        allowed.is_empty()
    }
}

/// Every `Accept` field line of a request, joined with `,`. RFC 9110 §5.3: a field sent on
/// several lines means the same as one line with the values comma-separated, so
/// `Accept: application/json` plus `Accept: text/event-stream` admits both. Lines that are not
/// visible ASCII are skipped. No `Accept` at all gives `""`, which admits nothing.
pub fn accept_values(headers: &HeaderMap) -> String {
    let lines: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    lines.join(",")
}

/// Whether `Accept` admits both `application/json` and `text/event-stream` (POST).
pub fn accepts_json_and_sse(accept: &str) -> bool {
    accepts(accept, "application", "json") && accepts(accept, "text", "event-stream")
}

/// Whether `Accept` admits `text/event-stream` (GET).
pub fn accepts_sse(accept: &str) -> bool {
    accepts(accept, "text", "event-stream")
}

/// Whether `Content-Type` is `application/json` (parameters such as charset allowed).
pub fn is_json_content_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether an `MCP-Protocol-Version` header value is supported.
pub fn protocol_version_supported(version: &str) -> bool {
    let version = version.trim();
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .any(|supported| supported.as_str() == version)
}

/// The first revision whose clients expect a priming event (an SSE event with an id and empty
/// data) at the start of a stream; older clients try to parse its empty data as JSON.
pub const PRIMING_SINCE: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// Whether a client speaking `version` (a `YYYY-MM-DD` revision) gets priming events: from
/// 2025-11-25 on, later revisions included. Anything else does not.
pub fn primes_streams(version: &str) -> bool {
    let version = version.trim();
    let is_date = version.len() == 10
        && version.bytes().enumerate().all(|(at, b)| {
            if at == 4 || at == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    is_date && version >= PRIMING_SINCE.as_str()
}

/// Whether `kind/subtype` is acceptable. As in RFC 9110 §12.5.1, the most specific matching
/// range decides (`type/subtype` over `type/*` over `*/*`), and a range with `q=0` means "not
/// acceptable": `text/event-stream;q=0, */*` refuses SSE although `*/*` matches it.
fn accepts(accept: &str, kind: &str, subtype: &str) -> bool {
    // (specificity, weight) of the best match so far.
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let Some((k, s)) = media.split_once('/') else {
            continue;
        };
        let (k, s) = (k.trim(), s.trim());
        let specificity = match (k == "*", s == "*") {
            (true, true) => 0,
            (false, true) if k.eq_ignore_ascii_case(kind) => 1,
            (false, false) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 2,
            _ => continue,
        };
        let weight = parts.find_map(quality).unwrap_or(1.0);
        best = match best {
            // Equally specific ranges: the more generous one wins.
            Some((known, known_weight)) if known == specificity => {
                Some((known, known_weight.max(weight)))
            }
            Some((known, _)) if known > specificity => best,
            _ => Some((specificity, weight)),
        };
    }
    best.is_some_and(|(_, weight)| weight > 0.0)
}

/// The weight of a `q=` parameter, if this parameter is one. A malformed weight counts as the
/// default 1 (lenient: refusing a client over a typo in `q` helps nobody).
fn quality(parameter: &str) -> Option<f32> {
    let (name, value) = parameter.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let weight = value
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|weight| weight.is_finite())
        .unwrap_or(1.0);
    Some(weight)
}

/// Loopback names compare case-insensitively and ignore one trailing dot: `localhost.` is the
/// fully qualified spelling of `localhost`.
fn is_loopback_name(host: &str) -> bool {
    let host = without_root_dot(host);
    LOOPBACK_NAMES
        .iter()
        .any(|loopback| loopback.eq_ignore_ascii_case(host))
}

/// `name.` → `name`: the DNS root label, which names the same host.
fn without_root_dot(host: &str) -> &str {
    host.strip_suffix('.').unwrap_or(host)
}

/// The `host[:port]` of a `Host` header or an origin, split and checked for shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Authority<'a> {
    /// A name, an IPv4 address, or an IPv6 address with its brackets.
    host: &'a str,
    /// The port, when one is written (an empty port, `host:`, counts as none).
    port: Option<u16>,
}

impl<'a> Authority<'a> {
    /// Splits `host[:port]`, or `None` when it is malformed: an empty host, a port that is not
    /// a number up to 65535, anything after `]` other than `:port`, or a bare `:` inside an
    /// unbracketed host (an IPv6 address must be bracketed).
    fn parse(text: &'a str) -> Option<Authority<'a>> {
        let (host, port) = if text.starts_with('[') {
            let end = text.find(']')?;
            let (host, rest) = text.split_at(end + 1);
            match rest {
                "" => (host, None),
                _ => (host, Some(rest.strip_prefix(':')?)),
            }
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        if host.is_empty() || host == "[]" {
            return None;
        }
        let port = match port {
            None | Some("") => None,
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse().ok()?)
            }
            Some(_) => return None,
        };
        Some(Authority { host, port })
    }

    /// Whether an `--allow-host` entry names this authority: hosts compare case-insensitively
    /// and without a trailing dot; an entry's port, if it has one, must be this port.
    fn matches_entry(&self, entry: &str) -> bool {
        let Some(wanted) = Authority::parse(entry) else {
            return false;
        };
        let same_host =
            without_root_dot(wanted.host).eq_ignore_ascii_case(without_root_dot(self.host));
        same_host && (wanted.port.is_none() || wanted.port == self.port)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
