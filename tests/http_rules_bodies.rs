//! The body rules of the Streamable HTTP endpoint, one table row per test: a body that is not
//! JSON (400, parse error) or not a JSON-RPC message (400, invalid request) is refused and
//! every session goes on, a body over `--max-body-bytes` is 413, and 10 MiB pass both ways.

mod common;

use common::http_rules::{assert_echo_works, assert_refused, echo_request};
use common::mcp::{INVALID_REQUEST, PARSE_ERROR};
use common::{Proxy, session};
use serde_json::json;

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
