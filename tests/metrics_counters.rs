//! The counters on `/metrics`, scraped over real HTTP and parsed with `common::exposition`, at
//! their exact values after a known sequence of MCP traffic: child exits and restarts, failed
//! requests by reason, requests by method (custom methods as `other`) with the request-duration
//! histogram, sessions closed by reason, and messages and bytes by direction; every documented
//! label value is exported before its first event.

mod common;

use std::collections::BTreeSet;

use common::exposition::{Exposition, MetricType};
use common::metric_names::{
    BYTES, CLOSED, DURATION, EXITS, FAILED, INFLIGHT, MESSAGES, METHODS, OPENED, REQUESTS,
    RESTARTS, SESSIONS, SPAWNS, STATES,
};
use common::ops::scrape_until;
use common::{Proxy, session, tool_text};
use serde_json::json;

/// The value of a series that may not have been created yet (label values of a lazily
/// filled family): absent counts as 0.
fn or_zero(scrape: &Exposition, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape.value(name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn a_crash_counts_one_exit_one_restart_and_one_failed_request() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let before = common::scrape(&proxy.addr).await;
    let exits_before = or_zero(&before, EXITS, &[("cause", "exit_code")]);
    assert_eq!(before.get(RESTARTS, &[]), 0.0);

    let answer = client
        .request(
            json!(7),
            "tools/call",
            json!({"name": "crash", "arguments": {}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.last()["id"], json!(7));
    assert!(answer.last().get("error").is_some(), "{}", answer.body);

    let scrape = scrape_until(&proxy.addr, "the child was restarted", |s| {
        s.get(RESTARTS, &[]) == 1.0 && s.get(SESSIONS, &[("state", "ready")]) == 1.0
    })
    .await;
    assert_eq!(
        or_zero(&scrape, EXITS, &[("cause", "exit_code")]) - exits_before,
        1.0,
        "exactly one more exit_code exit"
    );
    for cause in ["signal", "unknown", "stopped"] {
        assert_eq!(or_zero(&scrape, EXITS, &[("cause", cause)]), 0.0, "{cause}");
    }
    assert_eq!(
        scrape.get(
            FAILED,
            &[("method", "tools/call"), ("reason", "child_exited")]
        ),
        1.0
    );
    let failures: f64 = scrape.samples_named(FAILED).map(|s| s.value).sum();
    assert_eq!(failures, 1.0, "no other failure was counted");
    assert_eq!(scrape.get(SPAWNS, &[("outcome", "ok")]), 2.0);
    assert_eq!(
        scrape.get(OPENED, &[]),
        1.0,
        "a restart is not a new session"
    );
    assert_eq!(scrape.get(SESSIONS, &[("state", "restarting")]), 0.0);

    // The restarted child serves the session.
    let echo = client
        .call_tool(8, "echo", json!({"message": "back"}))
        .await;
    assert_eq!(tool_text(&echo), "back");
}

#[tokio::test]
async fn three_tool_calls_are_counted_and_timed() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    for id in 1..=3 {
        let answer = client
            .call_tool(id, "echo", json!({"message": format!("m{id}")}))
            .await;
        assert_eq!(tool_text(&answer), format!("m{id}"));
    }
    let scrape = scrape_until(&proxy.addr, "three tools/call were timed", |s| {
        s.get(&format!("{DURATION}_count"), &[("method", "tools/call")]) == 3.0
    })
    .await;
    assert_eq!(scrape.get(REQUESTS, &[("method", "tools/call")]), 3.0);
    assert_eq!(scrape.get(REQUESTS, &[("method", "initialize")]), 1.0);
    let total: f64 = scrape.samples_named(REQUESTS).map(|s| s.value).sum();
    assert_eq!(total, 4.0, "initialize and three tools/call, nothing else");

    assert_eq!(scrape.kind(DURATION), Some(MetricType::Histogram));
    let bucket = format!("{DURATION}_bucket");
    assert_eq!(
        scrape.get(&bucket, &[("le", "+Inf"), ("method", "tools/call")]),
        3.0
    );
    let sum = scrape.get(&format!("{DURATION}_sum"), &[("method", "tools/call")]);
    assert!(
        sum > 0.0 && sum < 20.0,
        "sum of three echo durations: {sum}"
    );
    // Buckets are cumulative: non-decreasing in `le`, ending at the count.
    let mut buckets: Vec<(f64, f64)> = scrape
        .samples_named(&bucket)
        .filter(|s| s.labels["method"] == "tools/call")
        .map(|s| {
            (
                s.labels["le"].parse::<f64>().unwrap_or(f64::INFINITY),
                s.value,
            )
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 1, "{buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 3.0));
    // Other methods' histograms saw nothing but initialize.
    assert_eq!(
        scrape.get(&format!("{DURATION}_count"), &[("method", "tools/list")]),
        0.0
    );
}

#[tokio::test]
async fn delete_counts_a_deleted_session_and_empties_the_ready_gauge() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    scrape_until(&proxy.addr, "the session is ready", |s| {
        s.get(SESSIONS, &[("state", "ready")]) == 1.0
    })
    .await;
    let status = client.delete().await;
    assert!(status == 200 || status == 204, "DELETE answered {status}");
    let scrape = scrape_until(&proxy.addr, "the session was closed as deleted", |s| {
        or_zero(s, CLOSED, &[("reason", "deleted")]) == 1.0
    })
    .await;
    for state in STATES {
        assert_eq!(scrape.get(SESSIONS, &[("state", state)]), 0.0, "{state}");
    }
    let closed: f64 = scrape.samples_named(CLOSED).map(|s| s.value).sum();
    assert_eq!(closed, 1.0, "no other close reason counted");
    assert_eq!(scrape.get(OPENED, &[]), 1.0);
    assert_eq!(scrape.get(INFLIGHT, &[]), 0.0);
    let scrape = scrape_until(&proxy.addr, "the child's stop was counted", |s| {
        or_zero(s, EXITS, &[("cause", "stopped")]) == 1.0
    })
    .await;
    assert_eq!(or_zero(&scrape, EXITS, &[("cause", "exit_code")]), 0.0);
}

#[tokio::test]
async fn custom_methods_count_as_other_and_never_become_label_values() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .request(json!(1), "demo/echo", json!({"hello": "world"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.last()["result"], json!({"hello": "world"}));

    let scrape = scrape_until(&proxy.addr, "demo/echo was counted", |s| {
        s.get(REQUESTS, &[("method", "other")]) == 1.0
    })
    .await;
    assert_eq!(
        scrape.get(&format!("{DURATION}_count"), &[("method", "other")]),
        1.0
    );
    let with_custom: Vec<String> = scrape
        .samples
        .iter()
        .filter(|s| {
            s.name.contains("demo")
                || s.labels
                    .values()
                    .any(|value| value == "demo/echo" || value.contains("demo"))
        })
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect();
    assert!(
        with_custom.is_empty(),
        "custom method leaked: {with_custom:?}"
    );
    assert_eq!(
        scrape
            .samples_named(REQUESTS)
            .map(|s| s.labels["method"].as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(METHODS),
        "exactly the documented method labels"
    );
}

#[tokio::test]
async fn messages_and_bytes_are_counted_by_direction_and_kind() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client.call_tool(1, "echo", json!({"message": "hi"})).await;
    assert_eq!(tool_text(&answer), "hi");

    let scrape = scrape_until(&proxy.addr, "both answers were counted", |s| {
        s.get(
            MESSAGES,
            &[("direction", "child_to_client"), ("kind", "response")],
        ) == 2.0
    })
    .await;
    let expected = [
        (("client_to_child", "request"), 2.0),
        (("client_to_child", "notification"), 1.0),
        (("client_to_child", "response"), 0.0),
        (("client_to_child", "error"), 0.0),
        (("child_to_client", "request"), 0.0),
        (("child_to_client", "notification"), 0.0),
        (("child_to_client", "response"), 2.0),
        (("child_to_client", "error"), 0.0),
    ];
    for ((direction, kind), value) in expected {
        assert_eq!(
            scrape.get(MESSAGES, &[("direction", direction), ("kind", kind)]),
            value,
            "{direction} {kind}"
        );
    }
    let up = scrape.get(BYTES, &[("direction", "client_to_child")]);
    let down = scrape.get(BYTES, &[("direction", "child_to_client")]);
    assert!(up > 0.0, "client_to_child bytes: {up}");
    assert!(down > 0.0, "child_to_client bytes: {down}");
    assert_eq!(up.fract(), 0.0);
    assert_eq!(down.fract(), 0.0);
}

#[tokio::test]
async fn every_documented_label_value_is_exported_before_its_first_event() {
    let proxy = Proxy::demo();
    let scrape = common::scrape(&proxy.addr).await;
    let documented: [(&str, &str, &[&str]); 3] = [
        (
            CLOSED,
            "reason",
            &[
                "deleted",
                "idle",
                "restart_limit",
                "shutdown",
                "spawn_failed",
                "init_failed",
                "protocol_changed",
                "rehandshake_failed",
                "failed",
            ],
        ),
        (
            EXITS,
            "cause",
            &["exit_code", "signal", "unknown", "stopped"],
        ),
        (SPAWNS, "outcome", &["ok", "failed"]),
    ];
    let mut missing = Vec::new();
    for (name, label, values) in documented {
        for value in values {
            match scrape.value(name, &[(label, value)]) {
                Some(v) => assert_eq!(v, 0.0, "{name}{{{label}={value}}}"),
                None => missing.push(format!("{name}{{{label}=\"{value}\"}}")),
            }
        }
    }
    assert!(missing.is_empty(), "not exported at start: {missing:?}");
}
