//! Probes through the demo server's own tools: which process serves a session (`pid`), and
//! whether the session still answers (`echo`).

use serde_json::json;

use super::client::Client;
use super::mcp::tool_text;

/// The pid of the session's current MCP server (its `pid` tool), called with request `id`.
pub async fn server_pid(client: &Client, id: i64) -> u32 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    assert_eq!(answer["id"], json!(id), "{answer}");
    super::tool_text(&answer)
        .parse()
        .unwrap_or_else(|_| panic!("pid is not a number: {answer}"))
}

/// Calls the demo `pid` tool: the pid of the session's current child.
pub async fn child_pid(client: &Client, id: i64) -> u64 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    tool_text(&answer).parse().expect("pid is a number")
}

/// Asserts that `echo` works on the session of `client`.
pub async fn assert_echo_works(client: &Client, id: i64) {
    let message = format!("echo {id}");
    let answer = client
        .call_tool(id, "echo", json!({"message": message}))
        .await;
    assert_eq!(answer["id"], json!(id), "{answer}");
    assert_eq!(super::tool_text(&answer), message, "{answer}");
}
