//! A minimal Streamable HTTP MCP client: POSTs (whole answers, or SSE streams read while open),
//! the standalone GET stream, DELETE, raw requests with exactly the given headers, and the
//! answers parsed into JSON-RPC messages.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::mcp::{init_params, tool_text};
use super::proxy::Proxy;
use super::sse::{SseReader, sse_data};

/// An HTTP answer, fully read.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// JSON-RPC messages in the body: one for JSON, one per event for SSE.
    pub messages: Vec<Value>,
    /// The raw body.
    pub body: String,
}

impl Answer {
    /// The last message (the request's answer on an SSE stream).
    pub fn last(&self) -> &Value {
        self.messages.last().expect("at least one message")
    }

    /// The content type.
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A minimal Streamable HTTP MCP client.
pub struct Client {
    /// HTTP client with a bounded timeout.
    pub http: reqwest::Client,
    /// The MCP endpoint.
    pub url: String,
    /// Session id once initialized.
    pub session: Option<String>,
    /// Protocol version header to send, once negotiated.
    pub protocol_version: Option<String>,
}

impl Client {
    /// Default headers for a POST.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "accept",
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        if let Some(session) = &self.session {
            headers.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
        }
        if let Some(version) = &self.protocol_version {
            headers.insert(
                "mcp-protocol-version",
                HeaderValue::from_str(version).unwrap(),
            );
        }
        headers
    }

    /// POSTs raw bytes with the given headers and reads the whole answer.
    pub async fn post_raw(&self, headers: HeaderMap, body: impl Into<reqwest::Body>) -> Answer {
        let response = self
            .http
            .post(&self.url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .expect("POST");
        read_answer(response).await
    }

    /// POSTs a JSON-RPC message with the default headers.
    pub async fn post(&self, message: &Value) -> Answer {
        self.post_raw(self.headers(), serde_json::to_vec(message).unwrap())
            .await
    }

    /// Initializes a session and sends `notifications/initialized`; returns the result.
    pub async fn initialize(&mut self) -> Value {
        let answer = self
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init_params()}))
            .await;
        assert_eq!(answer.status, 200, "initialize failed: {}", answer.body);
        let session = answer
            .headers
            .get("mcp-session-id")
            .expect("Mcp-Session-Id header")
            .to_str()
            .unwrap()
            .to_string();
        self.session = Some(session);
        let result = answer.last()["result"].clone();
        self.protocol_version = result["protocolVersion"].as_str().map(String::from);
        let ack = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(ack.status, 202);
        result
    }

    /// Sends a request and returns the whole answer (all SSE messages included).
    pub async fn request(&self, id: Value, method: &str, params: Value) -> Answer {
        self.post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await
    }

    /// Calls a tool and returns the final JSON-RPC message.
    pub async fn call_tool(&self, id: i64, name: &str, arguments: Value) -> Value {
        let answer = self
            .request(
                json!(id),
                "tools/call",
                json!({"name": name, "arguments": arguments}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.last().clone()
    }

    /// Sends a notification or response; returns the HTTP status.
    pub async fn send(&self, message: &Value) -> u16 {
        self.post(message).await.status
    }

    /// Opens a streaming POST (for requests whose stream must be read while it is open).
    pub async fn open_request(&self, message: &Value) -> SseReader {
        let response = self
            .http
            .post(&self.url)
            .headers(self.headers())
            .body(serde_json::to_vec(message).unwrap())
            .send()
            .await
            .expect("POST");
        SseReader::new(response)
    }

    /// Opens the standalone GET stream.
    pub async fn open_get_stream(&self) -> SseReader {
        let mut headers = self.headers();
        headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        headers.remove("content-type");
        let response = self
            .http
            .get(&self.url)
            .headers(headers)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status().as_u16(), 200);
        SseReader::new(response)
    }

    /// What the proxy's logs show of this client's session id: its first 8 characters (the
    /// whole id is a credential and never logged).
    pub fn logged_session(&self) -> String {
        let id = self.session.as_deref().expect("a session");
        id[..8].to_string()
    }

    /// DELETEs the session; returns the HTTP status.
    pub async fn delete(&self) -> u16 {
        let mut headers = HeaderMap::new();
        if let Some(session) = &self.session {
            headers.insert("mcp-session-id", HeaderValue::from_str(session).unwrap());
        }
        self.http
            .delete(&self.url)
            .headers(headers)
            .send()
            .await
            .expect("DELETE")
            .status()
            .as_u16()
    }
}

impl Client {
    /// POSTs `message` with the default headers on a task of its own, for requests whose
    /// answer only comes later (the proxy sends response headers with the first event).
    pub fn spawn_post(&self, message: &Value) -> tokio::task::JoinHandle<Answer> {
        let request = self
            .http
            .post(&self.url)
            .headers(self.headers())
            .body(serde_json::to_vec(message).unwrap());
        tokio::spawn(async move { read_answer(request.send().await.expect("POST")).await })
    }

    /// GETs the endpoint with exactly `headers` and reads the whole answer. Only for GETs the
    /// proxy refuses: an accepted GET is an SSE stream that does not end (use
    /// [`Client::open_get_stream`]).
    pub async fn get_raw(&self, headers: HeaderMap) -> Answer {
        let response = self
            .http
            .get(&self.url)
            .headers(headers)
            .send()
            .await
            .expect("GET");
        read_answer(response).await
    }

    /// DELETEs with exactly `headers` and reads the whole answer.
    pub async fn delete_raw(&self, headers: HeaderMap) -> Answer {
        let response = self
            .http
            .delete(&self.url)
            .headers(headers)
            .send()
            .await
            .expect("DELETE");
        read_answer(response).await
    }

    /// The messages the demo server has received on stdin so far (its `received` tool),
    /// except the `received` call itself.
    pub async fn received(&self, id: i64) -> Vec<Value> {
        let answer = self.call_tool(id, "received", json!({})).await;
        match serde_json::from_str(tool_text(&answer)).expect("received is JSON") {
            Value::Array(messages) => messages,
            other => panic!("received is not an array: {other}"),
        }
    }
}

/// Reads a whole answer, parsing JSON or SSE bodies into messages.
pub async fn read_answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    let is_sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let messages = if is_sse {
        sse_data(&body)
            .iter()
            .map(|data| serde_json::from_str(data).expect("SSE data is JSON"))
            .collect()
    } else if body.is_empty() {
        Vec::new()
    } else {
        vec![serde_json::from_str(&body).unwrap_or(Value::Null)]
    };
    Answer {
        status,
        headers,
        messages,
        body,
    }
}

/// A client with an initialized session.
pub async fn session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

/// The result of a successful request (status 200, no error).
pub async fn result_of(client: &Client, id: i64, method: &str, params: Value) -> Value {
    let answer = client.request(json!(id), method, params).await;
    assert_eq!(answer.status, 200, "{method}: {}", answer.body);
    let last = answer.last();
    assert_eq!(last["id"], json!(id), "{method}: {}", answer.body);
    assert!(last.get("error").is_none(), "{method}: {}", answer.body);
    last["result"].clone()
}
