//! The dual-era endpoint's entry over real HTTP: which POSTs take the modern path, the modern
//! transport's validation ladder (statuses and codes), GET/DELETE with a modern version, and
//! `--modern off`. The legacy path is unchanged beside it.

mod common;

use common::modern::{MODERN, modern_headers, modern_request};
use common::{Proxy, tool_text};
use reqwest::header::HeaderValue;
use serde_json::json;

#[tokio::test]
async fn get_and_delete_with_a_modern_version_are_not_allowed() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static("text/event-stream"));
    headers.insert("mcp-protocol-version", HeaderValue::from_static(MODERN));
    let get = client.get_raw(headers.clone()).await;
    assert_eq!(get.status, 405);
    assert_eq!(get.headers.get("allow").unwrap(), "POST");
    let delete = client.delete_raw(headers).await;
    assert_eq!(delete.status, 405);
    assert_eq!(delete.headers.get("allow").unwrap(), "POST");
}

#[tokio::test]
async fn the_validation_ladder_answers_with_the_reference_codes() {
    let proxy = Proxy::start(&["--modern", "translate", "--child-era", "legacy"], &[]);
    let client = proxy.client();
    let list = modern_request(json!(1), "tools/list", json!({}), json!({}));

    // No envelope in the body.
    let bare = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let answer = client
        .post_raw(modern_headers(&bare), serde_json::to_vec(&bare).unwrap())
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32602));

    // Header and body disagree on the method.
    let mut headers = modern_headers(&list);
    headers.insert("mcp-method", HeaderValue::from_static("prompts/list"));
    let answer = client
        .post_raw(headers, serde_json::to_vec(&list).unwrap())
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32020));

    // A version nobody serves, in header and body.
    let mut future = list.clone();
    future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let mut headers = modern_headers(&future);
    headers.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2099-01-01"),
    );
    let answer = client
        .post_raw(headers, serde_json::to_vec(&future).unwrap())
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32022));
    assert_eq!(answer.last()["error"]["data"]["supported"], json!([MODERN]));
    assert_eq!(
        answer.last()["error"]["data"]["requested"],
        json!("2099-01-01")
    );

    // Methods the 2026-07-28 revision removed.
    for method in [
        "ping",
        "initialize",
        "logging/setLevel",
        "resources/subscribe",
    ] {
        let answer = client.modern(3, method, json!({})).await;
        assert_eq!(answer.status, 404, "{method}: {}", answer.body);
        assert_eq!(answer.last()["error"]["code"], json!(-32601), "{method}");
    }

    // A notification is accepted and has no body.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 1, "_meta": common::modern::envelope(json!({}))}});
    let answer = client
        .post_raw(modern_headers(&note), serde_json::to_vec(&note).unwrap())
        .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.body, "");

    // Malformed JSON.
    let answer = client.post_raw(modern_headers(&list), "{not json").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.last()["error"]["code"], json!(-32700));
}

#[tokio::test]
async fn an_envelope_without_the_version_header_takes_the_modern_path() {
    let proxy = Proxy::start(&["--modern", "translate", "--child-era", "legacy"], &[]);
    let client = proxy.client();
    let message = modern_request(json!(4), "tools/list", json!({}), json!({}));
    let mut headers = modern_headers(&message);
    headers.remove("mcp-protocol-version");
    let answer = client
        .post_raw(headers, serde_json::to_vec(&message).unwrap())
        .await;
    // The ladder, not the session path ("Mcp-Session-Id header is required"), answers it.
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32020));
}

#[tokio::test]
async fn modern_off_refuses_so_clients_fall_back() {
    let proxy = Proxy::start(&["--modern", "off"], &[]);
    let client = proxy.client();
    let answer = client.modern(1, "server/discover", json!({})).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32600));
    assert_eq!(answer.last()["id"], json!(1));
    let session = common::session(&proxy).await;
    assert_eq!(
        tool_text(&session.call_tool(2, "echo", json!({"message": "ok"})).await),
        "ok"
    );
}

#[tokio::test]
async fn both_eras_are_served_at_once() {
    let proxy = Proxy::start(&["--modern", "translate", "--child-era", "legacy"], &[]);
    let legacy = (0..4).map(|n| {
        let proxy_client = proxy.client();
        tokio::spawn(async move {
            let mut client = proxy_client;
            client.initialize().await;
            let answer = client
                .call_tool(1, "echo", json!({"message": format!("legacy {n}")}))
                .await;
            tool_text(&answer).to_string()
        })
    });
    let modern = (0..4).map(|n| {
        let client = proxy.client();
        tokio::spawn(async move {
            let answer = client
                .modern_call(1, "echo", json!({"message": format!("modern {n}")}))
                .await;
            tool_text(&answer).to_string()
        })
    });
    let legacy: Vec<_> = legacy.collect();
    let modern: Vec<_> = modern.collect();
    for (n, task) in legacy.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("legacy {n}"));
    }
    for (n, task) in modern.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("modern {n}"));
    }
}
