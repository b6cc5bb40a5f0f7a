//! Graceful shutdown: after SIGTERM the proxy refuses new sessions (503, `/readyz` draining)
//! and lets requests in flight finish, up to `--shutdown-timeout` or until a second signal,
//! then exits 0 with no process of the session left.

mod common;

use std::time::{Duration, Instant};

use common::demo::server_pid as pid_of;
use common::lifecycle::{
    assert_group_gone, assert_refused, assert_rpc_error, exit_code, finished, get_path,
};
use common::mcp::{SERVER_ERROR, initialize_request, tool_call};
use common::{Client, Proxy, session};
use serde_json::json;

/// Waits (bounded) until the session's child has received a `tools/call` of tool `name`; the
/// `received` calls use ids from `first_id` up.
async fn wait_until_child_got(client: &Client, first_id: i64, name: &str) {
    let mut id = first_id;
    common::eventually_async(&format!("the child received the `{name}` call"), || {
        id += 1;
        let id = id;
        async move {
            client.received(id).await.iter().any(|message| {
                message["method"] == "tools/call" && message["params"]["name"] == name
            })
        }
    })
    .await;
}

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish_and_refuses_new_sessions() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    assert_eq!(get_path(&proxy, "/readyz").await.0, 200);
    let sleep = client.spawn_post(&tool_call(json!("slow"), "sleep", json!({"ms": 2000})));
    wait_until_child_got(&client, 100, "sleep").await;

    proxy.signal(libc::SIGTERM);
    common::eventually_async("/readyz answers 503", || async {
        get_path(&proxy, "/readyz").await.0 == 503
    })
    .await;
    assert_eq!(
        get_path(&proxy, "/readyz").await,
        (503, "draining\n".to_string())
    );
    let refused = proxy.client().post(&initialize_request()).await;
    assert_refused(&refused, 503, json!(0), SERVER_ERROR);
    assert!(refused.headers.get("mcp-session-id").is_none());

    let slept = finished(sleep).await;
    assert_eq!(slept["id"], "slow", "{slept}");
    assert_eq!(common::tool_text(&slept), "slept 2000 ms");
    let (proxy, code) = exit_code(proxy).await;
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn second_signal_skips_the_wait_for_requests_in_flight() {
    let proxy = Proxy::start(&["--shutdown-timeout", "60s"], &[]);
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    let sleep = client.spawn_post(&tool_call(json!("slow"), "sleep", json!({"ms": 30000})));
    wait_until_child_got(&client, 100, "sleep").await;

    let signalled = Instant::now();
    proxy.signal(libc::SIGTERM);
    // The first signal has been acted on (draining) before the second is sent.
    common::eventually_async("/readyz answers 503", || async {
        get_path(&proxy, "/readyz").await.0 == 503
    })
    .await;
    proxy.signal(libc::SIGTERM);

    let answer = finished(sleep).await;
    assert_rpc_error(&answer, &json!("slow"), SERVER_ERROR);
    let (proxy, code) = exit_code(proxy).await;
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert!(
        took < Duration::from_secs(10),
        "exited {took:?} after the first signal"
    );
    assert_group_gone(pid).await;
    proxy
        .logged("about the second signal", |line| {
            line.contains("second shutdown signal")
        })
        .await;
}

#[tokio::test]
async fn shutdown_timeout_ends_requests_in_flight() {
    let proxy = Proxy::start(&["--shutdown-timeout", "500ms"], &[]);
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    let sleep = client.spawn_post(&tool_call(json!("slow"), "sleep", json!({"ms": 10000})));
    wait_until_child_got(&client, 100, "sleep").await;

    let signalled = Instant::now();
    proxy.signal(libc::SIGTERM);
    let answer = finished(sleep).await;
    let answered_after = signalled.elapsed();
    assert_rpc_error(&answer, &json!("slow"), SERVER_ERROR);
    assert!(
        answered_after >= Duration::from_millis(500),
        "the call was ended {answered_after:?} after SIGTERM, before --shutdown-timeout"
    );
    let (proxy, code) = exit_code(proxy).await;
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert!(
        signalled.elapsed() < Duration::from_secs(8),
        "exited {:?} after SIGTERM",
        signalled.elapsed()
    );
    assert_group_gone(pid).await;
}
