//! What a restarted MCP server receives: the client's handshake replayed exactly (`initialize`,
//! `notifications/initialized`, the last accepted `logging/setLevel`, the live subscriptions)
//! under fresh proxy ids, and nothing the old server refused; what the client sends during the
//! restart is held for the new server and reaches it once, in order.

mod common;

use std::time::{Duration, Instant};

use common::demo::server_pid;
use common::restart::{assert_children_become, assert_server_exited, exited_with_code, proxy_id};
use common::{Proxy, session};
use serde_json::{Value, json};

/// `message` without its `id`, after checking that the id is a proxy id.
fn without_proxy_id(message: &Value) -> Value {
    proxy_id(message);
    let mut message = message.clone();
    message.as_object_mut().expect("object").remove("id");
    message
}

#[tokio::test]
async fn restarted_server_gets_the_handshake_replayed_exactly() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let requests = [
        (1, "logging/setLevel", json!({"level": "error"})),
        (2, "logging/setLevel", json!({"level": "warning"})),
        (
            3,
            "resources/subscribe",
            json!({"uri": "demo://static/hello"}),
        ),
        (4, "resources/subscribe", json!({"uri": "demo://items/7"})),
        (5, "resources/unsubscribe", json!({"uri": "demo://items/7"})),
    ];
    for (id, method, params) in requests {
        let answer = client.request(json!(id), method, params).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.last(),
            &json!({"jsonrpc": "2.0", "id": id, "result": {}})
        );
    }

    let answer = client.call_tool(6, "crash", json!({})).await;
    assert_server_exited(&answer, 6, exited_with_code(1, 1));

    let received = client.received(7).await;
    assert_eq!(received.len(), 4, "{received:#?}");
    assert_eq!(
        without_proxy_id(&received[0]),
        json!({"jsonrpc": "2.0", "method": "initialize", "params": common::init_params()})
    );
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_eq!(
        without_proxy_id(&received[2]),
        json!({"jsonrpc": "2.0", "method": "logging/setLevel", "params": {"level": "warning"}})
    );
    assert_eq!(
        without_proxy_id(&received[3]),
        json!({"jsonrpc": "2.0", "method": "resources/subscribe", "params": {"uri": "demo://static/hello"}})
    );
    let ids = [
        proxy_id(&received[0]),
        proxy_id(&received[2]),
        proxy_id(&received[3]),
    ];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );

    // The replayed subscription is live on the new server.
    let answer = client.call_tool(8, "notify", json!({})).await;
    assert_eq!(common::tool_text(&answer), "notified");
    let pid = server_pid(&client, 9).await;
    assert_children_become(&proxy, &[pid]).await;
}

#[tokio::test]

async fn refused_set_level_is_not_what_the_restarted_server_gets() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .request(json!(1), "logging/setLevel", json!({"level": "warning"}))
        .await;
    assert_eq!(
        answer.last(),
        &json!({"jsonrpc": "2.0", "id": 1, "result": {}})
    );
    let answer = client
        .request(json!(2), "logging/setLevel", json!({"level": "verbose"}))
        .await;
    assert_eq!(
        answer.last()["error"]["code"],
        json!(-32602),
        "{}",
        answer.body
    );
    let log_info = json!({"name": "log", "arguments": {"level": "info", "message": "filtered"}});
    let answer = client
        .request(json!(3), "tools/call", log_info.clone())
        .await;
    assert_eq!(
        answer.messages.len(),
        1,
        "info is below warning: {}",
        answer.body
    );

    let answer = client.call_tool(4, "crash", json!({})).await;
    assert_server_exited(&answer, 4, exited_with_code(1, 1));

    // The session's log level is still "warning": info messages stay filtered.
    let answer = client.request(json!(5), "tools/call", log_info).await;
    assert_eq!(
        answer.messages.len(),
        1,
        "the restarted server lost the client's log level: {}",
        answer.body
    );
    let received = client.received(6).await;
    let set_level: Vec<&Value> = received
        .iter()
        .filter(|m| m["method"] == "logging/setLevel")
        .collect();
    assert_eq!(set_level.len(), 1, "{received:#?}");
    assert_eq!(set_level[0]["params"], json!({"level": "warning"}));
}

#[tokio::test]
async fn request_sent_during_the_restart_is_answered_by_the_new_server() {
    let proxy = Proxy::start(
        &[
            "--restart-backoff-min",
            "500ms",
            "--restart-backoff-max",
            "500ms",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    let crashed = Instant::now();
    // A notification sent during the restart is held too, and keeps its place in line.
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    assert_eq!(client.send(&changed).await, 202);
    let second = server_pid(&client, 3).await;
    let held_for = crashed.elapsed();
    assert_ne!(second, first);
    assert!(
        held_for >= Duration::from_millis(400),
        "answered after {held_for:?}: it cannot have waited for the 500 ms backoff"
    );

    let received = client.received(4).await;
    assert_eq!(received.len(), 4, "{received:#?}");
    assert_eq!(received[0]["method"], "initialize", "{received:#?}");
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_eq!(received[2], changed);
    assert_eq!(
        without_proxy_id(&received[3]),
        json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "pid", "arguments": {}}})
    );
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]

async fn subscribe_held_during_the_restart_reaches_the_new_server_once() {
    let proxy = Proxy::start(
        &[
            "--restart-backoff-min",
            "500ms",
            "--restart-backoff-max",
            "500ms",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let answer = client.call_tool(1, "crash", json!({})).await;
    assert_server_exited(&answer, 1, exited_with_code(1, 1));

    let answer = client
        .request(
            json!(2),
            "resources/subscribe",
            json!({"uri": "demo://items/9"}),
        )
        .await;
    assert_eq!(
        answer.last(),
        &json!({"jsonrpc": "2.0", "id": 2, "result": {}})
    );
    let received = client.received(3).await;
    let methods: Vec<&Value> = received.iter().map(|m| &m["method"]).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "resources/subscribe"
        ],
        "{received:#?}"
    );
}
