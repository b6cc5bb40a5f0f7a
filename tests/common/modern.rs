//! A 2026-07-28 ("modern") client for the integration tests: every request is a self-contained
//! POST with the `_meta` envelope and the routing headers (`MCP-Protocol-Version`,
//! `Mcp-Method`, `Mcp-Name`), as the official Python and TypeScript clients send them.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::client::{Answer, Client};
use super::ops::http_get;
use super::proxy::Proxy;
use super::sse::SseReader;

/// The revision the modern leg serves.
pub const MODERN: &str = "2026-07-28";

/// The `_meta` envelope with `capabilities` declared for this request.
pub fn envelope(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "modern-test", "version": "0.0.1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    })
}

/// A modern request: `params` plus the envelope.
pub fn modern_request(id: Value, method: &str, params: Value, capabilities: Value) -> Value {
    let mut params = match params {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut meta = match params.remove("_meta") {
        Some(Value::Object(meta)) => meta,
        _ => serde_json::Map::new(),
    };
    if let Value::Object(envelope) = envelope(capabilities) {
        meta.extend(envelope);
    }
    params.insert("_meta".into(), Value::Object(meta));
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The headers a modern client sends with `message`: version, `Mcp-Method`, and `Mcp-Name`
/// for the methods that name something.
pub fn modern_headers(message: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    headers.insert("mcp-protocol-version", HeaderValue::from_static(MODERN));
    if let Some(method) = message["method"].as_str() {
        headers.insert("mcp-method", HeaderValue::from_str(method).unwrap());
        let name = match method {
            "tools/call" | "prompts/get" => message["params"]["name"].as_str(),
            "resources/read" => message["params"]["uri"].as_str(),
            _ => None,
        };
        if let Some(name) = name {
            headers.insert("mcp-name", HeaderValue::from_str(name).unwrap());
        }
    }
    headers
}

impl Client {
    /// POSTs a modern message with the headers a modern client sends.
    pub async fn post_modern(&self, message: &Value) -> Answer {
        self.post_raw(
            modern_headers(message),
            serde_json::to_vec(message).unwrap(),
        )
        .await
    }

    /// POSTs a modern request whose answer is read while it is open (`subscriptions/listen`).
    pub async fn open_modern(&self, message: &Value) -> SseReader {
        let response = self
            .http
            .post(&self.url)
            .headers(modern_headers(message))
            .body(serde_json::to_vec(message).unwrap())
            .send()
            .await
            .expect("POST");
        SseReader::new(response)
    }

    /// A modern request with no client capabilities; returns the whole answer.
    pub async fn modern(&self, id: i64, method: &str, params: Value) -> Answer {
        self.post_modern(&modern_request(json!(id), method, params, json!({})))
            .await
    }

    /// Calls a tool the modern way and returns its final message (status 200 required).
    pub async fn modern_call(&self, id: i64, name: &str, arguments: Value) -> Value {
        let answer = self
            .modern(
                id,
                "tools/call",
                json!({"name": name, "arguments": arguments}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.last().clone()
    }
}

/// The modern leg's pooled children as `/sessions` lists them (the proxy must run with
/// `--metrics-addr`, where `/sessions` is served).
pub async fn pooled(proxy: &Proxy) -> Vec<Value> {
    let (status, _, body) = http_get(&proxy.metrics_addr().await, "/sessions").await;
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    listed["pooled"].as_array().cloned().unwrap_or_default()
}
