//! The modern leg over a child that speaks 2026-07-28 itself (the built-in demo server is
//! dual-era, like the SDKs' servers): the probe finds it out, requests pass through to shared
//! children with their envelope, ids and progress tokens are the proxy's on the child and the
//! caller's on the way back, and a crashed child is restarted without a handshake.

mod common;

use common::modern::{MODERN, modern_request, pooled};
use common::{Proxy, tool_text};
use serde_json::{Value, json};

#[tokio::test]
async fn the_probe_finds_a_modern_child_and_requests_pass_through() {
    let proxy = Proxy::start(&["--metrics-addr", "127.0.0.1:0"], &[]);
    let client = proxy.client();
    let answer = client.modern(1, "server/discover", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.last()["result"];
    assert_eq!(result["supportedVersions"], json!([MODERN]));
    assert_eq!(result["resultType"], json!("complete"));

    let echo = client
        .modern_call(2, "echo", json!({"message": "hi"}))
        .await;
    assert_eq!(echo["id"], json!(2));
    assert_eq!(tool_text(&echo), "hi");
    assert_eq!(echo["result"]["resultType"], json!("complete"));

    // The child got the envelope (passthrough), under the proxy's id.
    let received = client.modern_call(3, "received", json!({})).await;
    let seen: Vec<Value> = serde_json::from_str(tool_text(&received)).unwrap();
    let forwarded = seen
        .iter()
        .find(|message| message["params"]["name"] == json!("echo"))
        .expect("the echo call reached the child");
    assert_eq!(
        forwarded["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
        json!(MODERN)
    );

    let children = pooled(&proxy).await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0]["kind"], json!("passthrough"));
    assert_eq!(children[0]["child_era"], json!("modern"));
    let scrape = common::scrape(&proxy.metrics_addr().await).await;
    assert_eq!(
        scrape.value(
            "hyper_mcp_proxy_child_era_probes_total",
            &[("era", "modern"), ("reason", "offered")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("hyper_mcp_proxy_era_requests_total", &[("era", "modern")]),
        Some(3.0)
    );
}

#[tokio::test]
async fn progress_tokens_and_ids_are_restored_for_each_caller() {
    let proxy = Proxy::start(&["--metrics-addr", "127.0.0.1:0"], &[]);
    let calls = (0..4).map(|n| {
        let client = proxy.client();
        tokio::spawn(async move {
            let message = modern_request(
                json!("same"),
                "tools/call",
                json!({"name": "sleep", "arguments": {"ms": 40, "steps": 2},
                       "_meta": {"progressToken": format!("token-{n}")}}),
                json!({}),
            );
            (n, client.post_modern(&message).await)
        })
    });
    for call in calls {
        let (n, answer) = call.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        let progress: Vec<&Value> = answer
            .messages
            .iter()
            .filter(|m| m["method"] == json!("notifications/progress"))
            .collect();
        assert_eq!(progress.len(), 2, "{}", answer.body);
        for note in progress {
            assert_eq!(note["params"]["progressToken"], json!(format!("token-{n}")));
        }
        assert_eq!(answer.last()["id"], json!("same"));
    }
}

#[tokio::test]
async fn a_crashed_child_fails_its_call_and_the_next_call_works() {
    let proxy = Proxy::start(&["--metrics-addr", "127.0.0.1:0"], &[]);
    let client = proxy.client();
    let before = client.modern_call(1, "pid", json!({})).await;
    let crashed = client
        .modern(
            2,
            "tools/call",
            json!({"name": "crash", "arguments": {"code": 3}}),
        )
        .await;
    // A JSON-RPC error for the call in flight, never a hang or an empty answer.
    assert_eq!(crashed.last()["id"], json!(2));
    assert_eq!(
        crashed.last()["error"]["code"],
        json!(-32000),
        "{}",
        crashed.body
    );
    // The next call waits for the restarted child (held like a session's requests).
    let after = client.modern_call(3, "pid", json!({})).await;
    assert_ne!(
        tool_text(&before),
        tool_text(&after),
        "a new process serves"
    );
    let children = pooled(&proxy).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0]["restarts"], json!(1));
}

#[tokio::test]
async fn legacy_sessions_keep_their_own_children_beside_the_pool() {
    let proxy = Proxy::start(&["--metrics-addr", "127.0.0.1:0"], &[]);
    let client = proxy.client();
    let modern = client.modern_call(1, "pid", json!({})).await;
    let session = common::session(&proxy).await;
    let legacy = session.call_tool(2, "pid", json!({})).await;
    assert_ne!(tool_text(&modern), tool_text(&legacy));
    assert_eq!(
        tool_text(&session.call_tool(3, "echo", json!({"message": "ok"})).await),
        "ok"
    );
}
