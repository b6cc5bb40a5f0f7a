//! Requests the child sends to the client, and the client cancelling its own: sampling,
//! elicitation, roots and ping requests reach the client on the tool call's stream and the
//! client's answers (results or errors) reach the child; a client's `notifications/cancelled`
//! reaches the child under the proxy id.

mod common;

use common::mcp::{notification, response};
use common::sse::next;
use common::{Client, Proxy, session};
use serde_json::{Value, json};

fn tools_call(id: Value, name: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments}
    })
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
