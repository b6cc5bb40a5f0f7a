//! The gauges on `/metrics` follow live state: sessions by state (every documented state, and
//! the sessions opened), SSE streams by kind, requests in flight, and the `process_*` family,
//! which describes the proxy process itself.
//! Also: every refusal by a limit is counted in `limit_hits_total` under that limit.

mod common;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use common::exposition::MetricType;
use common::metric_names::{CLOSED, INFLIGHT, OPENED, SESSIONS, SPAWNS, SSE_STREAMS, STATES};
use common::ops::scrape_until;
use common::{Proxy, session, tool_text};
use serde_json::json;

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
async fn each_limit_hit_is_counted_by_limit() {
    let proxy = Proxy::start(&["--max-sessions", "1", "--max-body-bytes", "1000"], &[]);
    let limit_hits = "hyper_mcp_proxy_limit_hits_total";
    let before = common::scrape(&proxy.addr).await;
    for limit in [
        "max_sessions",
        "max_inflight",
        "mailbox",
        "max_body_bytes",
        "max_message_bytes",
        "stdin_queue",
        "restart_queue",
    ] {
        assert_eq!(before.get(limit_hits, &[("limit", limit)]), 0.0, "{limit}");
    }

    let client = session(&proxy).await;
    let refused = proxy
        .client()
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": common::init_params()}))
        .await;
    assert_eq!(refused.status, 503);
    let too_big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "x".repeat(2000)}}});
    assert_eq!(client.post(&too_big).await.status, 413);

    let after = common::scrape(&proxy.addr).await;
    assert_eq!(after.get(limit_hits, &[("limit", "max_sessions")]), 1.0);
    assert_eq!(after.get(limit_hits, &[("limit", "max_body_bytes")]), 1.0);
    assert_eq!(after.get(limit_hits, &[("limit", "max_inflight")]), 0.0);
}
