//! Test harness shared by the integration tests: starts the real `hyper-mcp-proxy` binary on a
//! free loopback port and speaks real Streamable HTTP to it (JSON and SSE answers), plus
//! process-table helpers to prove no child process is left behind.
#![allow(dead_code)]

pub mod exposition;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

/// Path of the binary under test (also the demo server, as `hyper-mcp-proxy demo-server`).
pub const BIN: &str = env!("CARGO_BIN_EXE_hyper-mcp-proxy");

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running proxy process.
pub struct Proxy {
    /// The OS process.
    pub child: Child,
    /// `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Everything the proxy has logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Proxy {
    /// Starts the proxy with `args` (before `--`) and, if given, a backend command after `--`.
    pub fn start(args: &[&str], backend: &[&str]) -> Proxy {
        let mut command = Command::new(BIN);
        command.args(["-p", "0"]).args(args);
        if !backend.is_empty() {
            command.arg("--").args(backend);
        }
        command
            .env("RUST_LOG", "info,hyper_mcp_proxy=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start hyper-mcp-proxy");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(sender) = tx.take()
                {
                    // Ends at whitespace (text logs) or a quote (`--log-format json`).
                    let addr = rest
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let _ = sender.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url_tail = rx
            .recv_timeout(WAIT)
            .expect("proxy did not log its address");
        let (addr, path) = url_tail.split_at(url_tail.find('/').expect("endpoint in log line"));
        Proxy {
            url: format!("http://{addr}{path}"),
            addr: addr.to_string(),
            child,
            log,
        }
    }

    /// The proxy with the built-in demo server as backend.
    pub fn demo() -> Proxy {
        Proxy::start(&[], &[])
    }

    /// The proxy's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client for this proxy.
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("http client"),
            url: self.url.clone(),
            session: None,
            protocol_version: None,
        }
    }

    /// Sends a signal to the proxy.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on a pid we own.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits (bounded) for the proxy to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("proxy did not exit in time");
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `127.0.0.1:<port>` of the `--metrics-addr` listener, read (bounded wait) from the line
    /// `metrics listening on http://ADDR/metrics` the proxy logs (text or JSON log format).
    pub async fn metrics_addr(&self) -> String {
        const MARKER: &str = "metrics listening on http://";
        let mut found = None;
        eventually("the proxy logged its metrics address", || {
            found = self.log().lines().find_map(|line| {
                let rest = line.split(MARKER).nth(1)?;
                let addr = rest.split('/').next()?;
                (!addr.is_empty()).then(|| addr.to_string())
            });
            found.is_some()
        })
        .await;
        found.expect("metrics address")
    }

    /// GETs `/metrics` on the main listener (status 200 required) and parses the exposition.
    pub async fn scrape(&self) -> exposition::Exposition {
        scrape(&self.addr).await
    }
}

/// GETs `http://{addr}{path}`; returns status, content type and body.
pub async fn http_get(addr: &str, path: &str) -> (u16, String, String) {
    let response = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("http client")
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {path}: {err}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.text().await.expect("body");
    (status, content_type, body)
}

/// GETs `http://{addr}/metrics` (status 200 required) and parses the exposition.
pub async fn scrape(addr: &str) -> exposition::Exposition {
    let (status, _, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "GET /metrics on {addr}: {body}");
    exposition::parse(&body).unwrap_or_else(|err| panic!("unparsable /metrics ({err}):\n{body}"))
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            let deadline = std::time::Instant::now() + WAIT;
            while std::time::Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

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

/// The initialize params every test client sends.
pub fn init_params() -> Value {
    json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}},
        "clientInfo": {"name": "hyper-mcp-proxy-tests", "version": "1.0.0"}
    })
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

/// Waits (bounded) until the async `condition` holds.
pub async fn eventually_async<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
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

/// The `data:` payloads of a complete SSE body.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// Reads SSE events from a response while it is still open.
pub struct SseReader {
    /// HTTP status of the response.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next JSON-RPC message on the stream (bounded wait); `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(WAIT, self.next_unbounded())
            .await
            .expect("timed out waiting for an SSE event")
    }

    /// The next message if one arrives within `wait`: `Some(None)` when the stream ended,
    /// `None` when nothing came in time (for negative checks only; the stream stays usable).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Option<Value>> {
        tokio::time::timeout(wait, self.next_unbounded()).await.ok()
    }

    async fn next_unbounded(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = sse_data(&event).into_iter().next() {
                    return Some(serde_json::from_str(&data).expect("SSE data is JSON"));
                }
                continue;
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => {
                    // A JSON (non-SSE) body arrives whole: hand it out as one message.
                    let rest = std::mem::take(&mut self.buffer);
                    return (!rest.trim().is_empty())
                        .then(|| serde_json::from_str(&rest).expect("JSON body"));
                }
            }
        }
    }
}

/// Pids of the direct children of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.ppid == pid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Whether a non-zombie process of group `pgid` exists.
pub fn group_alive(pgid: u32) -> bool {
    processes().iter().any(|p| p.pgrp == pgid && p.state != 'Z')
}

/// Waits (bounded) until `condition` holds.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// One row of the process table.
#[derive(Debug, Clone)]
pub struct ProcessRow {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// State letter (`Z` for zombies).
    pub state: char,
}

/// The process table, read from /proc.
pub fn processes() -> Vec<ProcessRow> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(ProcessRow {
                pid,
                state: fields.first()?.chars().next()?,
                ppid: fields.get(1)?.parse().ok()?,
                pgrp: fields.get(2)?.parse().ok()?,
            })
        })
        .collect()
}

/// The text of a tool result's first content item.
pub fn tool_text(message: &Value) -> &str {
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not a text tool result: {message}"))
}
