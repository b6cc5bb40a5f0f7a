//! JSON-RPC messages as the tests build and check them: the client's `initialize` params and
//! request, `tools/call` requests, notifications and responses, the text of a tool result, and
//! the error codes the proxy answers with.

use serde_json::{Value, json};

/// JSON-RPC "Parse error".
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request": the code of the proxy's own refusals, its 404 for a session that
/// is gone included.
pub const INVALID_REQUEST: i64 = -32600;
/// The proxy's "server error" code: the MCP server cannot be started or exited, the session is
/// closed, a limit refuses the request, or the proxy is shutting down.
pub const SERVER_ERROR: i64 = -32000;
/// The proxy's "request timed out" code (`--request-timeout`).
pub const REQUEST_TIMEOUT: i64 = -32001;

/// The initialize params every test client sends.
pub fn init_params() -> Value {
    json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}},
        "clientInfo": {"name": "hyper-mcp-proxy-tests", "version": "1.0.0"}
    })
}

/// An `initialize` request (for raw POSTs whose refusal is checked).
pub fn initialize_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init_params()})
}

/// A `tools/call` request.
pub fn tool_call(id: impl Into<Value>, name: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id.into(),
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments}
    })
}

/// `{"jsonrpc":"2.0","method": method}` plus `params` when given.
pub fn notification(method: &str, params: Option<Value>) -> Value {
    let mut message = json!({"jsonrpc": "2.0", "method": method});
    if let Some(params) = params {
        message["params"] = params;
    }
    message
}

/// `{"jsonrpc":"2.0","id": id,"result": result}`
pub fn response(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// The text of a tool result's first content item.
pub fn tool_text(message: &Value) -> &str {
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not a text tool result: {message}"))
}
