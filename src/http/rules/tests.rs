//! Examples of each header rule, including the holes review A15 found.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderValue;

use super::*;

fn list(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|entry| entry.to_string()).collect()
}

#[test]
fn localhost_origins_are_allowed_others_must_be_listed() {
    assert!(origin_allowed("http://localhost:3000", &[]));
    assert!(origin_allowed("http://127.0.0.1", &[]));
    assert!(origin_allowed("https://[::1]:8443", &[]));
    assert!(!origin_allowed("http://evil.example", &[]));
    assert!(!origin_allowed("http://localhost.evil.example", &[]));
    assert!(!origin_allowed("null", &[]));
    let listed = list(&["https://app.example.com"]);
    assert!(origin_allowed("https://app.example.com", &listed));
    assert!(!origin_allowed("https://other.example.com", &listed));
    assert!(origin_allowed("https://x.example", &list(&["*"])));
}

#[test]
fn origin_scheme_is_case_insensitive() {
    assert!(origin_allowed("HTTP://localhost:3000", &[]));
    assert!(origin_allowed("Https://[::1]", &[]));
    assert!(origin_allowed(
        "HTTPS://app.example.com",
        &list(&["https://app.example.com"])
    ));
    assert!(!origin_allowed("FILE://localhost", &[]));
}

#[test]
fn origin_with_junk_after_an_ipv6_literal_is_refused() {
    assert!(!origin_allowed("http://[::1]evil.example", &[]));
    assert!(!origin_allowed("http://[::1]:80x", &[]));
    assert!(!origin_allowed("http://localhost:99999", &[]));
}

#[test]
fn localhost_with_a_trailing_dot_is_localhost() {
    assert!(origin_allowed("http://localhost.:3000", &[]));
    assert!(host_allowed("localhost.", true, &[]));
    assert!(host_allowed("localhost.:8080", true, &[]));
    assert!(!host_allowed("localhost..", true, &[]));
    assert!(!host_allowed("evil.localhost.", true, &[]));
}

#[test]
fn loopback_binding_only_answers_loopback_hosts() {
    assert!(host_allowed("localhost:8080", true, &[]));
    assert!(host_allowed("127.0.0.1:8080", true, &[]));
    assert!(host_allowed("[::1]:8080", true, &[]));
    assert!(host_allowed("[::1]", true, &[]));
    assert!(!host_allowed("rebind.evil.example:8080", true, &[]));
    assert!(host_allowed(
        "proxy.internal:8080",
        true,
        &list(&["proxy.internal"])
    ));
    assert!(host_allowed("anything.example", false, &[]));
    assert!(!host_allowed("other", false, &list(&["proxy.internal"])));
}

#[test]
fn junk_after_an_ipv6_literal_is_refused() {
    for host in [
        "[::1]junk",
        "[::1]:",
        "[::1]:8080x",
        "[::1]:x",
        "[::1",
        "[]:80",
    ] {
        let expected = host == "[::1]:";
        assert_eq!(host_allowed(host, true, &[]), expected, "{host}");
    }
    // Malformed hosts are refused even where any well-formed host would do.
    assert!(!host_allowed("[::1]junk", false, &[]));
    assert!(!host_allowed("::1", false, &[]));
    assert!(!host_allowed(":8080", false, &[]));
    assert!(!host_allowed("host:port", false, &[]));
    assert!(!host_allowed("host:65536", false, &[]));
}

#[test]
fn allow_host_entries_with_a_port_match_that_port_only() {
    let allowed = list(&["proxy.internal:8443"]);
    assert!(host_allowed("proxy.internal:8443", true, &allowed));
    assert!(host_allowed("PROXY.internal.:8443", true, &allowed));
    assert!(!host_allowed("proxy.internal:8080", true, &allowed));
    assert!(!host_allowed("proxy.internal", true, &allowed));
    let any_port = list(&["proxy.internal"]);
    assert!(host_allowed("proxy.internal", true, &any_port));
    assert!(host_allowed("proxy.internal:1", true, &any_port));
    assert!(host_allowed("proxy.internal.:8443", true, &any_port));
    let ipv6 = list(&["[fd00::1]:8443"]);
    assert!(host_allowed("[fd00::1]:8443", false, &ipv6));
    assert!(!host_allowed("[fd00::1]:80", false, &ipv6));
}

#[test]
fn ipv4_mapped_loopback_binds_count_as_loopback() {
    assert!(is_loopback_bind(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(is_loopback_bind(&IpAddr::V4(Ipv4Addr::new(127, 1, 2, 3))));
    assert!(is_loopback_bind(&IpAddr::V6(Ipv6Addr::LOCALHOST)));
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    assert!(is_loopback_bind(&mapped));
    assert!(!is_loopback_bind(&"::ffff:10.0.0.1".parse().unwrap()));
    assert!(!is_loopback_bind(&IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    assert!(!is_loopback_bind(&IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
}

#[test]
fn accept_needs_both_media_types_for_post() {
    assert!(accepts_json_and_sse("application/json, text/event-stream"));
    assert!(accepts_json_and_sse(
        "text/event-stream;q=0.9,application/json"
    ));
    assert!(accepts_json_and_sse("*/*"));
    assert!(accepts_json_and_sse("application/*, text/*"));
    assert!(!accepts_json_and_sse("application/json"));
    assert!(!accepts_json_and_sse("text/event-stream"));
    assert!(accepts_sse("text/event-stream"));
    assert!(!accepts_sse("application/json"));
    assert!(!accepts_sse(""));
}

#[test]
fn accept_with_q_zero_means_not_acceptable() {
    assert!(!accepts_sse("text/event-stream;q=0"));
    assert!(!accepts_sse("text/event-stream; Q=0.000"));
    assert!(!accepts_json_and_sse(
        "application/json, text/event-stream;q=0"
    ));
    // The most specific range decides, whichever order they come in.
    assert!(!accepts_sse("*/*, text/event-stream;q=0"));
    assert!(!accepts_sse("text/event-stream;q=0, text/*"));
    assert!(accepts_sse("*/*;q=0, text/event-stream"));
    assert!(accepts_sse("text/*;q=0, text/event-stream;q=0.1"));
    // A malformed weight counts as the default.
    assert!(accepts_sse("text/event-stream;q=oops"));
}

#[test]
fn accept_lines_are_joined_like_one_list() {
    let mut headers = HeaderMap::new();
    assert_eq!(accept_values(&headers), "");
    headers.append(header::ACCEPT, HeaderValue::from_static("application/json"));
    assert!(!accepts_json_and_sse(&accept_values(&headers)));
    headers.append(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    assert_eq!(
        accept_values(&headers),
        "application/json,text/event-stream"
    );
    assert!(accepts_json_and_sse(&accept_values(&headers)));
    // A line that is not visible ASCII is skipped, not fatal.
    headers.append(header::ACCEPT, HeaderValue::from_bytes(b"\xff/x").unwrap());
    assert!(accepts_json_and_sse(&accept_values(&headers)));
}

#[test]
fn content_type_and_protocol_version() {
    assert!(is_json_content_type("application/json"));
    assert!(is_json_content_type("Application/JSON; charset=utf-8"));
    assert!(!is_json_content_type("text/plain"));
    assert!(protocol_version_supported("2025-06-18"));
    assert!(!protocol_version_supported("1999-01-01"));
}

#[test]
fn priming_is_for_2025_11_25_and_later() {
    assert!(primes_streams("2025-11-25"));
    assert!(primes_streams(" 2026-01-01 "));
    assert!(!primes_streams("2025-06-18"));
    assert!(!primes_streams("2025-03-26"));
    assert!(!primes_streams("9"));
    assert!(!primes_streams("2025-11-2x"));
    assert!(!primes_streams(""));
}
