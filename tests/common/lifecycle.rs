//! What the `lifecycle_*` tests share: bounded waits for the proxy to exit and for a process
//! group to be gone, GETs on the main listener, the proxy's refusals with `Retry-After` and its
//! JSON-RPC errors, and awaiting a POST sent on a task of its own.

use serde_json::{Value, json};

use super::client::Answer;
use super::proxy::Proxy;

/// Waits (bounded) until no process of group `pgid` runs any more.
pub async fn assert_group_gone(pgid: u32) {
    let what = format!("every process of group {pgid} is gone");
    super::eventually(&what, || !super::group_alive(pgid)).await;
}

/// Waits (bounded, off the async runtime) for the proxy to exit; returns it and its exit code.
pub async fn exit_code(proxy: Proxy) -> (Proxy, Option<i32>) {
    tokio::task::spawn_blocking(move || {
        let mut proxy = proxy;
        let code = proxy.wait_exit();
        (proxy, code)
    })
    .await
    .expect("waiting for the proxy")
}

/// `GET http://<addr><path>` on the proxy's main listener: status and body.
pub async fn get_path(proxy: &Proxy, path: &str) -> (u16, String) {
    let response = proxy
        .client()
        .http
        .get(format!("http://{}{path}", proxy.addr))
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Asserts `answer` is a refusal with `status`, `Retry-After: 1` and a JSON-RPC error body
/// with `code` for request `id`.
pub fn assert_refused(answer: &Answer, status: u16, id: Value, code: i64) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..]),
        "Retry-After: {:?}",
        answer.headers
    );
    assert!(
        answer.content_type().starts_with("application/json"),
        "{:?}",
        answer.headers
    );
    assert_eq!(answer.messages.len(), 1, "{}", answer.body);
    let body = &answer.messages[0];
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body.get("result").is_none(), "{body}");
}

/// Asserts that `answer` is the JSON-RPC error (not a result) for request `id` with `code`.
pub fn assert_rpc_error(answer: &Value, id: &Value, code: i64) {
    assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
    assert_eq!(&answer["id"], id, "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    assert_eq!(answer["error"]["code"], json!(code), "{answer}");
}

/// Awaits a spawned POST (bounded) and returns its final message, checking the status is 200.
pub async fn finished(post: tokio::task::JoinHandle<Answer>) -> Value {
    let answer = tokio::time::timeout(super::WAIT, post)
        .await
        .expect("the POST is answered")
        .expect("the POST task did not panic");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.last().clone()
}
