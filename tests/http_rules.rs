//! The HTTP rules of the Streamable HTTP endpoint, one table row per test: which requests the
//! proxy refuses (with which status and JSON-RPC error code), which it accepts, how failures to
//! start the MCP server are reported on `initialize`, and what happens to a child's stray
//! stdout lines and its stderr.

mod common;

use common::{Answer, Client, Proxy};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

/// JSON-RPC "Parse error".
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request".
const INVALID_REQUEST: i64 = -32600;
/// The proxy's "server error" code (the MCP server cannot be started or is gone).
const SERVER_ERROR: i64 = -32000;

/// A client with an initialized session.
async fn session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

fn echo_request(id: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": message}}
    })
}

fn initialize_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": common::init_params()})
}

/// Asserts that `client` can still call `echo` on its session.
async fn assert_echo_works(client: &Client, id: i64) {
    let answer = client
        .call_tool(id, "echo", json!({"message": "still here"}))
        .await;
    assert_eq!(answer["id"], json!(id));
    assert_eq!(common::tool_text(&answer), "still here");
}

/// Asserts a refusal by the proxy itself: the HTTP status, a JSON body, and a JSON-RPC error
/// with `code` and a null id (the proxy answers before it knows which request it refuses).
fn assert_refused(answer: &Answer, status: u16, code: i64) {
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

/// The default POST headers of `client` with `name` set to `value`.
fn headers_with(client: &Client, name: &'static str, value: &str) -> HeaderMap {
    let mut headers = client.headers();
    headers.insert(name, HeaderValue::from_str(value).unwrap());
    headers
}

/// Headers of a GET on the standalone stream, with the session of `client` if it has one.
fn get_headers(client: &Client, accept: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static(accept));
    if let Some(session) = &client.session {
        headers.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
    }
    headers
}

/// Headers of a DELETE for `session`.
fn delete_headers(session: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
    headers
}

/// The lines of the proxy log that contain every one of `needles`.
fn log_lines_with(proxy: &Proxy, needles: &[&str]) -> Vec<String> {
    proxy
        .log()
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn request_without_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client.post(&echo_request(1, "hi")).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn unknown_session_is_404_for_post_and_get() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    client.session = Some("00000000000000000000000000000000".into());
    let answer = client.post(&echo_request(1, "hi")).await;
    assert_refused(&answer, 404, INVALID_REQUEST);
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_refused(&answer, 404, INVALID_REQUEST);
}

#[tokio::test]
async fn deleted_session_is_404() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let id = client.session.clone().unwrap();
    let answer = client.delete_raw(delete_headers(&id)).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    let answer = client.post(&echo_request(1, "hi")).await;
    assert_refused(&answer, 404, INVALID_REQUEST);
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_refused(&answer, 404, INVALID_REQUEST);
    let answer = client.delete_raw(delete_headers(&id)).await;
    assert_refused(&answer, 404, INVALID_REQUEST);
}

#[tokio::test]
async fn delete_of_unknown_session_is_404() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client
        .delete_raw(delete_headers("ffffffffffffffffffffffffffffffff"))
        .await;
    assert_refused(&answer, 404, INVALID_REQUEST);
}

#[tokio::test]
async fn delete_without_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client.delete_raw(HeaderMap::new()).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn get_without_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn body_that_is_not_json_is_400_parse_error_and_sessions_survive() {
    let proxy = Proxy::demo();
    let a = session(&proxy).await;
    let b = session(&proxy).await;
    let answer = a.post_raw(a.headers(), "{\"jsonrpc\": \"2.0\", oops").await;
    assert_refused(&answer, 400, PARSE_ERROR);
    assert_echo_works(&a, 2).await;
    assert_echo_works(&b, 2).await;
}

#[tokio::test]
async fn json_that_is_not_json_rpc_is_400_invalid_request() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    for body in [r#"{"foo":1}"#, "[]", "42"] {
        let answer = client.post_raw(client.headers(), body).await;
        assert_refused(&answer, 400, INVALID_REQUEST);
    }
    assert_echo_works(&client, 2).await;
}

#[tokio::test]
async fn text_plain_content_type_is_415() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let headers = headers_with(&client, "content-type", "text/plain");
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 415, INVALID_REQUEST);
}

#[tokio::test]
async fn post_accepting_only_json_is_406() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let headers = headers_with(&client, "accept", "application/json");
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 406, INVALID_REQUEST);
}

#[tokio::test]
async fn get_accepting_only_json_is_406() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .get_raw(get_headers(&client, "application/json"))
        .await;
    assert_refused(&answer, 406, INVALID_REQUEST);
}

#[tokio::test]
async fn unsupported_protocol_version_is_400() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let headers = headers_with(&client, "mcp-protocol-version", "1999-01-01");
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn absent_or_supported_protocol_version_is_accepted() {
    let proxy = Proxy::demo();
    let mut client = session(&proxy).await;
    client.protocol_version = None;
    assert!(!client.headers().contains_key("mcp-protocol-version"));
    assert_echo_works(&client, 1).await;
    for (id, version) in [(2, "2025-03-26"), (3, "2025-06-18"), (4, "2025-11-25")] {
        client.protocol_version = Some(version.into());
        assert_echo_works(&client, id).await;
    }
}

#[tokio::test]
async fn body_over_max_body_bytes_is_413() {
    let proxy = Proxy::start(&["--max-body-bytes", "1000"], &[]);
    let client = session(&proxy).await;
    let small = serde_json::to_vec(&echo_request(1, &"s".repeat(800))).unwrap();
    assert!(small.len() < 1000);
    let answer = client.post_raw(client.headers(), small).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(common::tool_text(answer.last()), "s".repeat(800));

    let big = serde_json::to_vec(&echo_request(2, &"b".repeat(2000))).unwrap();
    assert!(big.len() > 2000);
    let answer = client.post_raw(client.headers(), big).await;
    assert_refused(&answer, 413, INVALID_REQUEST);
    assert_echo_works(&client, 3).await;
}

#[tokio::test]
async fn ten_mib_echo_passes_both_ways() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let message = "m".repeat(10 * 1024 * 1024);
    let answer = client
        .call_tool(1, "echo", json!({"message": message}))
        .await;
    assert_eq!(answer["id"], json!(1));
    let text = common::tool_text(&answer);
    assert_eq!(text.len(), 10 * 1024 * 1024);
    assert!(
        text == message,
        "the echoed text differs from the sent text"
    );
}

#[tokio::test]
async fn ten_mib_tool_result_comes_back_exactly() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .call_tool(1, "big", json!({"bytes": 10 * 1024 * 1024}))
        .await;
    assert_eq!(answer["id"], json!(1));
    let text = common::tool_text(&answer);
    assert_eq!(text.len(), 10 * 1024 * 1024);
    assert!(
        text.bytes().all(|b| b == b'x'),
        "the big result is not all 'x'"
    );
}

#[tokio::test]
async fn foreign_origin_is_403() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let headers = headers_with(&client, "origin", "http://evil.example");
    let body = serde_json::to_vec(&initialize_request()).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 403, INVALID_REQUEST);

    let client = session(&proxy).await;
    let headers = headers_with(&client, "origin", "http://evil.example");
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 403, INVALID_REQUEST);
}

#[tokio::test]
async fn localhost_origin_is_accepted() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let headers = headers_with(&client, "origin", "http://localhost:3000");
    let body = serde_json::to_vec(&initialize_request()).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(
        answer.messages[0]["result"]["serverInfo"]["name"],
        "hyper-mcp-proxy-demo"
    );
    assert!(answer.headers.get("mcp-session-id").is_some());
}

#[tokio::test]
async fn origin_listed_with_allow_origin_is_accepted() {
    let proxy = Proxy::start(&["--allow-origin", "https://app.example.com"], &[]);
    let client = proxy.client();
    let headers = headers_with(&client, "origin", "https://app.example.com");
    let body = serde_json::to_vec(&initialize_request()).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert!(answer.headers.get("mcp-session-id").is_some());

    let client = session(&proxy).await;
    let headers = headers_with(&client, "origin", "https://app.example.com");
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(common::tool_text(answer.last()), "hi");

    let headers = headers_with(&client, "origin", "http://evil.example");
    let body = serde_json::to_vec(&echo_request(2, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 403, INVALID_REQUEST);
}

#[tokio::test]
async fn rebinding_host_is_403_on_loopback() {
    let proxy = Proxy::demo();
    let port = proxy.addr.rsplit(':').next().unwrap().to_string();
    let host = format!("rebind.evil.example:{port}");
    let client = proxy.client();
    let headers = headers_with(&client, "host", &host);
    let body = serde_json::to_vec(&initialize_request()).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 403, INVALID_REQUEST);

    let client = session(&proxy).await;
    let headers = headers_with(&client, "host", &host);
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_refused(&answer, 403, INVALID_REQUEST);
}

#[tokio::test]
async fn host_listed_with_allow_host_is_accepted() {
    let proxy = Proxy::start(&["--allow-host", "rebind.evil.example"], &[]);
    let port = proxy.addr.rsplit(':').next().unwrap().to_string();
    let host = format!("rebind.evil.example:{port}");
    let client = proxy.client();
    let headers = headers_with(&client, "host", &host);
    let body = serde_json::to_vec(&initialize_request()).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    let session_id = answer.headers["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();

    let mut client = proxy.client();
    client.session = Some(session_id);
    let headers = headers_with(&client, "host", &host);
    let body = serde_json::to_vec(&echo_request(1, "hi")).unwrap();
    let answer = client.post_raw(headers, body).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(common::tool_text(answer.last()), "hi");
}

#[tokio::test]
async fn command_that_cannot_be_spawned_fails_initialize() {
    let proxy = Proxy::start(&[], &["/nonexistent/mcp-server"]);
    let client = proxy.client();
    let answer = client.post(&initialize_request()).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(answer.content_type(), "application/json");
    assert!(answer.headers.get("mcp-session-id").is_none());
    assert_eq!(answer.messages.len(), 1);
    let message = &answer.messages[0];
    assert_eq!(message["jsonrpc"], "2.0");
    assert_eq!(message["id"], json!(0));
    assert!(message.get("result").is_none());
    assert_eq!(message["error"]["code"], json!(SERVER_ERROR));
    let text = message["error"]["message"].as_str().unwrap();
    assert!(text.contains("/nonexistent/mcp-server"), "message: {text}");
}

/// Sends `initialize` to a proxy whose backend exits with code 3 before reading anything and
/// checks the error every part of the row promises except the stderr lines; returns `data.stderr`.
async fn initialize_of_exiting_child(client: &Client) -> Vec<Value> {
    let answer = client.post(&initialize_request()).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(answer.content_type(), "application/json");
    assert!(answer.headers.get("mcp-session-id").is_none());
    let message = &answer.messages[0];
    assert_eq!(message["id"], json!(0));
    let error = &message["error"];
    assert_eq!(error["code"], json!(SERVER_ERROR));
    let text = error["message"].as_str().unwrap();
    assert!(
        text.contains("exited before answering initialize"),
        "message: {text}"
    );
    assert_eq!(error["data"]["exit"], json!({"code": 3}));
    error["data"]["stderr"]
        .as_array()
        .expect("data.stderr is an array")
        .clone()
}

/// The line `demo-server --exit-before-init` writes to stderr before exiting.
const EXIT_BEFORE_INIT_LINE: &str = "demo server: exiting before initialize as asked";

#[tokio::test]
async fn child_exiting_before_initialize_answer_fails_initialize() {
    let proxy = Proxy::start(
        &[],
        &[common::BIN, "demo-server", "--exit-before-init", "3"],
    );
    initialize_of_exiting_child(&proxy.client()).await;
}

#[tokio::test]
async fn child_exiting_before_initialize_reports_its_stderr() {
    let proxy = Proxy::start(
        &[],
        &[common::BIN, "demo-server", "--exit-before-init", "3"],
    );
    // One failed initialize loses the line only now and then; twenty in parallel make the
    // race show up reliably.
    let clients: Vec<Client> = (0..20).map(|_| proxy.client()).collect();
    let answers =
        futures_util::future::join_all(clients.iter().map(initialize_of_exiting_child)).await;
    let missing = answers
        .iter()
        .filter(|stderr| !stderr.contains(&json!(EXIT_BEFORE_INIT_LINE)))
        .count();
    let logged = log_lines_with(&proxy, &[EXIT_BEFORE_INIT_LINE]).len();
    assert_eq!(
        missing, 0,
        "data.stderr lacked the child's stderr line in {missing} of 20 answers (the proxy log \
         has it {logged} times): {answers:?}"
    );
}

#[tokio::test]
async fn stdout_line_that_is_not_json_is_logged_and_dropped() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let session_id = client.session.clone().unwrap();
    let answer = client.call_tool(1, "garbage", json!({})).await;
    assert_eq!(answer["id"], json!(1));
    assert_eq!(common::tool_text(&answer), "garbage sent");
    common::eventually("the proxy logs the garbage line", || {
        !log_lines_with(
            &proxy,
            &[
                "WARN",
                &session_id,
                "not a JSON-RPC message",
                "this is not json",
            ],
        )
        .is_empty()
    })
    .await;
    assert_echo_works(&client, 2).await;
}

#[tokio::test]
async fn child_stderr_is_logged_with_the_session_id() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let session_id = client.session.clone().unwrap();
    let answer = client.call_tool(1, "stderr", json!({"lines": 5})).await;
    assert_eq!(common::tool_text(&answer), "wrote 5 lines");
    common::eventually("the proxy logs stderr line 5 with the session id", || {
        !log_lines_with(&proxy, &["demo stderr line 5", &session_id]).is_empty()
    })
    .await;
}

#[tokio::test]
async fn child_stderr_flood_does_not_block_the_child() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client.call_tool(1, "stderr", json!({"lines": 20000})).await;
    assert_eq!(answer["id"], json!(1));
    assert_eq!(common::tool_text(&answer), "wrote 20000 lines");
    assert_echo_works(&client, 2).await;
}

#[tokio::test]
async fn initialize_with_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client.post(&initialize_request()).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
    assert_echo_works(&client, 1).await;
}
