//! How a session ends when its client is gone or silent: a client that gives up on a slow
//! `initialize` leaves no session and no child behind (`abandoned`); a session that begins to
//! end is unreachable at once (404 for POST, notification, GET and DELETE) while its child is
//! still being stopped, and that child keeps counting against `--max-sessions` until it is
//! reaped; idle expiry counts only what the client sends, never the server's notifications.
//!
//! Processes are checked by pid and process group in /proc, never by name.

mod common;

use std::time::{Duration, Instant};

use common::demo::server_pid;
use common::http_rules::{assert_refused as assert_not_found_shape, get_headers};
use common::lifecycle::{assert_group_gone, assert_refused};
use common::mcp::{INVALID_REQUEST, SERVER_ERROR, initialize_request, notification, tool_call};
use common::metric_names::{CLOSED, MESSAGES, OPENED, SESSIONS, SPAWNS};
use common::ops::scrape_until;
use common::{Proxy, http_get, session};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    common::processes()
        .iter()
        .any(|p| p.pid == pid && p.state != 'Z')
}

/// The sum of the `hyper_mcp_proxy_sessions` gauge over its states.
fn live_sessions(scrape: &common::exposition::Exposition) -> f64 {
    scrape.samples_named(SESSIONS).map(|s| s.value).sum()
}

/// The ids `/sessions` on the `--metrics-addr` listener lists.
async fn listed_sessions(metrics_addr: &str) -> Vec<String> {
    let (status, _, body) = http_get(metrics_addr, "/sessions").await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).expect("/sessions is JSON");
    list["sessions"]
        .as_array()
        .expect("a sessions array")
        .iter()
        .map(|session| session["id"].as_str().expect("an id").to_string())
        .collect()
}

/// POSTs `initialize` on a raw connection and closes it after `patience` without an answer,
/// the way a client whose initialize timeout fired does.
async fn give_up_on_initialize(proxy: &Proxy, patience: Duration) {
    let path = &proxy.url[proxy.url.find(&proxy.addr).expect("addr in url") + proxy.addr.len()..];
    let body = serde_json::to_vec(&initialize_request()).expect("JSON");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
        proxy.addr,
        body.len()
    );
    let mut tcp = TcpStream::connect(&proxy.addr).await.expect("connect");
    tcp.write_all(head.as_bytes()).await.expect("write head");
    tcp.write_all(&body).await.expect("write body");
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(patience, tcp.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the proxy answered (or closed) within {patience:?}, before the slow server started"
    );
    drop(tcp);
}

#[tokio::test]
async fn a_client_that_gives_up_on_initialize_leaves_no_child() {
    const ATTEMPTS: usize = 5;
    let proxy = Proxy::start(
        // A short grace so the stopped children (asleep in their slow start) go quickly.
        &["--kill-grace", "300ms"],
        &[common::BIN, "demo-server", "--startup-delay-ms", "2000"],
    );

    // A client retrying an initialize its 200 ms timeout gave up on, five times.
    for _ in 0..ATTEMPTS {
        give_up_on_initialize(&proxy, Duration::from_millis(200)).await;
    }

    common::eventually("the proxy has no child process left", || {
        common::children_of(proxy.pid()).is_empty()
    })
    .await;
    let scrape = scrape_until(&proxy.addr, "every abandoned session is closed", |s| {
        s.value(CLOSED, &[("reason", "abandoned")]) == Some(ATTEMPTS as f64)
    })
    .await;
    assert_eq!(live_sessions(&scrape), 0.0);
    assert_eq!(scrape.get(OPENED, &[]), ATTEMPTS as f64);
    // Each attempt did start a server: the check above is about children that were stopped.
    assert_eq!(scrape.get(SPAWNS, &[("outcome", "ok")]), ATTEMPTS as f64);
    assert!(common::children_of(proxy.pid()).is_empty());
}

#[tokio::test]
async fn an_ending_session_answers_404_while_its_child_stops() {
    let proxy = Proxy::start(
        &[
            "--session-idle-timeout",
            "1s",
            // The child ignores stdin EOF and SIGTERM: stopping it takes two graces (~4 s)
            // before SIGKILL, the window this test looks into.
            "--kill-grace",
            "2s",
            "--max-sessions",
            "1",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[
            common::BIN,
            "demo-server",
            "--ignore-sigterm",
            "--linger-after-eof-ms",
            "60000",
        ],
    );
    let metrics_addr = proxy.metrics_addr().await;
    let client = session(&proxy).await;
    let id = client.session.clone().expect("session id");
    let pid = server_pid(&client, 1).await;
    assert_eq!(listed_sessions(&metrics_addr).await, vec![id.clone()]);

    // Idle expiry begins to end the session: it is unlisted at once, its child still runs.
    common::eventually_async("/sessions no longer lists the idle session", || async {
        listed_sessions(&metrics_addr).await.is_empty()
    })
    .await;
    assert!(
        alive(pid),
        "the child {pid} was already gone when the session was unlisted"
    );

    let answer = client
        .post(&tool_call(json!(2), "echo", json!({"message": "late"})))
        .await;
    assert_not_found_shape(&answer, 404, INVALID_REQUEST);
    let answer = client
        .post(&notification("notifications/message", None))
        .await;
    assert_not_found_shape(&answer, 404, INVALID_REQUEST);
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_not_found_shape(&answer, 404, INVALID_REQUEST);
    let answer = client.delete_raw(get_headers(&client, "*/*")).await;
    assert_not_found_shape(&answer, 404, INVALID_REQUEST);
    // The stopping child still takes the only slot.
    let refused = proxy.client().post(&initialize_request()).await;
    assert_refused(&refused, 503, json!(0), SERVER_ERROR);
    assert!(
        alive(pid),
        "the child {pid} ended before every answer above was in: the window was missed"
    );

    // Once the child is reaped, the slot is free again.
    assert_group_gone(pid).await;
    let deadline = Instant::now() + common::WAIT;
    let opened = loop {
        let answer = proxy.client().post(&initialize_request()).await;
        match answer.status {
            200 => break answer,
            503 => assert!(
                Instant::now() < deadline,
                "initialize still refused {:?} after the old child was reaped",
                common::WAIT
            ),
            other => panic!("initialize answered {other}: {}", answer.body),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let new_id = opened.headers.get("mcp-session-id").expect("a session id");
    assert_ne!(new_id.to_str().expect("ASCII"), id);
    assert!(
        opened.last()["result"]["serverInfo"].is_object(),
        "{}",
        opened.body
    );
}

#[tokio::test]
async fn idle_expiry_ignores_server_traffic() {
    const IDLE: Duration = Duration::from_secs(1);
    let proxy = Proxy::start(
        &["--session-idle-timeout", "1s", "--kill-grace", "300ms"],
        &[],
    );
    let client = session(&proxy).await;
    let pid = server_pid(&client, 1).await;

    // The server logs every 100 ms from now on; the client's last message is this call. Timed
    // from before it is sent: the proxy counts the idle time from when the request arrived.
    let last_client_message = Instant::now();
    let answer = client.call_tool(2, "tick", json!({"ms": 100})).await;
    assert_eq!(common::tool_text(&answer), "ticking every 100 ms");

    assert_group_gone(pid).await;
    let expired_after = last_client_message.elapsed();
    assert!(
        expired_after >= IDLE,
        "expired {expired_after:?} after the client's last message, before --session-idle-timeout"
    );
    let scrape = scrape_until(&proxy.addr, "the session is closed", |s| {
        s.value(CLOSED, &[("reason", "idle")]) == Some(1.0)
    })
    .await;
    // The server did talk while the client was silent: about ten ticks (one per 100 ms of the
    // idle second) reached the proxy; half of them is proof enough on a loaded machine.
    let notifications = scrape.get(
        MESSAGES,
        &[("direction", "child_to_client"), ("kind", "notification")],
    );
    assert!(
        notifications >= 5.0,
        "only {notifications} notifications came from the server"
    );
    assert_eq!(live_sessions(&scrape), 0.0);
    assert!(common::children_of(proxy.pid()).is_empty());
    let answer = client
        .post(&tool_call(json!(3), "echo", json!({"message": "gone?"})))
        .await;
    assert_not_found_shape(&answer, 404, INVALID_REQUEST);
}
