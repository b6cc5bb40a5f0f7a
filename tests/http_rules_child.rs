//! The rows of the HTTP rules about the MCP server rather than the request: a command that
//! cannot be spawned, or a child that exits before answering `initialize`, fails that
//! `initialize` with -32000 (the cause and the child's stderr lines in the error) and creates no
//! session; a stdout line that is not JSON-RPC is logged and dropped; the child's stderr is
//! logged with the session id, and a flood of it never blocks the child.

mod common;

use common::http_rules::assert_echo_works;
use common::mcp::{SERVER_ERROR, initialize_request};
use common::{Client, Proxy, session};
use serde_json::{Value, json};

/// The lines of the proxy log that contain every one of `needles`.
fn log_lines_with(proxy: &Proxy, needles: &[&str]) -> Vec<String> {
    proxy
        .log()
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .map(String::from)
        .collect()
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
    let session_id = client.logged_session();
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
    let session_id = client.logged_session();
    let answer = client.call_tool(1, "stderr", json!({"lines": 5})).await;
    assert_eq!(common::tool_text(&answer), "wrote 5 lines");
    common::eventually("the proxy logs stderr line 5 with the session id", || {
        !log_lines_with(&proxy, &["demo stderr line 5", &session_id]).is_empty()
    })
    .await;
    let full_id = client.session.as_deref().unwrap();
    assert!(
        !proxy.log().contains(full_id),
        "the log holds the full session id"
    );
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
