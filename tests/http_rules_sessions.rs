//! The `Mcp-Session-Id` rules of the Streamable HTTP endpoint, one table row per test: a POST,
//! GET or DELETE without the header is 400, an unknown or deleted session is 404, and
//! `initialize` with the header is 400.

mod common;

use common::http_rules::{assert_echo_works, assert_refused, echo_request, get_headers};
use common::mcp::{INVALID_REQUEST, initialize_request};
use common::{Proxy, session};
use reqwest::header::{HeaderMap, HeaderValue};

/// Headers of a DELETE for `session`.
fn delete_headers(session: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
    headers
}

#[tokio::test]
async fn request_without_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client.post(&echo_request(1, "hi")).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn unknown_session_is_404_for_post_and_get() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    client.session = Some("00000000000000000000000000000000".into());
    let answer = client.post(&echo_request(1, "hi")).await;
    assert_refused(&answer, 404, INVALID_REQUEST);
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_refused(&answer, 404, INVALID_REQUEST);
}

#[tokio::test]
async fn deleted_session_is_404() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let id = client.session.clone().unwrap();
    let answer = client.delete_raw(delete_headers(&id)).await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    let answer = client.post(&echo_request(1, "hi")).await;
    assert_refused(&answer, 404, INVALID_REQUEST);
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_refused(&answer, 404, INVALID_REQUEST);
    let answer = client.delete_raw(delete_headers(&id)).await;
    assert_refused(&answer, 404, INVALID_REQUEST);
}

#[tokio::test]
async fn delete_of_unknown_session_is_404() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client
        .delete_raw(delete_headers("ffffffffffffffffffffffffffffffff"))
        .await;
    assert_refused(&answer, 404, INVALID_REQUEST);
}

#[tokio::test]
async fn delete_without_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client.delete_raw(HeaderMap::new()).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn get_without_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let answer = client
        .get_raw(get_headers(&client, "text/event-stream"))
        .await;
    assert_refused(&answer, 400, INVALID_REQUEST);
}

#[tokio::test]
async fn initialize_with_session_header_is_400() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client.post(&initialize_request()).await;
    assert_refused(&answer, 400, INVALID_REQUEST);
    assert_echo_works(&client, 1).await;
}
