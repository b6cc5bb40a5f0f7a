//! A session outlives its MCP server, against the real binary: when the server crashes (with
//! any exit code), is killed from outside (idle or during a call) or leaves a forked grandchild,
//! the requests in flight fail at once with JSON-RPC -32000 and the exit status, server→client
//! requests it left open are cancelled towards the client, and a new server carries the same
//! session on (tools, sampling, elicitation) with no process of the old one left.

mod common;

use std::time::{Duration, Instant};

use common::demo::{assert_echo_works, server_pid};
use common::mcp::tool_call;
use common::restart::{
    assert_children_become, assert_group_gone, assert_server_exited, exited_with_code,
    is_tool_call, proxy_children, send_signal, wait_for_replacement,
};
use common::{Client, Proxy, session};
use serde_json::{Value, json};

/// `{"exit": {"signal": signal}, "generation": generation}`
fn killed_by_signal(signal: i32, generation: u64) -> Value {
    json!({"exit": {"signal": signal}, "generation": generation})
}

/// Waits (bounded) until the MCP server has received a message for which `matches` holds
/// (asked with the `received` tool under request `id`); returns that message.
async fn wait_until_received(client: &Client, id: i64, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        if let Some(message) = client.received(id).await.into_iter().find(&matches) {
            return message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the MCP server never received the expected message"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls `sample` on the session and plays the client: reads the `sampling/createMessage` from
/// the call's SSE stream, answers it, and checks that the tool returns the answer.
async fn assert_sampling_works(client: &Client, id: i64, prompt: &str) {
    let mut stream = client
        .open_request(&tool_call(id, "sample", json!({"prompt": prompt})))
        .await;
    assert_eq!(stream.status, 200);
    let request = stream.next().await.expect("the sampling request");
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        json!(prompt),
        "{request}"
    );
    let outbound_id = request["id"].as_u64().expect("an integer outbound id");
    let result = json!({
        "role": "assistant",
        "content": {"type": "text", "text": format!("answer to {prompt}")},
        "model": "test-model",
        "stopReason": "endTurn"
    });
    let status = client
        .send(&json!({"jsonrpc": "2.0", "id": outbound_id, "result": result}))
        .await;
    assert_eq!(status, 202);
    let answer = stream.next().await.expect("the tool result");
    assert_eq!(answer["id"], json!(id), "{answer}");
    let returned: Value = serde_json::from_str(common::tool_text(&answer)).expect("JSON text");
    assert_eq!(returned, result);
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the result"
    );
}

/// Calls `elicit` on the session and plays the client, like [`assert_sampling_works`].
async fn assert_elicitation_works(client: &Client, id: i64) {
    let mut stream = client
        .open_request(&tool_call(id, "elicit", json!({"message": "your name?"})))
        .await;
    assert_eq!(stream.status, 200);
    let request = stream.next().await.expect("the elicitation request");
    assert_eq!(request["method"], "elicitation/create", "{request}");
    assert_eq!(request["params"]["message"], "your name?", "{request}");
    let outbound_id = request["id"].as_u64().expect("an integer outbound id");
    let result = json!({"action": "accept", "content": {"name": "Ada"}});
    let status = client
        .send(&json!({"jsonrpc": "2.0", "id": outbound_id, "result": result}))
        .await;
    assert_eq!(status, 202);
    let answer = stream.next().await.expect("the tool result");
    assert_eq!(answer["id"], json!(id), "{answer}");
    let returned: Value = serde_json::from_str(common::tool_text(&answer)).expect("JSON text");
    assert_eq!(returned, result);
}

#[tokio::test]
async fn crash_after_a_response_restarts_the_server_on_the_same_session() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    assert_eq!(proxy_children(&proxy), vec![first]);

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));

    assert_echo_works(&client, 3).await;
    let second = server_pid(&client, 4).await;
    assert_ne!(second, first);
    assert!(
        !common::group_alive(first),
        "the crashed server's group is gone"
    );
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn crash_exit_code_is_reported() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client.call_tool(1, "crash", json!({"code": 42})).await;
    assert_server_exited(&answer, 1, exited_with_code(42, 1));
    let answer = client.call_tool(2, "crash", json!({"code": 0})).await;
    assert_server_exited(&answer, 2, exited_with_code(0, 2));
    assert_echo_works(&client, 3).await;
    let pid = server_pid(&client, 4).await;
    assert_children_become(&proxy, &[pid]).await;
}

#[tokio::test]
async fn crash_during_a_call_fails_that_call_at_once() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let sleep = client.spawn_post(&tool_call(2, "sleep", json!({"ms": 5000})));
    wait_until_received(&client, 3, |m| is_tool_call(m, "sleep")).await;

    let started = Instant::now();
    let crash = client.call_tool(4, "crash", json!({})).await;
    assert_server_exited(&crash, 4, exited_with_code(1, 1));
    let sleep = sleep.await.expect("the sleep task");
    let waited = started.elapsed();
    assert_eq!(sleep.status, 200, "{}", sleep.body);
    assert_server_exited(sleep.last(), 2, exited_with_code(1, 1));
    assert!(
        waited < Duration::from_millis(4000),
        "the sleep call failed only after {waited:?}"
    );

    assert_echo_works(&client, 5).await;
    let second = server_pid(&client, 6).await;
    assert_ne!(second, first);
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn crash_kills_what_the_server_forked() {
    let proxy = Proxy::start(&[], &[common::BIN, "demo-server", "--fork-grandchild"]);
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let group: Vec<u32> = common::processes()
        .iter()
        .filter(|p| p.pgrp == first && p.state != 'Z')
        .map(|p| p.pid)
        .collect();
    assert_eq!(group.len(), 2, "server and grandchild: {group:?}");

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    assert_group_gone(first).await;
    assert_echo_works(&client, 3).await;
    let second = server_pid(&client, 4).await;
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn sigkill_of_an_idle_server_is_survived() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    send_signal(first, libc::SIGKILL);
    let second = wait_for_replacement(&proxy, first).await;

    assert_echo_works(&client, 2).await;
    assert_eq!(server_pid(&client, 3).await, second);
    assert!(!common::group_alive(first));
    // The new server was brought to the same point: it saw the client's handshake.
    let received = client.received(4).await;
    assert_eq!(received[0]["method"], "initialize");
    assert_eq!(received[0]["params"], common::init_params());
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn sigkill_during_a_call_fails_it_with_the_signal() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let sleep = client.spawn_post(&tool_call(2, "sleep", json!({"ms": 5000})));
    wait_until_received(&client, 3, |m| is_tool_call(m, "sleep")).await;

    let started = Instant::now();
    send_signal(first, libc::SIGKILL);
    let sleep = sleep.await.expect("the sleep task");
    assert!(started.elapsed() < Duration::from_millis(4000));
    assert_eq!(sleep.status, 200, "{}", sleep.body);
    assert_server_exited(sleep.last(), 2, killed_by_signal(libc::SIGKILL, 1));

    assert_echo_works(&client, 4).await;
    let second = server_pid(&client, 5).await;
    assert_ne!(second, first);
    assert!(!common::group_alive(first));
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn pending_sampling_request_is_cancelled_when_the_server_dies() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    let mut stream = client
        .open_request(&tool_call(2, "sample", json!({"prompt": "never answered"})))
        .await;
    assert_eq!(stream.status, 200);
    let request = stream.next().await.expect("the sampling request");
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    let outbound_id = request["id"].as_u64().expect("an integer outbound id");

    send_signal(first, libc::SIGKILL);
    let cancelled = stream.next().await.expect("the cancellation");
    assert_eq!(cancelled["jsonrpc"], "2.0", "{cancelled}");
    assert_eq!(
        cancelled["method"], "notifications/cancelled",
        "{cancelled}"
    );
    assert!(cancelled.get("id").is_none(), "{cancelled}");
    assert_eq!(
        cancelled["params"]["requestId"],
        json!(outbound_id),
        "{cancelled}"
    );
    let answer = stream.next().await.expect("the tool call's answer");
    assert_server_exited(&answer, 2, killed_by_signal(libc::SIGKILL, 1));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );

    // A late answer to the cancelled request is accepted and dropped.
    let late = json!({
        "jsonrpc": "2.0",
        "id": outbound_id,
        "result": {"role": "assistant", "content": {"type": "text", "text": "late"}, "model": "m"}
    });
    assert_eq!(client.send(&late).await, 202);
    assert_echo_works(&client, 3).await;
    let second = server_pid(&client, 4).await;
    assert_ne!(second, first);
    // Nothing of the late answer reached the new server.
    let received = client.received(5).await;
    assert!(
        received.iter().all(|m| m.get("result").is_none()),
        "{received:#?}"
    );
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn sampling_and_elicitation_work_through_the_restarted_server() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    assert_sampling_works(&client, 1, "before the crash").await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));

    // The new server numbers its own requests from scratch ("demo-1" again).
    assert_sampling_works(&client, 3, "after the crash").await;
    assert_elicitation_works(&client, 4).await;
    assert_echo_works(&client, 5).await;
    let pid = server_pid(&client, 6).await;
    assert_children_become(&proxy, &[pid]).await;
}
