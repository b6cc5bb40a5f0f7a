//! Byte budgets against a server that answers `initialize` and then never reads its stdin
//! again: client data waiting for it is bounded by `--max-session-buffer-bytes` (beyond, 429
//! with `Retry-After`, at once) and, over all sessions, by `--max-buffer-bytes` (503). Without
//! them, every accepted POST would stay in the proxy's memory.

mod common;

use common::client::Client;
use common::ops::scrape;
use common::proxy::Proxy;
use common::raw::RawConn;
use serde_json::{Value, json};

/// Answers `initialize` (proxy id 1), then keeps stdin open without reading it.
const SILENT_SERVER: &str = r#"read line; printf '%s\n' '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"silent","version":"1"}}}'; exec sleep 600"#;

/// A notification whose body is exactly `bytes` long.
fn notification_of(bytes: usize) -> Vec<u8> {
    let skeleton = json!({"jsonrpc": "2.0", "method": "notifications/pad", "params": {"pad": ""}});
    let pad = bytes - serde_json::to_vec(&skeleton).unwrap().len();
    let message = json!({"jsonrpc": "2.0", "method": "notifications/pad", "params": {"pad": "x".repeat(pad)}});
    let body = serde_json::to_vec(&message).unwrap();
    assert_eq!(body.len(), bytes);
    body
}

async fn silent_session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

fn assert_refused(answer: &common::client::Answer, status: u16, flag: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let error: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(error["error"]["code"], -32000, "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(flag), "{message}");
}

#[tokio::test]
async fn a_server_that_stops_reading_gets_429_beyond_the_session_budget() {
    let proxy = Proxy::start(
        &[
            "--max-session-buffer-bytes",
            "3500000",
            "--max-body-bytes",
            "1000000",
            "--max-message-bytes",
            "1000000",
        ],
        &["sh", "-c", SILENT_SERVER],
    );
    let client = silent_session(&proxy).await;
    let body = notification_of(1_000_000);
    for _ in 0..3 {
        let accepted = client.post_raw(client.headers(), body.clone()).await;
        assert_eq!(accepted.status, 202, "{}", accepted.body);
    }
    let refused = client.post_raw(client.headers(), body.clone()).await;
    assert_refused(&refused, 429, "--max-session-buffer-bytes");

    // A declared length over the budget is refused before any of the body is read.
    let mut conn = RawConn::connect(&proxy.addr).await;
    let head = format!(
        "POST /mcp HTTP/1.1\nHost: {}\nContent-Type: application/json\nAccept: application/json, text/event-stream\nMcp-Session-Id: {}\nMCP-Protocol-Version: 2025-06-18\nContent-Length: 1000000\n",
        proxy.addr,
        client.session.as_deref().unwrap()
    );
    conn.send(&head, b"{").await;
    let refused_early = conn.read_head().await;
    assert_eq!(refused_early.status, 429);
    assert!(
        refused_early.elapsed < std::time::Duration::from_secs(1),
        "{:?}",
        refused_early.elapsed
    );

    // A length over --max-body-bytes is a 413, not a budget matter.
    let mut conn = RawConn::connect(&proxy.addr).await;
    conn.send(
        &head.replace("Content-Length: 1000000", "Content-Length: 1000001"),
        b"{",
    )
    .await;
    assert_eq!(conn.read_head().await.status, 413);

    let metrics = scrape(&proxy.addr).await;
    let limit = [("limit", "session_buffer_bytes")];
    assert_eq!(metrics.get("hyper_mcp_proxy_limit_hits_total", &limit), 2.0);
    let queued = [("direction", "client_to_child")];
    assert_eq!(
        metrics.get("hyper_mcp_proxy_buffered_bytes", &queued),
        3_000_000.0
    );
}

#[tokio::test]
async fn the_proxy_wide_budget_gives_503() {
    let proxy = Proxy::start(
        &[
            "--max-buffer-bytes",
            "2500000",
            "--max-session-buffer-bytes",
            "2000000",
            "--max-body-bytes",
            "1000000",
            "--max-message-bytes",
            "1000000",
        ],
        &["sh", "-c", SILENT_SERVER],
    );
    let first = silent_session(&proxy).await;
    let second = silent_session(&proxy).await;
    let body = notification_of(1_000_000);
    for _ in 0..2 {
        let accepted = first.post_raw(first.headers(), body.clone()).await;
        assert_eq!(accepted.status, 202, "{}", accepted.body);
    }
    let refused = second.post_raw(second.headers(), body.clone()).await;
    assert_refused(&refused, 503, "--max-buffer-bytes");
    let small = second
        .post_raw(second.headers(), notification_of(100_000))
        .await;
    assert_eq!(small.status, 202, "{}", small.body);

    let metrics = scrape(&proxy.addr).await;
    let limit = [("limit", "buffer_bytes")];
    assert_eq!(metrics.get("hyper_mcp_proxy_limit_hits_total", &limit), 1.0);
}
