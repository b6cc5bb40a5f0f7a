//! What the `http_rules_*` tests share: the proxy's own refusals as they check them (status,
//! JSON body, JSON-RPC error with a null id, no session id), an `echo` request and the check
//! that a session still answers it, and the headers of a GET on the standalone stream.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::client::{Answer, Client};

/// A `tools/call` of the demo's `echo` tool.
pub fn echo_request(id: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": message}}
    })
}

/// Asserts that `client` can still call `echo` on its session.
pub async fn assert_echo_works(client: &Client, id: i64) {
    let answer = client
        .call_tool(id, "echo", json!({"message": "still here"}))
        .await;
    assert_eq!(answer["id"], json!(id));
    assert_eq!(super::tool_text(&answer), "still here");
}

/// Asserts a refusal by the proxy itself: the HTTP status, a JSON body, and a JSON-RPC error
/// with `code` and a null id (the proxy answers before it knows which request it refuses).
pub fn assert_refused(answer: &Answer, status: u16, code: i64) {
    assert_eq!(answer.status, status, "body: {}", answer.body);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.messages.len(), 1, "body: {}", answer.body);
    let message = &answer.messages[0];
    assert_eq!(message["jsonrpc"], "2.0");
    assert_eq!(message["id"], Value::Null);
    assert_eq!(
        message["error"]["code"],
        json!(code),
        "body: {}",
        answer.body
    );
    assert!(
        message["error"]["message"].is_string(),
        "body: {}",
        answer.body
    );
    assert!(answer.headers.get("mcp-session-id").is_none());
}

/// Headers of a GET on the standalone stream, with the session of `client` if it has one.
pub fn get_headers(client: &Client, accept: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static(accept));
    if let Some(session) = &client.session {
        headers.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
    }
    headers
}
