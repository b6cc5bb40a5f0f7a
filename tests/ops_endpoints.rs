//! The ops endpoints: `/healthz` answers while the process runs, `/readyz` turns 503 while
//! draining and at `--max-sessions`, and `--metrics-addr` moves `/metrics` and `/sessions` (one
//! entry per live session: state, child pid, generation, restarts, open streams) off the main
//! listener.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::demo::child_pid;
use common::exposition;
use common::metric_names::{INFLIGHT, OPENED, SESSIONS};
use common::ops::scrape_until;
use common::{Proxy, WAIT, http_get, session, tool_text};
use serde_json::{Value, json};

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
