//! The format of `/metrics`: the exposition parser the metric tests rely on
//! (`common::exposition`) reads families, labels, escapes and values and rejects malformed
//! text, and the proxy serves the body with the content type of its format.

mod common;

use common::exposition::{self, MetricType};
use common::{Proxy, http_get};

#[test]
fn exposition_parser_reads_families_labels_escapes_and_values() {
    let text = "# HELP a_requests Requests, with a \\\\ backslash.\n\
                # TYPE a_requests counter\n\
                a_requests_total{method=\"tools/call\",path=\"C:\\\\x\",msg=\"say \\\"hi\\\"\\n, }=\",} 3\n\
                a_requests_created{method=\"tools/call\",path=\"C:\\\\x\",msg=\"x\"} 1.7e9\n\
                # TYPE a_duration_seconds histogram\n\
                # UNIT a_duration_seconds seconds\n\
                a_duration_seconds_bucket{le=\"0.5\",method=\"x\"} 1\n\
                a_duration_seconds_bucket{le=\"+Inf\",method=\"x\"} 2\n\
                a_duration_seconds_sum{method=\"x\"} 0.75\n\
                a_duration_seconds_count{method=\"x\"} 2\n\
                # a plain comment\n\
                untyped_thing -Inf 1700000000000\n\
                # EOF\n";
    let parsed = exposition::parse(text).expect("valid exposition");
    assert!(parsed.eof);
    assert_eq!(parsed.kind("a_requests"), Some(MetricType::Counter));
    assert_eq!(
        parsed.kind("a_duration_seconds"),
        Some(MetricType::Histogram)
    );
    assert_eq!(
        parsed.families["a_duration_seconds"].unit.as_deref(),
        Some("seconds")
    );
    assert_eq!(
        parsed.families["a_requests"].help.as_deref(),
        Some("Requests, with a \\ backslash.")
    );
    let first = &parsed.samples[0];
    assert_eq!(first.family.as_deref(), Some("a_requests"));
    assert_eq!(first.labels["msg"], "say \"hi\"\n, }=");
    assert_eq!(first.labels["path"], "C:\\x");
    assert_eq!(first.value, 3.0);
    assert_eq!(
        parsed.get(
            "a_duration_seconds_bucket",
            &[("le", "+Inf"), ("method", "x")]
        ),
        2.0
    );
    assert_eq!(
        parsed
            .samples_named("a_duration_seconds_count")
            .next()
            .unwrap()
            .family
            .as_deref(),
        Some("a_duration_seconds")
    );
    let untyped = parsed.samples_named("untyped_thing").next().unwrap();
    assert_eq!(untyped.value, f64::NEG_INFINITY);
    assert_eq!(untyped.timestamp, Some(1.7e12));
    assert_eq!(untyped.family, None);
    // Not a substring match: a label set must be given exactly.
    assert_eq!(parsed.value("a_duration_seconds_count", &[]), None);

    for bad in [
        "x{a=\"1\"",
        "x{a=1} 2",
        "x{a=\"1\",a=\"2\"} 2",
        "x{a=\"\\q\"} 2",
        "x 1\nx 2",
        "x",
        "x 1 2 3",
        "9x 1",
        "x one",
        "# EOF\nx 1",
        "# TYPE h histogram\nh_bucket{a=\"1\"} 1",
    ] {
        assert!(exposition::parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test]
async fn metrics_content_type_matches_the_body_format() {
    let proxy = Proxy::demo();
    let (status, content_type, body) = http_get(&proxy.addr, "/metrics").await;
    assert_eq!(status, 200);
    let scrape = exposition::parse(&body).expect("parsable");
    if scrape.eof {
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "an OpenMetrics body (ends with # EOF) served as {content_type:?}"
        );
    } else {
        assert!(content_type.starts_with("text/plain"), "{content_type}");
    }
    if content_type.starts_with("text/plain") {
        // Text format 0.0.4: a counter's samples carry the `# TYPE` name itself.
        let orphans: Vec<&str> = scrape
            .families
            .iter()
            .filter(|(name, family)| {
                family.kind == MetricType::Counter && scrape.samples_named(name).next().is_none()
            })
            .map(|(name, _)| name.as_str())
            .collect();
        assert!(
            orphans.is_empty(),
            "text/plain 0.0.4 counter families without a sample of that name: {orphans:?}"
        );
    }
}
