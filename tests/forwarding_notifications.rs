//! Notifications from the child: progress rides the request's own stream; list changes,
//! resource updates (after `resources/subscribe`), log messages (filtered by
//! `logging/setLevel`) and custom notifications reach the GET stream in order, and only the
//! GET stream of their own session.

mod common;

use std::time::Duration;

use common::client::result_of;
use common::mcp::{notification, response};
use common::sse::next;
use common::{Client, Proxy, session};
use serde_json::{Value, json};

fn log_message(level: &str, data: &str) -> Value {
    notification(
        "notifications/message",
        Some(json!({"level": level, "logger": "demo", "data": data})),
    )
}

/// Calls `log` at `level`; returns every message of the POST's answer.
async fn call_log(client: &Client, id: i64, level: &str, message: &str) -> Vec<Value> {
    let answer = client
        .request(
            json!(id),
            "tools/call",
            json!({"name": "log", "arguments": {"level": level, "message": message}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(common::tool_text(answer.last()), "logged");
    answer.messages
}

/// The five messages `notify` sends, with `resources/updated` for `subscribed` URIs.
fn notify_messages(subscribed: &[&str]) -> Vec<Value> {
    let mut messages = vec![
        notification("notifications/tools/list_changed", None),
        notification("notifications/resources/list_changed", None),
        notification("notifications/prompts/list_changed", None),
    ];
    for uri in subscribed {
        messages.push(notification(
            "notifications/resources/updated",
            Some(json!({"uri": uri})),
        ));
    }
    messages.push(log_message("info", "notify called"));
    messages.push(notification(
        "notifications/demo/custom",
        Some(json!({"hello": "world"})),
    ));
    messages
}

/// Calls `notify` with the GET stream open and checks that the stream carries exactly
/// `expected`, in order: the next message after them is a log message sent afterwards.
async fn assert_notify_reaches_get_stream(client: &Client, id: i64, expected: Vec<Value>) {
    let mut get = client.open_get_stream().await;
    let answer = client
        .request(json!(id), "tools/call", json!({"name": "notify"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.messages,
        vec![response(
            json!(id),
            json!({"content": [{"type": "text", "text": "notified"}]})
        )],
        "with the GET stream open, the notifications do not ride the call's stream"
    );
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        got.push(next(&mut get).await);
    }
    assert_eq!(got, expected);
    call_log(client, id + 1, "error", "sentinel").await;
    assert_eq!(next(&mut get).await, log_message("error", "sentinel"));
}

async fn pid_of(client: &Client, id: i64) -> u32 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    common::tool_text(&answer).parse().expect("pid is a number")
}

#[tokio::test]
async fn progress_notifications_ride_the_request_stream() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .request(
            json!(5),
            "tools/call",
            json!({
                "name": "sleep",
                "arguments": {"ms": 150, "steps": 3},
                "_meta": {"progressToken": "tok-1"}
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "text/event-stream");
    let mut expected: Vec<Value> = (1..=3)
        .map(|step| {
            notification(
                "notifications/progress",
                Some(json!({
                    "progressToken": "tok-1",
                    "progress": step,
                    "total": 3,
                    "message": format!("step {step} of 3")
                })),
            )
        })
        .collect();
    expected.push(json!({
        "jsonrpc": "2.0",
        "id": 5,
        "result": {"content": [{"type": "text", "text": "slept 150 ms"}]}
    }));
    assert_eq!(answer.messages, expected);
}

#[tokio::test]
async fn child_notifications_reach_the_get_stream_in_order() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    assert_notify_reaches_get_stream(&client, 1, notify_messages(&[])).await;
}

#[tokio::test]
async fn resource_updates_reach_the_get_stream_after_subscribe() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let subscribed = result_of(
        &client,
        1,
        "resources/subscribe",
        json!({"uri": "demo://static/hello"}),
    )
    .await;
    assert_eq!(subscribed, json!({}));
    assert_notify_reaches_get_stream(&client, 2, notify_messages(&["demo://static/hello"])).await;
}

#[tokio::test]
async fn log_level_filters_messages() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let set = result_of(&client, 1, "logging/setLevel", json!({"level": "error"})).await;
    assert_eq!(set, json!({}));

    // Without a GET stream, a notification sent during a call rides that call's stream.
    let messages = call_log(&client, 2, "info", "filtered out").await;
    assert_eq!(
        messages.len(),
        1,
        "info passed an error filter: {messages:?}"
    );
    let messages = call_log(&client, 3, "error", "let through").await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0], log_message("error", "let through"));

    // Nothing was parked for a later GET stream either: its first message is a new one.
    let mut get = client.open_get_stream().await;
    call_log(&client, 4, "critical", "sentinel").await;
    assert_eq!(next(&mut get).await, log_message("critical", "sentinel"));
}

#[tokio::test]
async fn sessions_are_isolated() {
    let proxy = Proxy::demo();
    let a = session(&proxy).await;
    let b = session(&proxy).await;
    let (pid_a, pid_b) = (pid_of(&a, 1).await, pid_of(&b, 1).await);
    assert_ne!(pid_a, pid_b);
    let mut children = common::children_of(proxy.pid());
    children.sort_unstable();
    let mut expected = vec![pid_a, pid_b];
    expected.sort_unstable();
    assert_eq!(children, expected);

    let mut get_a = a.open_get_stream().await;
    let mut get_b = b.open_get_stream().await;
    a.call_tool(2, "notify", json!({})).await;
    let expected = notify_messages(&[]);
    for message in &expected {
        assert_eq!(&next(&mut get_a).await, message);
    }
    // Negative check: a bounded wait is the only way to see that nothing arrives. The
    // notifications were all routed before A's call answered, so 300 ms is ample.
    let leaked = get_b.next_within(Duration::from_millis(300)).await;
    assert!(leaked.is_none(), "session B's GET stream got {leaked:?}");
    // And B's own next message is the first thing on B's stream.
    call_log(&b, 3, "error", "only for b").await;
    assert_eq!(next(&mut get_b).await, log_message("error", "only for b"));

    let received_b = b.received(4).await;
    assert!(
        !received_b
            .iter()
            .any(|message| message["params"]["name"] == "notify"),
        "B's child received A's call: {received_b:?}"
    );
}
