//! The header rules of the Streamable HTTP transport, as pure functions: DNS-rebinding
//! protection (`Origin`, `Host`), content negotiation (`Accept`, `Content-Type`) and the
//! `MCP-Protocol-Version` header.

use rmcp::model::ProtocolVersion;

/// MCP revisions whose `MCP-Protocol-Version` header the proxy accepts: the session-based
/// revisions of Streamable HTTP (rmcp's model names them).
pub const SUPPORTED_PROTOCOL_VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
];

/// Host names that always mean "this machine".
const LOOPBACK_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "[::1]"];

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
    is_loopback_name(strip_port(rest))
}

/// Whether a `Host` header is acceptable. Bound to loopback, only loopback names (and
/// `--allow-host` names) are: that is what stops DNS rebinding. Bound elsewhere, any host is,
/// unless `--allow-host` names some.
pub fn host_allowed(host: &str, bound_to_loopback: bool, allowed: &[String]) -> bool {
    let name = strip_port(host.trim());
    if allowed
        .iter()
        .any(|entry| entry == "*" || entry.eq_ignore_ascii_case(name))
    {
        return true;
    }
    if bound_to_loopback {
        is_loopback_name(name)
    } else {
        allowed.is_empty()
    }
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

fn accepts(accept: &str, kind: &str, subtype: &str) -> bool {
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim();
        let Some((k, s)) = media.split_once('/') else {
            return false;
        };
        (k == "*" || k.eq_ignore_ascii_case(kind)) && (s == "*" || s.eq_ignore_ascii_case(subtype))
    })
}

fn is_loopback_name(name: &str) -> bool {
    LOOPBACK_NAMES
        .iter()
        .any(|loopback| loopback.eq_ignore_ascii_case(name))
}

/// `host:port` → `host`, `[::1]:80` → `[::1]`, `host` → `host`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_origins_are_allowed_others_must_be_listed() {
        assert!(origin_allowed("http://localhost:3000", &[]));
        assert!(origin_allowed("http://127.0.0.1", &[]));
        assert!(origin_allowed("https://[::1]:8443", &[]));
        assert!(!origin_allowed("http://evil.example", &[]));
        assert!(!origin_allowed("http://localhost.evil.example", &[]));
        assert!(!origin_allowed("null", &[]));
        let listed = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed("https://app.example.com", &listed));
        assert!(!origin_allowed("https://other.example.com", &listed));
        assert!(origin_allowed("https://x.example", &["*".to_string()]));
    }

    #[test]
    fn loopback_binding_only_answers_loopback_hosts() {
        assert!(host_allowed("localhost:8080", true, &[]));
        assert!(host_allowed("127.0.0.1:8080", true, &[]));
        assert!(host_allowed("[::1]:8080", true, &[]));
        assert!(!host_allowed("rebind.evil.example:8080", true, &[]));
        assert!(host_allowed(
            "proxy.internal:8080",
            true,
            &["proxy.internal".into()]
        ));
        assert!(host_allowed("anything.example", false, &[]));
        assert!(!host_allowed("other", false, &["proxy.internal".into()]));
    }

    #[test]
    fn accept_needs_both_media_types_for_post() {
        assert!(accepts_json_and_sse("application/json, text/event-stream"));
        assert!(accepts_json_and_sse(
            "text/event-stream;q=0.9,application/json"
        ));
        assert!(accepts_json_and_sse("*/*"));
        assert!(!accepts_json_and_sse("application/json"));
        assert!(!accepts_json_and_sse("text/event-stream"));
        assert!(accepts_sse("text/event-stream"));
        assert!(!accepts_sse("application/json"));
    }

    #[test]
    fn content_type_and_protocol_version() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(!is_json_content_type("text/plain"));
        assert!(protocol_version_supported("2025-06-18"));
        assert!(!protocol_version_supported("1999-01-01"));
    }
}
