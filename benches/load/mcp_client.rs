//! The Streamable HTTP MCP client the load is made of: a keep-alive HTTP/1.1 connection
//! pool that opens sessions (`initialize` + `notifications/initialized`), calls tools,
//! DELETEs sessions, and reads both `application/json` and `text/event-stream` answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::bounded::run_bounded;
use crate::proxy::Proxy;
use crate::stats::Errors;

/// Upper bound of any single HTTP exchange.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A session as the client knows it.
#[derive(Clone)]
pub struct Session {
    id: HeaderValue,
    version: HeaderValue,
}

/// A Streamable HTTP MCP client over a keep-alive HTTP/1.1 connection pool.
#[derive(Clone)]
pub struct Mcp {
    http: HttpClient<HttpConnector, Full<Bytes>>,
    url: Uri,
}

/// One HTTP answer, fully read.
pub struct Answer {
    status: u16,
    session: Option<HeaderValue>,
    /// The JSON-RPC messages: one for a JSON body, one per event for SSE.
    messages: Vec<Value>,
}

impl Mcp {
    pub fn new(proxy: &Proxy) -> Mcp {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Mcp {
            http,
            url: proxy.url.clone(),
        }
    }

    /// The endpoint.
    pub fn url(&self) -> Uri {
        self.url.clone()
    }

    /// The keep-alive connection pool (for requests with headers of their own).
    pub fn http(&self) -> &HttpClient<HttpConnector, Full<Bytes>> {
        &self.http
    }

    /// POSTs `body`; returns the time until the whole body arrived and the raw answer.
    pub async fn post_raw(
        &self,
        session: Option<&Session>,
        body: Bytes,
    ) -> Result<(Duration, u16, Option<HeaderValue>, bool, Bytes), String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream");
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session.id.clone())
                .header("mcp-protocol-version", session.version.clone());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|err| format!("request: {err}"))?;
        let start = Instant::now();
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| format!("POST failed: {err:?}"))?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|err| format!("reading the body failed: {err}"))?
                .to_bytes();
            Ok::<_, String>((parts, bytes))
        };
        let (parts, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "POST timed out".to_string())??;
        let elapsed = start.elapsed();
        let is_sse = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        Ok((
            elapsed,
            parts.status.as_u16(),
            parts.headers.get("mcp-session-id").cloned(),
            is_sse,
            bytes,
        ))
    }

    pub async fn post(&self, session: Option<&Session>, body: Bytes) -> Result<Answer, String> {
        let (_, status, session, is_sse, bytes) = self.post_raw(session, body).await?;
        Ok(Answer {
            status,
            session,
            messages: parse_body(is_sse, &bytes)?,
        })
    }

    /// `initialize` + `notifications/initialized`; returns the session and the initialize
    /// round-trip time (the child is spawned during it).
    pub async fn open_session(&self) -> Result<(Session, Duration), String> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "hyper-mcp-proxy-load-bench", "version": "1.0.0"}
            }
        });
        let start = Instant::now();
        let answer = self.post(None, Bytes::from(body.to_string())).await?;
        let elapsed = start.elapsed();
        if answer.status != 200 {
            return Err(format!("initialize: HTTP {}", answer.status));
        }
        let id = answer.session.ok_or("initialize: no Mcp-Session-Id")?;
        let last = answer.messages.last().ok_or("initialize: empty answer")?;
        let version = last["result"]["protocolVersion"]
            .as_str()
            .ok_or_else(|| format!("initialize: no protocolVersion in {last}"))?;
        let session = Session {
            id,
            version: HeaderValue::from_str(version).map_err(|err| err.to_string())?,
        };
        let ack = self
            .post(
                Some(&session),
                Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            )
            .await?;
        if ack.status != 202 {
            return Err(format!("notifications/initialized: HTTP {}", ack.status));
        }
        Ok((session, elapsed))
    }

    /// `tools/call` of `echo`; checks that the answer carries our id and our text.
    pub async fn call_echo(&self, session: &Session, id: u64, message: &str) -> Result<(), String> {
        let text = serde_json::to_string(message).map_err(|err| err.to_string())?;
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":{text}}}}}}}"#
        );
        let answer = self.post(Some(session), Bytes::from(body)).await?;
        if answer.status != 200 {
            return Err(format!("tools/call: HTTP {}", answer.status));
        }
        let last = answer.messages.last().ok_or("tools/call: empty answer")?;
        check_text(last, id, message)
    }

    /// `tools/call` of any tool; returns the round-trip time (until the whole body arrived)
    /// and the final message.
    pub async fn call_tool_timed(
        &self,
        session: &Session,
        id: u64,
        name: &str,
        arguments: &Value,
    ) -> Result<(Duration, Value), String> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments}
        });
        let body = Bytes::from(serde_json::to_vec(&body).map_err(|err| err.to_string())?);
        let (elapsed, status, _, is_sse, bytes) = self.post_raw(Some(session), body).await?;
        if status != 200 {
            return Err(format!("tools/call {name}: HTTP {status}"));
        }
        let mut messages = parse_body(is_sse, &bytes)?;
        let last = messages.pop().ok_or("tools/call: empty answer")?;
        Ok((elapsed, last))
    }

    /// Sends `initialize` on a connection of its own and closes that connection `after` the
    /// request was written, without reading anything: a client that gives up before the
    /// answer. Returns whether any answer had arrived by then (which makes it no abandon).
    pub async fn abandon_initialize(&self, after: Duration) -> Result<bool, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let authority = self.url.authority().ok_or("no address")?.as_str();
        let body = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"hyper-mcp-proxy-load-bench","version":"1.0.0"}}}"#;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
            self.url.path(),
            body.len()
        );
        let mut stream =
            tokio::time::timeout(REQUEST_TIMEOUT, tokio::net::TcpStream::connect(authority))
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|err| format!("connect: {err}"))?;
        stream.set_nodelay(true).map_err(|err| err.to_string())?;
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        stream
            .write_all(&request)
            .await
            .map_err(|err| format!("writing initialize: {err}"))?;
        tokio::time::sleep(after).await;
        // Anything already readable means the answer beat the client's departure.
        let mut probe = [0u8; 1];
        let answered = matches!(
            tokio::time::timeout(Duration::ZERO, stream.read(&mut probe)).await,
            Ok(Ok(n)) if n > 0
        );
        drop(stream);
        Ok(answered)
    }

    /// DELETEs the session; expects 200.
    pub async fn delete(&self, session: &Session) -> Result<(), String> {
        let request = Request::builder()
            .method(Method::DELETE)
            .uri(self.url.clone())
            .header("mcp-session-id", session.id.clone())
            .header("mcp-protocol-version", session.version.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|err| format!("request: {err}"))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| format!("DELETE failed: {err:?}"))?;
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            Ok::<_, String>(status)
        };
        let status = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "DELETE timed out".to_string())??;
        if status != 200 {
            return Err(format!("DELETE: HTTP {status}"));
        }
        Ok(())
    }
}

/// JSON-RPC messages of a JSON or SSE body.
pub fn parse_body(is_sse: bool, bytes: &[u8]) -> Result<Vec<Value>, String> {
    if !is_sse {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        return serde_json::from_slice(bytes)
            .map(|value| vec![value])
            .map_err(|err| format!("JSON body: {err}"));
    }
    let text = std::str::from_utf8(bytes).map_err(|err| format!("SSE body: {err}"))?;
    let mut messages = Vec::new();
    for event in text.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| data.strip_prefix(' ').unwrap_or(data))
            .collect();
        if !data.is_empty() {
            let value =
                serde_json::from_str(&data.join("\n")).map_err(|err| format!("SSE data: {err}"))?;
            messages.push(value);
        }
    }
    Ok(messages)
}

/// Checks that `answer` is the text result `text` for request `id`.
pub fn check_text(answer: &Value, id: u64, text: &str) -> Result<(), String> {
    if answer["id"] != json!(id) {
        return Err(format!("answer id {} is not {id}", answer["id"]));
    }
    match answer["result"]["content"][0]["text"].as_str() {
        Some(got) if got == text => Ok(()),
        Some(got) => Err(format!(
            "wrong text ({} bytes instead of {})",
            got.len(),
            text.len()
        )),
        None => {
            let shown: String = answer.to_string().chars().take(300).collect();
            Err(format!("not a text result: {shown}"))
        }
    }
}

/// Opens `count` sessions, `concurrency` at a time; fails on the first error.
pub async fn open_sessions(
    mcp: &Mcp,
    count: usize,
    concurrency: usize,
) -> Result<Vec<Session>, String> {
    let opened = run_bounded(count, concurrency, {
        let mcp = mcp.clone();
        move |_| {
            let mcp = mcp.clone();
            async move { mcp.open_session().await }
        }
    })
    .await;
    opened
        .into_iter()
        .map(|result| result.map(|(session, _)| session))
        .collect()
}

/// DELETEs every session, 10 at a time; errors are recorded.
pub async fn close_sessions(mcp: &Mcp, sessions: &[Session], errors: &Errors) {
    let sessions = Arc::new(sessions.to_vec());
    let results = run_bounded(sessions.len(), 10, {
        let mcp = mcp.clone();
        let sessions = sessions.clone();
        move |i| {
            let mcp = mcp.clone();
            let sessions = sessions.clone();
            async move { mcp.delete(&sessions[i]).await }
        }
    })
    .await;
    for result in results {
        if let Err(err) = result {
            errors.record(err);
        }
    }
}
