//! Transparency: every JSON-RPC message crosses the proxy unchanged in both directions, except
//! request ids, which the child sees as proxy ids and the client gets back exactly as it sent
//! them. Covers the handshake, id restoration, errors, custom methods, progress, server→client
//! requests, cancellation, notifications, logging, the demo's catalog and session isolation.

mod common;

use std::time::Duration;

use common::{Client, Proxy, SseReader};
use serde_json::{Value, json};

/// A client with an initialized session.
async fn session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

fn tools_call(id: Value, name: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments}
    })
}

/// The result of a successful request (status 200, no error).
async fn result_of(client: &Client, id: i64, method: &str, params: Value) -> Value {
    let answer = client.request(json!(id), method, params).await;
    assert_eq!(answer.status, 200, "{method}: {}", answer.body);
    let last = answer.last();
    assert_eq!(last["id"], json!(id), "{method}: {}", answer.body);
    assert!(last.get("error").is_none(), "{method}: {}", answer.body);
    last["result"].clone()
}

/// `{"jsonrpc":"2.0","method": method}` plus `params` when given.
fn notification(method: &str, params: Option<Value>) -> Value {
    let mut message = json!({"jsonrpc": "2.0", "method": method});
    if let Some(params) = params {
        message["params"] = params;
    }
    message
}

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

/// Reads the next message of `stream`, which must be there.
async fn next(stream: &mut SseReader) -> Value {
    stream.next().await.expect("the stream ended early")
}

#[tokio::test]
async fn initialize_passes_params_and_result_unchanged() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    let result = client.initialize().await;
    assert_eq!(
        result,
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {
                "tools": {"listChanged": true},
                "resources": {"subscribe": true, "listChanged": true},
                "prompts": {"listChanged": true},
                "completions": {},
                "logging": {}
            },
            "serverInfo": {"name": "hyper-mcp-proxy-demo", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Demo MCP server bundled with hyper-mcp-proxy for tests and benchmarks; \
                             call tools/list to see what it can do."
        })
    );
    let received = client.received(1).await;
    let initialize = &received[0];
    assert_eq!(initialize["method"], "initialize");
    assert_eq!(initialize["params"], common::init_params());
    assert_eq!(
        received[1],
        notification("notifications/initialized", None),
        "the initialized notification reaches the child unchanged"
    );
}

#[tokio::test]
async fn request_ids_are_restored_exactly() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let ids = [
        ("string", r#""abc""#),
        ("zero", "0"),
        ("negative", "-42"),
        ("beyond-u64", "123456789012345678901234567890"),
    ];
    for (tag, id) in ids {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"demo/echo","params":{{"tag":"{tag}"}}}}"#
        );
        let answer = client.post_raw(client.headers(), body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type(), "application/json");
        assert_eq!(
            answer.body,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tag":"{tag}"}}}}"#)
        );
    }

    let received = client.received(1).await;
    let mut seen = Vec::new();
    for (tag, client_id) in ids {
        let request = received
            .iter()
            .find(|message| message["method"] == "demo/echo" && message["params"]["tag"] == tag)
            .unwrap_or_else(|| panic!("the child never received the {tag} request"));
        let proxy_id = request["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("the child saw a non-integer id: {request}"));
        let client_id: Value = serde_json::from_str(client_id).unwrap();
        assert_ne!(
            request["id"], client_id,
            "the child saw the client's id for {tag}"
        );
        seen.push(proxy_id);
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), seen.len(), "proxy ids are reused: {seen:?}");
}

#[tokio::test]
async fn errors_from_the_child_pass_unchanged() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .call_tool(
            1,
            "fail",
            json!({"code": -32602, "message": "bad", "data": {"x": [1, 2]}}),
        )
        .await;
    assert_eq!(
        answer,
        json!({
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32602, "message": "bad", "data": {"x": [1, 2]}}
        })
    );

    let answer = client.request(json!("u-1"), "nope/x", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.messages,
        vec![json!({
            "jsonrpc": "2.0",
            "id": "u-1",
            "error": {"code": -32601, "message": "Method not found: nope/x", "data": {"method": "nope/x"}}
        })]
    );
}

#[tokio::test]
async fn custom_request_and_notification_pass_through() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let params = json!({"a": 1, "nested": {"b": [true, null]}});
    let result = result_of(&client, 1, "demo/echo", params.clone()).await;
    assert_eq!(result, params);

    let custom = notification("notifications/demo/custom", Some(json!({"k": ["v", 2]})));
    let answer = client.post(&custom).await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.body, "");
    let received = client.received(2).await;
    assert_eq!(
        received
            .iter()
            .filter(|message| message["method"] == "notifications/demo/custom")
            .collect::<Vec<_>>(),
        vec![&custom]
    );
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

/// Calls tool `name`, reads the request the child sends to the client on the call's stream
/// (it must be `method`), answers it with `answer(outbound id)` (the POST must get 202), and
/// returns the request and the call's final message; the stream must end after it.
async fn answer_server_request(
    client: &Client,
    id: i64,
    name: &str,
    arguments: Value,
    method: &str,
    answer: impl FnOnce(Value) -> Value,
) -> (Value, Value) {
    let mut stream = client
        .open_request(&tools_call(json!(id), name, arguments))
        .await;
    assert_eq!(stream.status, 200);
    let content_type = stream.headers["content-type"].to_str().unwrap();
    assert_eq!(content_type, "text/event-stream");
    let request = next(&mut stream).await;
    assert_eq!(request["method"], method, "{request}");
    let outbound_id = request["id"].clone();
    assert!(
        outbound_id.is_string() || outbound_id.is_number(),
        "{request}"
    );
    assert_eq!(client.send(&answer(outbound_id)).await, 202);
    let last = next(&mut stream).await;
    assert_eq!(last["id"], json!(id));
    assert_eq!(
        stream.next().await,
        None,
        "the call's stream ends after its answer"
    );
    (request, last)
}

fn response(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// The JSON inside a tool's text result.
fn tool_json(message: &Value) -> Value {
    serde_json::from_str(common::tool_text(message)).expect("tool text is JSON")
}

#[tokio::test]
async fn sampling_request_round_trip() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let sampled = json!({
        "role": "assistant",
        "content": {"type": "text", "text": "Hi from the test"},
        "model": "test-model",
        "stopReason": "endTurn"
    });
    let (request, last) = answer_server_request(
        &client,
        1,
        "sample",
        json!({"prompt": "Say hi"}),
        "sampling/createMessage",
        |id| response(id, sampled.clone()),
    )
    .await;
    let mut without_id = request.clone();
    without_id.as_object_mut().unwrap().remove("id");
    assert_eq!(
        without_id,
        notification(
            "sampling/createMessage",
            Some(json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": "Say hi"}}],
                "maxTokens": 100
            }))
        )
    );
    assert_eq!(tool_json(&last), sampled);
}

#[tokio::test]
async fn elicitation_request_round_trip() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let accepted = json!({"action": "accept", "content": {"name": "Ada"}});
    let (request, last) = answer_server_request(
        &client,
        1,
        "elicit",
        json!({"message": "Your name?"}),
        "elicitation/create",
        |id| response(id, accepted.clone()),
    )
    .await;
    assert_eq!(
        request["params"],
        json!({
            "message": "Your name?",
            "requestedSchema": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"]
            }
        })
    );
    assert_eq!(tool_json(&last), accepted);
}

#[tokio::test]
async fn roots_request_round_trip() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let roots = json!({"roots": [{"uri": "file:///tmp", "name": "tmp"}]});
    let (request, last) =
        answer_server_request(&client, 1, "roots", json!({}), "roots/list", |id| {
            response(id, roots.clone())
        })
        .await;
    assert!(request.get("params").is_none(), "{request}");
    assert_eq!(tool_json(&last), roots);
}

#[tokio::test]
async fn ping_request_round_trip() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let (_, last) = answer_server_request(&client, 1, "ping_client", json!({}), "ping", |id| {
        response(id, json!({}))
    })
    .await;
    assert_eq!(common::tool_text(&last), "pong");
}

#[tokio::test]
async fn error_answer_to_a_server_request_reaches_the_child() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let (_, last) = answer_server_request(
        &client,
        1,
        "sample",
        json!({"prompt": "Say hi"}),
        "sampling/createMessage",
        |id| json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32001, "message": "user said no"}}),
    )
    .await;
    assert_eq!(
        last,
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "user said no"}})
    );
}

#[tokio::test]
async fn client_cancellation_reaches_the_child_under_the_proxy_id() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    // Progress every 100 ms makes the POST's stream start (the proxy answers with the first
    // event), which also proves the child is already running the request.
    let call = json!({
        "jsonrpc": "2.0",
        "id": "sleepy",
        "method": "tools/call",
        "params": {
            "name": "sleep",
            "arguments": {"ms": 60000, "steps": 600},
            "_meta": {"progressToken": "cancel-me"}
        }
    });
    let mut stream = client.open_request(&call).await;
    assert_eq!(stream.status, 200);
    let first = next(&mut stream).await;
    assert_eq!(first["method"], "notifications/progress");

    let cancel = notification(
        "notifications/cancelled",
        Some(json!({"requestId": "sleepy", "reason": "the test gave up"})),
    );
    assert_eq!(client.send(&cancel).await, 202);
    // The call's stream ends without an answer; progress already queued may still come.
    while let Some(message) = stream.next().await {
        assert_eq!(message["method"], "notifications/progress", "{message}");
        assert_eq!(message["params"]["progressToken"], "cancel-me");
    }

    let received = client.received(1).await;
    let sleep = received
        .iter()
        .find(|message| message["method"] == "tools/call" && message["params"]["name"] == "sleep")
        .expect("the child received the sleep call");
    let proxy_id = sleep["id"].clone();
    assert!(proxy_id.is_u64(), "{sleep}");
    let cancellations: Vec<&Value> = received
        .iter()
        .filter(|message| message["method"] == "notifications/cancelled")
        .collect();
    assert_eq!(
        cancellations,
        vec![&notification(
            "notifications/cancelled",
            Some(json!({"requestId": proxy_id, "reason": "the test gave up"}))
        )]
    );
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
async fn catalog_requests_return_the_demo_values() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let tools = result_of(&client, 1, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "echo",
            "add",
            "sleep",
            "crash",
            "sample",
            "elicit",
            "roots",
            "ping_client",
            "notify",
            "log",
            "big",
            "fail",
            "garbage",
            "stderr",
            "pid",
            "received"
        ]
    );
    assert_eq!(
        result_of(&client, 2, "resources/list", json!({})).await,
        json!({"resources": [{"uri": "demo://static/hello", "name": "hello", "mimeType": "text/plain"}]})
    );
    assert_eq!(
        result_of(&client, 3, "resources/templates/list", json!({})).await,
        json!({"resourceTemplates": [{"uriTemplate": "demo://items/{id}", "name": "item", "mimeType": "text/plain"}]})
    );
    assert_eq!(
        result_of(
            &client,
            4,
            "resources/read",
            json!({"uri": "demo://static/hello"})
        )
        .await,
        json!({"contents": [{"uri": "demo://static/hello", "mimeType": "text/plain", "text": "Hello from the demo server"}]})
    );
    assert_eq!(
        result_of(
            &client,
            5,
            "resources/read",
            json!({"uri": "demo://items/42"})
        )
        .await,
        json!({"contents": [{"uri": "demo://items/42", "mimeType": "text/plain", "text": "Item 42"}]})
    );
    assert_eq!(
        result_of(&client, 6, "prompts/list", json!({})).await,
        json!({
            "prompts": [{
                "name": "greet",
                "description": "Asks the model to greet someone",
                "arguments": [
                    {"name": "name", "description": "Who to greet", "required": true},
                    {"name": "style", "description": "How to greet, e.g. formal", "required": false}
                ]
            }]
        })
    );
    assert_eq!(
        result_of(
            &client,
            7,
            "prompts/get",
            json!({"name": "greet", "arguments": {"name": "Ann", "style": "pirate"}})
        )
        .await,
        json!({
            "description": "A friendly greeting",
            "messages": [{"role": "user", "content": {"type": "text", "text": "Say hello to Ann in a pirate way"}}]
        })
    );
    assert_eq!(
        result_of(
            &client,
            8,
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": "Al"}})
        )
        .await,
        json!({"completion": {"values": ["Alice", "Albert"], "total": 2, "hasMore": false}})
    );
    assert_eq!(
        result_of(
            &client,
            9,
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "demo://items/{id}"}, "argument": {"name": "id", "value": ""}})
        )
        .await,
        json!({"completion": {"values": ["1", "2", "3"], "total": 3, "hasMore": false}})
    );
    let answer = client
        .request(json!(10), "resources/read", json!({"uri": "demo://nope"}))
        .await;
    assert_eq!(
        answer.last(),
        &json!({
            "jsonrpc": "2.0",
            "id": 10,
            "error": {"code": -32002, "message": "Resource not found", "data": {"uri": "demo://nope"}}
        })
    );
}

async fn pid_of(client: &Client, id: i64) -> u32 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    common::tool_text(&answer).parse().expect("pid is a number")
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
