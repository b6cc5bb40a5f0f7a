//! Property tests of the header rules: arbitrary header text never panics, and the rules keep
//! their algebra (ports, loopback names, `Accept` lists) for every input, not just examples.

use proptest::prelude::*;

use super::*;

/// Host names that are plain DNS labels (never loopback, never malformed).
fn dns_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}"
        .prop_filter("not a loopback name", |name| {
            !name.eq_ignore_ascii_case("localhost")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_header_text_never_panics(
        text in any::<String>(),
        entry in any::<String>(),
        loopback in any::<bool>(),
    ) {
        let entries = vec![entry];
        let _ = origin_allowed(&text, &entries);
        let _ = origin_allowed(&text, &[]);
        let _ = host_allowed(&text, loopback, &entries);
        let _ = host_allowed(&text, loopback, &[]);
        let _ = accepts_json_and_sse(&text);
        let _ = accepts_sse(&text);
        let _ = is_json_content_type(&text);
        let _ = protocol_version_supported(&text);
    }

    #[test]
    fn header_shaped_text_never_panics(
        text in "[\\[\\]:a-zA-Z0-9./*;=, -]{0,40}",
        loopback in any::<bool>(),
    ) {
        let _ = host_allowed(&text, loopback, std::slice::from_ref(&text));
        let _ = origin_allowed(&format!("http://{text}"), &[]);
        let _ = accepts_json_and_sse(&text);
    }

    #[test]
    fn localhost_on_any_port_is_allowed_on_loopback(port in any::<u16>(), dot in any::<bool>()) {
        let name = if dot { "localhost." } else { "localhost" };
        let host = format!("{name}:{port}");
        let ipv6 = format!("[::1]:{port}");
        let ipv4 = format!("127.0.0.1:{port}");
        let origin = format!("http://{host}");
        prop_assert!(host_allowed(&host, true, &[]));
        prop_assert!(host_allowed(&ipv6, true, &[]));
        prop_assert!(host_allowed(&ipv4, true, &[]));
        prop_assert!(origin_allowed(&origin, &[]));
    }

    #[test]
    fn other_names_are_refused_on_loopback(name in dns_name(), port in any::<u16>()) {
        let host = format!("{name}:{port}");
        let origin = format!("http://{host}");
        prop_assert!(!host_allowed(&host, true, &[]));
        prop_assert!(!origin_allowed(&origin, &[]));
    }

    #[test]
    fn an_entry_without_port_allows_every_port(
        name in dns_name(),
        port in any::<u16>(),
        other in any::<u16>(),
    ) {
        let entries = vec![name.clone()];
        let (host, other_host) = (format!("{name}:{port}"), format!("{name}:{other}"));
        prop_assert!(host_allowed(&host, true, &entries));
        prop_assert!(host_allowed(&other_host, true, &entries));
        prop_assert!(host_allowed(&name, false, &entries));
    }

    #[test]
    fn an_entry_with_port_allows_that_port_only(
        name in dns_name(),
        port in any::<u16>(),
        other in any::<u16>(),
    ) {
        let host = format!("{name}:{port}");
        let other_host = format!("{name}:{other}");
        let entries = vec![host.clone()];
        prop_assert!(host_allowed(&host, true, &entries));
        prop_assert_eq!(host_allowed(&other_host, true, &entries), port == other);
    }

    #[test]
    fn anything_after_an_ipv6_literal_but_a_port_is_refused(junk in "[a-zA-Z!#$%&*+./;<=>?@_~-][ -~]{0,10}") {
        let host = format!("[::1]{junk}");
        prop_assert!(!host_allowed(&host, true, &[]));
        prop_assert!(!host_allowed(&host, false, &[]));
    }

    #[test]
    fn accept_order_does_not_matter(
        ranges in proptest::collection::vec(
            "(\\*/\\*|text/\\*|application/\\*|text/event-stream|application/json|image/png)(;q=(0|0\\.5|1))?",
            0..5,
        ),
    ) {
        let forward = ranges.join(", ");
        let backward = ranges.iter().rev().cloned().collect::<Vec<_>>().join(",");
        prop_assert_eq!(accepts_sse(&forward), accepts_sse(&backward));
        prop_assert_eq!(accepts_json_and_sse(&forward), accepts_json_and_sse(&backward));
    }

    #[test]
    fn adding_a_refused_unrelated_range_changes_nothing(
        accept in "(text/event-stream|application/json|\\*/\\*)(, (text/event-stream|application/json))?",
    ) {
        let extended = format!("{accept}, image/png;q=0");
        prop_assert_eq!(accepts_json_and_sse(&accept), accepts_json_and_sse(&extended));
    }
}
