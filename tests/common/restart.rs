//! What the `restart_*` tests share: the proxy's error for a request whose MCP server exited,
//! signals to the server, bounded waits for the proxy's children to become a given set, for a
//! replacement process and for a process group to be gone, and the proxy ids the server sees.

use std::time::Duration;

use serde_json::{Value, json};

use super::mcp::SERVER_ERROR;
use super::proxy::Proxy;

/// Asserts that `answer` is the proxy's error for request `id` whose MCP server exited, with
/// exactly `data` (`{"exit": {...}, "generation": G}`).
pub fn assert_server_exited(answer: &Value, id: i64, data: Value) {
    assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
    assert_eq!(answer["id"], json!(id), "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    assert_eq!(answer["error"]["code"], json!(SERVER_ERROR), "{answer}");
    assert_eq!(answer["error"]["data"], data, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("exited"), "{answer}");
}

/// `{"exit": {"code": code}, "generation": generation}`
pub fn exited_with_code(code: i32, generation: u64) -> Value {
    json!({"exit": {"code": code}, "generation": generation})
}

/// Sends `signal` to process `pid`.
pub fn send_signal(pid: u32, signal: i32) {
    // SAFETY: plain kill(2) on a child of the proxy under test.
    let result = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(result, 0, "kill({pid}, {signal}) failed");
}

/// The direct children of the proxy, sorted.
pub fn proxy_children(proxy: &Proxy) -> Vec<u32> {
    let mut children = super::children_of(proxy.pid());
    children.sort_unstable();
    children
}

/// Waits (bounded) until the proxy's live child processes are exactly `expected`.
pub async fn assert_children_become(proxy: &Proxy, expected: &[u32]) {
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    let deadline = tokio::time::Instant::now() + super::WAIT;
    loop {
        let children = proxy_children(proxy);
        if children == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the proxy's children are {children:?}, expected exactly {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until the proxy has exactly one child and it is not `old`; returns it.
pub async fn wait_for_replacement(proxy: &Proxy, old: u32) -> u32 {
    let mut replacement = None;
    super::eventually(
        "a new MCP server process replaced the old one",
        || match proxy_children(proxy).as_slice() {
            [pid] if *pid != old => {
                replacement = Some(*pid);
                true
            }
            _ => false,
        },
    )
    .await;
    replacement.expect("set when the condition held")
}

/// Waits (bounded) until no process of group `pgid` runs any more.
pub async fn assert_group_gone(pgid: u32) {
    super::eventually(&format!("process group {pgid} is gone"), || {
        !super::group_alive(pgid)
    })
    .await;
}

/// Whether `message` is the `tools/call` of tool `name`.
pub fn is_tool_call(message: &Value, name: &str) -> bool {
    message["method"] == "tools/call" && message["params"]["name"] == name
}

/// The proxy id of a message the MCP server received (the proxy's own ids are integers).
pub fn proxy_id(message: &Value) -> u64 {
    message["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("the MCP server saw a non-integer id: {message}"))
}
