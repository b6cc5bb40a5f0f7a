//! Session lifecycle: DELETE stops the session's child and everything it forked, one session's
//! slow start never delays another session, SIGTERM stops the proxy cleanly with every child,
//! and a child that dies fails the requests in flight instead of leaving them hanging.

mod common;

use std::sync::{Arc, Mutex};

use common::{Client, Proxy};
use serde_json::{Value, json};

/// The proxy's "server error" code (the MCP server cannot be started or is gone).
const SERVER_ERROR: i64 = -32000;

/// A client with an initialized session.
async fn session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

/// The pid of the session's child (the demo's `pid` tool).
async fn pid_of(client: &Client, id: i64) -> u32 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    common::tool_text(&answer).parse().expect("pid is a number")
}

/// Pids of the running (non-zombie) members of process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    common::processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Whether the child of `client`'s session has received a `tools/call` of tool `name`.
async fn child_received_call(client: &Client, id: i64, name: &str) -> bool {
    client
        .received(id)
        .await
        .iter()
        .any(|message| message["method"] == "tools/call" && message["params"]["name"] == name)
}

#[tokio::test]
async fn delete_stops_the_child() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    assert_eq!(common::children_of(proxy.pid()), vec![pid]);
    assert!(common::group_alive(pid));

    assert_eq!(client.delete().await, 200);
    common::eventually("the child's process group is gone", || {
        !common::group_alive(pid)
    })
    .await;
    common::eventually("the proxy has no child process", || {
        common::children_of(proxy.pid()).is_empty()
    })
    .await;
}

#[tokio::test]
async fn delete_kills_the_whole_process_group() {
    let proxy = Proxy::start(&[], &[common::BIN, "demo-server", "--fork-grandchild"]);
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    let members = group_members(pid);
    assert!(members.contains(&pid), "group {pid}: {members:?}");
    assert!(
        members.len() >= 2,
        "the grandchild is missing from group {pid}: {members:?}"
    );

    assert_eq!(client.delete().await, 200);
    common::eventually("every member of the child's process group is gone", || {
        !common::group_alive(pid)
    })
    .await;
    assert!(common::children_of(proxy.pid()).is_empty());
}

#[tokio::test]
async fn slow_start_of_one_session_does_not_delay_another() {
    let proxy = Proxy::start(
        &[],
        &[common::BIN, "demo-server", "--startup-delay-ms", "2000"],
    );
    let a = session(&proxy).await;
    let events = Arc::new(Mutex::new(Vec::<String>::new()));

    let b = proxy.client();
    let b_events = events.clone();
    let b_initialize = tokio::spawn(async move {
        let mut b = b;
        b.initialize().await;
        b_events.lock().unwrap().push("B initialized".into());
        b
    });
    // B's initialize is under way once the proxy has spawned B's child (a second child).
    common::eventually("the proxy has spawned the child of session B", || {
        common::children_of(proxy.pid()).len() == 2
    })
    .await;

    for i in 0..20 {
        let text = format!("echo {i}");
        let answer = a.call_tool(100 + i, "echo", json!({"message": text})).await;
        assert_eq!(common::tool_text(&answer), text);
        events.lock().unwrap().push(text);
    }
    let b = tokio::time::timeout(common::WAIT, b_initialize)
        .await
        .expect("B's initialize finishes")
        .expect("B's task did not panic");
    assert!(b.session.is_some());
    assert_ne!(b.session, a.session);

    let mut expected: Vec<String> = (0..20).map(|i| format!("echo {i}")).collect();
    expected.push("B initialized".into());
    assert_eq!(*events.lock().unwrap(), expected);
}

#[tokio::test]
async fn sigterm_stops_the_proxy_and_every_child() {
    let proxy = Proxy::demo();
    let a = session(&proxy).await;
    let b = session(&proxy).await;
    let pids = [pid_of(&a, 1).await, pid_of(&b, 1).await];
    let mut get_a = a.open_get_stream().await;

    proxy.signal(libc::SIGTERM);
    let (proxy, code) = tokio::task::spawn_blocking(move || {
        let mut proxy = proxy;
        let code = proxy.wait_exit();
        (proxy, code)
    })
    .await
    .expect("waiting for the proxy");
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    for pid in pids {
        common::eventually("the child's process group is gone", || {
            !common::group_alive(pid)
        })
        .await;
    }
    assert_eq!(
        get_a.next().await,
        None,
        "the GET stream ends with the proxy"
    );
}

#[tokio::test]
async fn child_crash_fails_every_request_in_flight() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let sleep = client.spawn_post(&json!({
        "jsonrpc": "2.0",
        "id": "slow",
        "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"ms": 5000}}
    }));
    let mut poll = 0;
    common::eventually_async("the child is running the sleep call", || {
        poll += 1;
        child_received_call(&client, 1000 + poll, "sleep")
    })
    .await;

    let crash = client
        .request(
            json!("boom"),
            "tools/call",
            json!({"name": "crash", "arguments": {}}),
        )
        .await;
    assert_eq!(crash.status, 200, "{}", crash.body);
    assert_eq!(crash.messages.len(), 1, "{}", crash.body);
    let message = crash.last();
    assert_eq!(message["id"], "boom");
    assert_eq!(message["error"]["code"], json!(SERVER_ERROR), "{message}");

    let slept = tokio::time::timeout(common::WAIT, sleep)
        .await
        .expect("the sleep call is answered")
        .expect("the POST task did not panic");
    assert_eq!(slept.status, 200, "{}", slept.body);
    let message: &Value = slept.last();
    assert_eq!(message["id"], "slow");
    assert_eq!(message["error"]["code"], json!(SERVER_ERROR), "{message}");
}

#[tokio::test]
async fn host_may_be_given_as_a_name() {
    let proxy = Proxy::start(&["-H", "localhost"], &[]);
    let mut client = proxy.client();
    let result = client.initialize().await;
    assert_eq!(result["serverInfo"]["name"], "hyper-mcp-proxy-demo");
}
