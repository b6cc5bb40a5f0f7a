//! Observability, end to end against the real binary: `/metrics` is scraped over real HTTP and
//! parsed with a real exposition parser (`common::exposition`), and every metric the README's
//! "Observability" section documents is checked for its exact value after a known sequence of
//! MCP traffic: sessions by state, opened/closed, child exits and restarts, requests by method
//! (custom methods as `other`), the request-duration histogram, failures by reason, messages
//! and bytes by direction, SSE streams, requests in flight and the `process_*` family. Also
//! `/healthz`, `/readyz` (draining and `--max-sessions`), `--metrics-addr` with `/sessions`,
//! and `--log-format json` with the child's span fields.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::exposition::{self, Exposition, MetricType};
use common::{Client, Proxy, WAIT, http_get, tool_text};
use serde_json::{Value, json};

const SESSIONS: &str = "hyper_mcp_proxy_sessions";
const OPENED: &str = "hyper_mcp_proxy_sessions_opened_total";
const CLOSED: &str = "hyper_mcp_proxy_sessions_closed_total";
const SPAWNS: &str = "hyper_mcp_proxy_child_spawns_total";
const EXITS: &str = "hyper_mcp_proxy_child_exits_total";
const RESTARTS: &str = "hyper_mcp_proxy_child_restarts_total";
const REQUESTS: &str = "hyper_mcp_proxy_requests_total";
const DURATION: &str = "hyper_mcp_proxy_request_duration_seconds";
const FAILED: &str = "hyper_mcp_proxy_requests_failed_total";
const INFLIGHT: &str = "hyper_mcp_proxy_inflight_requests";
const SSE_STREAMS: &str = "hyper_mcp_proxy_sse_streams";
const MESSAGES: &str = "hyper_mcp_proxy_messages_total";
const BYTES: &str = "hyper_mcp_proxy_bytes_total";

/// Every `state` label value the README documents.
const STATES: [&str; 4] = ["starting", "ready", "restarting", "draining"];

/// Every `method` label value the README documents.
const METHODS: [&str; 17] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/list",
    "tasks/cancel",
    "other",
];

/// A client with an initialized session.
async fn session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

/// Scrapes `/metrics` at `addr` until `condition` holds (bounded), returning that scrape.
async fn scrape_until(
    addr: &str,
    what: &str,
    condition: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let scrape = common::scrape(addr).await;
        if condition(&scrape) {
            return scrape;
        }
        if tokio::time::Instant::now() >= deadline {
            let lines: Vec<String> = scrape
                .samples
                .iter()
                .filter(|s| s.name.starts_with("hyper_mcp_proxy_") && s.value != 0.0)
                .filter(|s| !s.name.starts_with(DURATION))
                .map(|s| format!("{}{:?} {}", s.name, s.labels, s.value))
                .collect();
            panic!(
                "timed out waiting until {what}; non-zero series:\n{}",
                lines.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of a series that may not have been created yet (label values of a lazily
/// filled family): absent counts as 0.
fn or_zero(scrape: &Exposition, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape.value(name, labels).unwrap_or(0.0)
}

/// Calls the demo `pid` tool: the pid of the session's current child.
async fn child_pid(client: &Client, id: i64) -> u64 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    tool_text(&answer).parse().expect("pid is a number")
}

/// The `/sessions` list of the metrics listener at `addr`.
async fn sessions_list(addr: &str) -> Vec<Value> {
    let (status, content_type, body) = http_get(addr, "/sessions").await;
    assert_eq!(status, 200, "GET /sessions: {body}");
    assert_eq!(content_type, "application/json");
    let value: Value = serde_json::from_str(&body).expect("/sessions is JSON");
    value["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions array: {body}"))
        .clone()
}

/// Reads `/sessions` at `addr` until `condition` holds (bounded), returning that list.
async fn sessions_until(
    addr: &str,
    what: &str,
    condition: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = sessions_list(addr).await;
        if condition(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}; /sessions: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `/sessions` entry of session `id`, if listed.
fn entry<'a>(list: &'a [Value], id: &str) -> Option<&'a Value> {
    list.iter().find(|s| s["id"] == id)
}

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
async fn two_sessions_are_counted_by_state_and_as_opened() {
    let proxy = Proxy::demo();
    let first = session(&proxy).await;
    let second = session(&proxy).await;
    let scrape = scrape_until(&proxy.addr, "both sessions are ready", |s| {
        s.get(SESSIONS, &[("state", "ready")]) == 2.0
    })
    .await;
    for state in ["starting", "restarting", "draining"] {
        assert_eq!(scrape.get(SESSIONS, &[("state", state)]), 0.0, "{state}");
    }
    assert_eq!(scrape.get(OPENED, &[]), 2.0);
    assert_eq!(scrape.get(SPAWNS, &[("outcome", "ok")]), 2.0);
    assert_eq!(scrape.get(SPAWNS, &[("outcome", "failed")]), 0.0);
    assert_eq!(
        scrape.samples_named(CLOSED).map(|s| s.value).sum::<f64>(),
        0.0,
        "no session closed"
    );
    assert_eq!(scrape.kind(SESSIONS), Some(MetricType::Gauge));
    assert_eq!(
        scrape.kind("hyper_mcp_proxy_sessions_opened"),
        Some(MetricType::Counter)
    );
    assert_eq!(
        scrape
            .samples_named(SESSIONS)
            .map(|s| s.labels["state"].as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(STATES),
        "exactly the documented states"
    );
    drop((first, second));
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
async fn sse_stream_and_inflight_gauges_follow_live_state() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let scrape = common::scrape(&proxy.addr).await;
    assert_eq!(scrape.get(SSE_STREAMS, &[("kind", "standalone")]), 0.0);
    assert_eq!(scrape.get(INFLIGHT, &[]), 0.0);

    let stream = client.open_get_stream().await;
    scrape_until(&proxy.addr, "the GET stream is counted", |s| {
        s.get(SSE_STREAMS, &[("kind", "standalone")]) == 1.0
    })
    .await;
    drop(stream);
    scrape_until(
        &proxy.addr,
        "the dropped GET stream is no longer counted",
        |s| s.get(SSE_STREAMS, &[("kind", "standalone")]) == 0.0,
    )
    .await;

    // A request answered over SSE (progress events first) is a `request` stream while open.
    let mut progress = client
        .open_request(&json!({
            "jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "sleep", "arguments": {"ms": 1600, "steps": 2},
                       "_meta": {"progressToken": "p"}}
        }))
        .await;
    assert_eq!(
        progress.next().await.unwrap()["method"],
        "notifications/progress"
    );
    let scrape = common::scrape(&proxy.addr).await;
    assert_eq!(scrape.get(SSE_STREAMS, &[("kind", "request")]), 1.0);
    assert_eq!(scrape.get(SSE_STREAMS, &[("kind", "standalone")]), 0.0);
    while let Some(message) = progress.next().await {
        if message.get("id").is_some() {
            assert_eq!(tool_text(&message), "slept 1600 ms");
        }
    }
    scrape_until(
        &proxy.addr,
        "the finished request stream is no longer counted",
        |s| s.get(SSE_STREAMS, &[("kind", "request")]) == 0.0 && s.get(INFLIGHT, &[]) == 0.0,
    )
    .await;

    let call = client.spawn_post(&json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"ms": 2000}}
    }));
    scrape_until(&proxy.addr, "the sleep is in flight", |s| {
        s.get(INFLIGHT, &[]) == 1.0
    })
    .await;
    assert!(
        !call.is_finished(),
        "the gauge was read while the call was in flight"
    );
    let answer = call.await.expect("call task");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(tool_text(answer.last()), "slept 2000 ms");
    scrape_until(&proxy.addr, "nothing is in flight", |s| {
        s.get(INFLIGHT, &[]) == 0.0
    })
    .await;
}

#[tokio::test]
async fn process_metrics_describe_the_proxy_process() {
    let proxy = Proxy::demo();
    let scrape = common::scrape(&proxy.addr).await;
    assert!(scrape.get("process_resident_memory_bytes", &[]) > 0.0);
    assert!(scrape.get("process_virtual_memory_bytes", &[]) > 0.0);
    let open = scrape.get("process_open_fds", &[]);
    let max = scrape.get("process_max_fds", &[]);
    assert!(open > 0.0, "open fds: {open}");
    assert!(open <= max, "open {open} > max {max}");
    assert!(scrape.get("process_cpu_seconds_total", &[]) >= 0.0);
    assert_eq!(
        scrape.kind("process_cpu_seconds"),
        Some(MetricType::Counter)
    );
    assert_eq!(
        scrape.kind("process_resident_memory_bytes"),
        Some(MetricType::Gauge)
    );

    let start = scrape.get("process_start_time_seconds", &[]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!((now - start).abs() < 300.0, "start {start}, now {now}");
    // The same start time /proc reports for the proxy's pid, not the test's.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", proxy.pid())).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let start_ticks: f64 = fields[19].parse().unwrap();
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let expected = boot + start_ticks / ticks;
    assert!(
        (start - expected).abs() < 0.02,
        "start {start}, /proc says {expected}"
    );
}

#[tokio::test]
async fn health_is_ok_and_readiness_follows_shutdown_and_max_sessions() {
    let mut proxy = Proxy::demo();
    let (status, _, body) = http_get(&proxy.addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, _) = http_get(&proxy.addr, "/readyz").await;
    assert_eq!(status, 200);

    let client = session(&proxy).await;
    let call = client.spawn_post(&json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"ms": 3000}}
    }));
    scrape_until(&proxy.addr, "the sleep is in flight", |s| {
        s.get(INFLIGHT, &[]) == 1.0
    })
    .await;
    assert_eq!(http_get(&proxy.addr, "/readyz").await.0, 200);
    proxy.signal(libc::SIGTERM);
    let mut readiness = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline && !call.is_finished() {
        readiness = http_get(&proxy.addr, "/readyz").await.0;
        if readiness == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(readiness, 503, "/readyz while draining");
    assert!(
        !call.is_finished(),
        "/readyz was probed before the call finished"
    );
    let scrape = common::scrape(&proxy.addr).await;
    assert!(!call.is_finished(), "scraped before the call finished");
    assert_eq!(scrape.get(SESSIONS, &[("state", "draining")]), 1.0);
    assert_eq!(scrape.get(SESSIONS, &[("state", "ready")]), 0.0);
    assert_eq!(scrape.get(INFLIGHT, &[]), 1.0);
    let answer = call.await.expect("call task");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        tool_text(answer.last()),
        "slept 3000 ms",
        "drain lets it finish"
    );
    assert_eq!(proxy.wait_exit(), Some(0));

    let limited = Proxy::start(&["--max-sessions", "1"], &[]);
    assert_eq!(http_get(&limited.addr, "/readyz").await.0, 200);
    let only = session(&limited).await;
    let (status, _, _) = http_get(&limited.addr, "/readyz").await;
    assert_eq!(status, 503, "/readyz at --max-sessions");
    assert_eq!(http_get(&limited.addr, "/healthz").await.0, 200);
    assert!(matches!(only.delete().await, 200 | 204));
    common::eventually_async("readiness returns after the session ended", || async {
        http_get(&limited.addr, "/readyz").await.0 == 200
    })
    .await;
}

#[tokio::test]
async fn metrics_addr_serves_metrics_and_sessions_and_the_main_listener_does_not() {
    let proxy = Proxy::start(&["--metrics-addr", "127.0.0.1:0"], &[]);
    let ops = proxy.metrics_addr().await;
    assert_ne!(ops, proxy.addr);

    assert_eq!(
        http_get(&proxy.addr, "/metrics").await.0,
        404,
        "main /metrics"
    );
    assert_eq!(
        http_get(&proxy.addr, "/sessions").await.0,
        404,
        "main /sessions"
    );
    assert_eq!(http_get(&proxy.addr, "/healthz").await.0, 200);
    let (status, _, body) = http_get(&ops, "/metrics").await;
    assert_eq!(status, 200);
    let scrape = exposition::parse(&body).expect("parsable");
    assert_eq!(scrape.get(OPENED, &[]), 0.0);
    assert_eq!(sessions_list(&ops).await, Vec::<Value>::new());

    let first = session(&proxy).await;
    let second = session(&proxy).await;
    let first_id = first.session.clone().unwrap();
    let second_id = second.session.clone().unwrap();
    let first_pid = child_pid(&first, 1).await;
    let second_pid = child_pid(&second, 1).await;

    let list = sessions_list(&ops).await;
    let ids: BTreeSet<&str> = list.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, BTreeSet::from([first_id.as_str(), second_id.as_str()]));
    assert_eq!(list.len(), 2, "{list:?}");
    for (id, pid) in [(&first_id, first_pid), (&second_id, second_pid)] {
        let e = entry(&list, id).unwrap();
        assert_eq!(e["state"], "ready", "{e}");
        assert_eq!(e["child_pid"], json!(pid), "{e}");
        assert_eq!(e["generation"], json!(1), "{e}");
        assert_eq!(e["restarts"], json!(0), "{e}");
        assert_eq!(e["inflight_requests"], json!(0), "{e}");
        assert_eq!(e["open_streams"], json!(0), "{e}");
        assert!(e["age_seconds"].as_f64().is_some_and(|a| a >= 0.0), "{e}");
        assert!(e["idle_seconds"].as_f64().is_some_and(|a| a >= 0.0), "{e}");
    }

    let stream = second.open_get_stream().await;
    let list = sessions_until(&ops, "the GET stream shows in /sessions", |list| {
        entry(list, &second_id).is_some_and(|e| e["open_streams"] == json!(1))
    })
    .await;
    assert_eq!(entry(&list, &first_id).unwrap()["open_streams"], json!(0));
    drop(stream);

    let crash = first
        .request(
            json!(2),
            "tools/call",
            json!({"name": "crash", "arguments": {}}),
        )
        .await;
    assert!(crash.last().get("error").is_some(), "{}", crash.body);
    let restarted_pid = child_pid(&first, 3).await;
    assert_ne!(restarted_pid, first_pid);
    let list = sessions_until(&ops, "/sessions shows the restart", |list| {
        entry(list, &first_id).is_some_and(|e| e["generation"] == json!(2))
    })
    .await;
    let e = entry(&list, &first_id).unwrap();
    assert_eq!(e["state"], "ready", "{e}");
    assert_eq!(e["child_pid"], json!(restarted_pid), "{e}");
    assert_eq!(e["generation"], json!(2), "{e}");
    assert_eq!(e["restarts"], json!(1), "{e}");
    let other = entry(&list, &second_id).unwrap();
    assert_eq!(other["generation"], json!(1), "{other}");
    assert_eq!(other["restarts"], json!(0), "{other}");
    assert_eq!(other["child_pid"], json!(second_pid), "{other}");

    assert!(matches!(first.delete().await, 200 | 204));
    let list = sessions_until(&ops, "the deleted session left /sessions", |list| {
        entry(list, &first_id).is_none()
    })
    .await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], json!(second_id));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_child_span_fields() {
    let proxy = Proxy::start(&["--log-format", "json"], &[]);
    let client = session(&proxy).await;
    let id = client.session.clone().unwrap();
    let pid = child_pid(&client, 1).await;
    let answer = client.call_tool(2, "stderr", json!({"lines": 1})).await;
    assert_eq!(tool_text(&answer), "wrote 1 lines");

    let mut line = None;
    common::eventually("the child's stderr line was logged", || {
        line = proxy
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["fields"]["message"] == "demo stderr line 1");
        line.is_some()
    })
    .await;
    let line = line.unwrap();
    let span = &line["span"];
    assert_eq!(span["session"], json!(id), "{line}");
    assert_eq!(span["pid"], json!(pid), "{line}");
    assert_eq!(span["generation"], json!(1), "{line}");

    assert!(matches!(client.delete().await, 200 | 204));
    let lines = stop_and_read_json_log(proxy).await;
    let session_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "session")
        .collect();
    assert!(!session_lines.is_empty(), "no line in the session span");
    for l in session_lines {
        assert_eq!(l["span"]["id"], json!(id), "{l}");
    }
    for l in lines.iter().filter(|l| l["span"]["name"] == "child") {
        assert_eq!(l["span"]["session"], json!(id), "{l}");
        assert_eq!(l["span"]["pid"], json!(pid), "{l}");
        assert_eq!(l["span"]["generation"], json!(1), "{l}");
    }
}

/// Stops the proxy; every line it wrote to stderr must be one JSON object.
async fn stop_and_read_json_log(mut proxy: Proxy) -> Vec<Value> {
    proxy.signal(libc::SIGTERM);
    assert_eq!(proxy.wait_exit(), Some(0));
    // The reader thread appends the last lines after the pipe closes.
    common::eventually("the log ends with the proxy's last line", || {
        proxy.log().contains("\"stopped\"")
    })
    .await;
    let log = proxy.log();
    assert!(log.lines().count() >= 3, "{log}");
    log.lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(value @ Value::Object(_)) => value,
            _ => panic!("not a JSON object line: {l:?}"),
        })
        .collect()
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

#[tokio::test]
async fn every_json_log_line_about_a_session_carries_its_id_in_the_span() {
    let proxy = Proxy::start(&["--log-format", "json"], &[]);
    let client = session(&proxy).await;
    let id = client.session.clone().unwrap();
    let echo = client.call_tool(1, "echo", json!({"message": "x"})).await;
    assert_eq!(tool_text(&echo), "x");
    assert!(matches!(client.delete().await, 200 | 204));
    let lines = stop_and_read_json_log(proxy).await;
    let about: Vec<&Value> = lines
        .iter()
        .filter(|l| l.to_string().contains(&id))
        .collect();
    assert!(about.len() >= 3, "{about:?}");
    let wrong: Vec<String> = about
        .iter()
        .filter(|l| {
            let span = &l["span"];
            !(span["name"] == "session" && span["id"] == json!(id)
                || span["name"] == "child" && span["session"] == json!(id))
        })
        .map(|l| l.to_string())
        .collect();
    assert!(
        wrong.is_empty(),
        "lines about session {id} without it as span.id / span.session:\n{}",
        wrong.join("\n")
    );
}
