//! The header rules of the Streamable HTTP endpoint, one table row per test: `Content-Type`
//! (415), `Accept` (406), `MCP-Protocol-Version` (400 unless absent or supported), and the
//! DNS-rebinding guards on `Origin` and `Host` (403 unless local or allowed with
//! `--allow-origin` / `--allow-host`).

mod common;

use common::http_rules::{assert_echo_works, assert_refused, echo_request, get_headers};
use common::mcp::{INVALID_REQUEST, initialize_request};
use common::{Answer, Client, Proxy, session};
use reqwest::header::HeaderValue;
use serde_json::Value;

/// POSTs `message` with the default headers of `client`, except `name` set to `value`.
async fn post_with(client: &Client, name: &'static str, value: &str, message: &Value) -> Answer {
    let mut headers = client.headers();
    headers.insert(name, HeaderValue::from_str(value).unwrap());
    client
        .post_raw(headers, serde_json::to_vec(message).unwrap())
        .await
}

#[tokio::test]
async fn text_plain_content_type_is_415() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = post_with(
        &client,
        "content-type",
        "text/plain",
        &echo_request(1, "hi"),
    )
    .await;
    assert_refused(&answer, 415, INVALID_REQUEST);
}

#[tokio::test]
async fn post_accepting_only_json_is_406() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = post_with(
        &client,
        "accept",
        "application/json",
        &echo_request(1, "hi"),
    )
    .await;
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
    let answer = post_with(
        &client,
        "mcp-protocol-version",
        "1999-01-01",
        &echo_request(1, "hi"),
    )
    .await;
    // A version that is no 2025 revision takes the dual-era endpoint's modern path, whose
    // answer to a revision nobody serves is `-32022` (MCP 2026-07-28 versioning), at once.
    assert_refused(&answer, 400, -32022);
    assert_eq!(
        answer.messages[0]["error"]["data"]["requested"],
        "1999-01-01"
    );
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
async fn foreign_origin_is_403() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = post_with(
        &client,
        "origin",
        "http://evil.example",
        &initialize_request(),
    )
    .await;
    assert_refused(&answer, 403, INVALID_REQUEST);

    let client = session(&proxy).await;
    let answer = post_with(
        &client,
        "origin",
        "http://evil.example",
        &echo_request(1, "hi"),
    )
    .await;
    assert_refused(&answer, 403, INVALID_REQUEST);
}

#[tokio::test]
async fn localhost_origin_is_accepted() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = post_with(
        &client,
        "origin",
        "http://localhost:3000",
        &initialize_request(),
    )
    .await;
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
    let answer = post_with(
        &client,
        "origin",
        "https://app.example.com",
        &initialize_request(),
    )
    .await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert!(answer.headers.get("mcp-session-id").is_some());

    let client = session(&proxy).await;
    let answer = post_with(
        &client,
        "origin",
        "https://app.example.com",
        &echo_request(1, "hi"),
    )
    .await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(common::tool_text(answer.last()), "hi");

    let answer = post_with(
        &client,
        "origin",
        "http://evil.example",
        &echo_request(2, "hi"),
    )
    .await;
    assert_refused(&answer, 403, INVALID_REQUEST);
}

#[tokio::test]
async fn rebinding_host_is_403_on_loopback() {
    let proxy = Proxy::demo();
    let port = proxy.addr.rsplit(':').next().unwrap().to_string();
    let host = format!("rebind.evil.example:{port}");
    let client = proxy.client();
    let answer = post_with(&client, "host", &host, &initialize_request()).await;
    assert_refused(&answer, 403, INVALID_REQUEST);

    let client = session(&proxy).await;
    let answer = post_with(&client, "host", &host, &echo_request(1, "hi")).await;
    assert_refused(&answer, 403, INVALID_REQUEST);
}

#[tokio::test]
async fn host_listed_with_allow_host_is_accepted() {
    let proxy = Proxy::start(&["--allow-host", "rebind.evil.example"], &[]);
    let port = proxy.addr.rsplit(':').next().unwrap().to_string();
    let host = format!("rebind.evil.example:{port}");
    let client = proxy.client();
    let answer = post_with(&client, "host", &host, &initialize_request()).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    let session_id = answer.headers["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();

    let mut client = proxy.client();
    client.session = Some(session_id);
    let answer = post_with(&client, "host", &host, &echo_request(1, "hi")).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    assert_eq!(common::tool_text(answer.last()), "hi");
}
