//! Admission at the HTTP edge: refusals that need only headers arrive while the body is still
//! unfinished (raw sockets, timed), a body that stalls gets 408 after `--body-read-timeout`, a
//! long call is answered early with SSE (priming event for 2025-11-25 clients, keep-alives,
//! then the whole answer) and its priming id resumes it, the operational routes pass the
//! Host/Origin checks on the main listener, and stream numbers are per session.

mod common;

use std::time::{Duration, Instant};

use common::mcp::{INVALID_REQUEST, init_params, tool_call};
use common::raw::RawConn;
use common::{Client, Proxy, http_get, tool_text};
use futures_util::StreamExt;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

/// A refusal from headers alone must come this fast, whatever the body does.
const PROMPT: Duration = Duration::from_secs(1);

/// A POST head with `Content-Length: 50000000` (the body never comes) plus `extra` headers.
fn stalled_post(addr: &str, extra: &[(&str, &str)]) -> String {
    let mut head = format!("POST /mcp HTTP/1.1\nHost: {addr}\nContent-Length: 50000000\n");
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\n"));
    }
    head
}

const JSON: (&str, &str) = ("Content-Type", "application/json");
const ACCEPT: (&str, &str) = ("Accept", "application/json, text/event-stream");

#[tokio::test]
async fn header_refusals_arrive_at_once_while_a_50_mb_body_is_stalled() {
    let proxy = Proxy::demo();
    let foreign_host = format!(
        "POST /mcp HTTP/1.1\nHost: evil.example\nContent-Length: 50000000\n{}: {}\n{}: {}\n",
        JSON.0, JSON.1, ACCEPT.0, ACCEPT.1
    );
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "foreign Origin",
            stalled_post(
                &proxy.addr,
                &[JSON, ACCEPT, ("Origin", "http://evil.example")],
            ),
            403,
        ),
        ("foreign Host", foreign_host, 403),
        (
            "unknown session",
            stalled_post(&proxy.addr, &[JSON, ACCEPT, ("Mcp-Session-Id", "0123abcd")]),
            404,
        ),
        (
            "wrong Content-Type",
            stalled_post(&proxy.addr, &[("Content-Type", "text/plain"), ACCEPT]),
            415,
        ),
        (
            "Accept without SSE",
            stalled_post(&proxy.addr, &[JSON, ("Accept", "application/json")]),
            406,
        ),
        (
            "unsupported protocol version",
            stalled_post(
                &proxy.addr,
                &[JSON, ACCEPT, ("MCP-Protocol-Version", "1999-01-01")],
            ),
            400,
        ),
        (
            "Content-Length over --max-body-bytes",
            stalled_post(&proxy.addr, &[JSON, ACCEPT]),
            413,
        ),
    ];
    for (case, head, status) in cases {
        let mut conn = RawConn::connect(&proxy.addr).await;
        conn.send(&head, b"{\"jsonrpc\":").await;
        let answer = conn.read_head().await;
        assert_eq!(answer.status, status, "{case}");
        assert!(
            answer.elapsed < PROMPT,
            "{case}: {status} took {:?}",
            answer.elapsed
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{case}"
        );
        let body: Value = serde_json::from_str(&conn.read_body(&answer).await).unwrap();
        // A version that is no 2025 revision is the modern path's to refuse (-32022).
        let code = if case == "unsupported protocol version" {
            -32022
        } else {
            INVALID_REQUEST
        };
        assert_eq!(body["error"]["code"], json!(code), "{case}: {body}");
        assert_eq!(body["id"], Value::Null, "{case}: {body}");
        eprintln!("{case}: {status} after {:?}", answer.elapsed);
    }
}

#[tokio::test]
async fn a_body_that_stalls_past_body_read_timeout_gets_408_and_the_connection_closes() {
    let proxy = Proxy::start(&["--body-read-timeout", "1s"], &[]);
    let mut conn = RawConn::connect(&proxy.addr).await;
    let head = format!(
        "POST /mcp HTTP/1.1\nHost: {}\nContent-Length: 100\n{}: {}\n{}: {}\n",
        proxy.addr, JSON.0, JSON.1, ACCEPT.0, ACCEPT.1
    );
    conn.send(&head, b"{\"jsonrpc\":\"2.0\",").await;
    let answer = conn.read_head().await;
    assert_eq!(answer.status, 408);
    assert!(
        answer.elapsed >= Duration::from_millis(950) && answer.elapsed < Duration::from_secs(3),
        "408 after {:?}",
        answer.elapsed
    );
    assert_eq!(answer.header("connection"), Some("close"));
    let body: Value = serde_json::from_str(&conn.read_body(&answer).await).unwrap();
    assert_eq!(body["error"]["code"], json!(INVALID_REQUEST), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--body-read-timeout"),
        "{body}"
    );
    assert!(conn.closed_by_peer().await);
    // A body that arrives in time is read as before.
    let client = session_speaking(&proxy, "2025-06-18").await;
    let echo = client
        .call_tool(1, "echo", json!({"message": "on time"}))
        .await;
    assert_eq!(tool_text(&echo), "on time");
}

#[tokio::test]
async fn a_chunked_body_is_refused_with_413_once_it_passes_the_limit_though_it_never_ends() {
    let proxy = Proxy::start(&["--max-body-bytes", "1000"], &[]);
    let mut conn = RawConn::connect(&proxy.addr).await;
    let head = format!(
        "POST /mcp HTTP/1.1\nHost: {}\nTransfer-Encoding: chunked\n{}: {}\n{}: {}\n",
        proxy.addr, JSON.0, JSON.1, ACCEPT.0, ACCEPT.1
    );
    // One 2000-byte chunk, and no last chunk: the body never ends.
    let mut body = b"7d0\r\n".to_vec();
    body.extend(std::iter::repeat_n(b' ', 2000));
    body.extend_from_slice(b"\r\n");
    conn.send(&head, &body).await;
    let answer = conn.read_head().await;
    assert_eq!(answer.status, 413);
    assert!(answer.elapsed < PROMPT, "413 after {:?}", answer.elapsed);
    assert_eq!(answer.header("connection"), Some("close"));
    let body: Value = serde_json::from_str(&conn.read_body(&answer).await).unwrap();
    assert_eq!(body["error"]["code"], json!(INVALID_REQUEST), "{body}");
}

/// A session whose client asked for protocol `version` and sends it in `MCP-Protocol-Version`.
async fn session_speaking(proxy: &Proxy, version: &str) -> Client {
    let mut client = proxy.client();
    let mut params = init_params();
    params["protocolVersion"] = json!(version);
    let answer = client
        .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.last()["result"]["protocolVersion"], json!(version));
    client.session = Some(
        answer.headers["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string(),
    );
    client.protocol_version = Some(version.to_string());
    let ack = client
        .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    assert_eq!(ack.status, 202);
    client
}

/// The chunks of a streaming response body, each with when it arrived.
async fn timed_chunks(response: reqwest::Response, since: Instant) -> Vec<(Duration, String)> {
    let mut chunks = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(common::WAIT, body.next())
        .await
        .expect("the SSE body stalled")
    {
        let chunk = chunk.expect("SSE body");
        chunks.push((since.elapsed(), String::from_utf8_lossy(&chunk).to_string()));
    }
    chunks
}

#[tokio::test]
async fn a_long_call_is_answered_early_with_a_priming_event_then_keepalives_then_the_answer() {
    let proxy = Proxy::start(&["--sse-after", "1s", "--sse-keepalive", "1"], &[]);
    let client = session_speaking(&proxy, "2025-11-25").await;
    // Fast answers stay plain JSON.
    let fast = client.request(json!(1), "tools/list", json!({})).await;
    assert_eq!(fast.content_type(), "application/json");

    let started = Instant::now();
    let response = client
        .http
        .post(&client.url)
        .headers(client.headers())
        .json(&tool_call(2, "sleep", json!({"ms": 5000})))
        .send()
        .await
        .expect("POST");
    let headers_after = started.elapsed();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(
        headers_after >= Duration::from_millis(950) && headers_after < Duration::from_millis(2500),
        "status line after {headers_after:?}"
    );
    let chunks = timed_chunks(response, started).await;
    let (primed_at, priming) = &chunks[0];
    // Stream 1 was initialize's, stream 2 the tools/list: this call is stream 3.
    assert_eq!(priming, "id: 3/1\ndata: \n\n");
    assert!(
        *primed_at < Duration::from_millis(2500),
        "priming after {primed_at:?}"
    );
    let body: String = chunks.iter().map(|(_, chunk)| chunk.as_str()).collect();
    let keepalives = body.matches(": keep-alive\n\n").count();
    assert!(
        (3..=5).contains(&keepalives),
        "{keepalives} keep-alives: {body:?}"
    );
    let answer = body
        .split("\n\n")
        .find_map(|event| event.strip_prefix("id: 3/2\ndata: "))
        .unwrap_or_else(|| panic!("no answer event: {body:?}"));
    let answer: Value = serde_json::from_str(answer).unwrap();
    assert_eq!(answer["id"], json!(2));
    assert_eq!(tool_text(&answer), "slept 5000 ms");
    assert!(body.ends_with("\n\n"), "{body:?}");
    let (answered_at, _) = chunks.last().unwrap();
    assert!(
        *answered_at >= Duration::from_secs(5),
        "answered after {answered_at:?}"
    );
    eprintln!(
        "status line after {headers_after:?}, priming after {primed_at:?}, answer after {answered_at:?}"
    );
}

#[tokio::test]
async fn an_older_client_gets_the_early_stream_without_a_priming_event() {
    let proxy = Proxy::start(&["--sse-after", "1s", "--sse-keepalive", "10"], &[]);
    let client = session_speaking(&proxy, "2025-06-18").await;
    let started = Instant::now();
    let response = client
        .http
        .post(&client.url)
        .headers(client.headers())
        .json(&tool_call(1, "sleep", json!({"ms": 2000})))
        .send()
        .await
        .expect("POST");
    let headers_after = started.elapsed();
    assert!(
        headers_after < Duration::from_millis(1900),
        "status line after {headers_after:?}"
    );
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let chunks = timed_chunks(response, started).await;
    assert_eq!(chunks[0].1, ": keep-alive\n\n");
    let body: String = chunks.iter().map(|(_, chunk)| chunk.as_str()).collect();
    assert!(!body.contains("data: \n"), "{body:?}");
    assert!(body.contains("id: 2/1\ndata: {"), "{body:?}");
}

#[tokio::test]
async fn the_priming_id_resumes_a_call_whose_connection_was_cut() {
    let proxy = Proxy::start(&["--sse-after", "500ms"], &[]);
    let client = session_speaking(&proxy, "2025-11-25").await;
    let response = client
        .http
        .post(&client.url)
        .headers(client.headers())
        .json(&tool_call(1, "sleep", json!({"ms": 2000})))
        .send()
        .await
        .expect("POST");
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(common::WAIT, body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"id: 2/1\ndata: \n\n");
    // The load balancer cuts the connection; the client resumes from the priming event.
    drop(body);
    let mut headers = client.headers();
    headers.insert("accept", HeaderValue::from_static("text/event-stream"));
    headers.remove("content-type");
    headers.insert("last-event-id", HeaderValue::from_static("2/1"));
    let resumed = client
        .http
        .get(&client.url)
        .headers(headers)
        .send()
        .await
        .expect("GET");
    assert_eq!(resumed.status().as_u16(), 200);
    let chunks = timed_chunks(resumed, Instant::now()).await;
    let text: String = chunks.iter().map(|(_, chunk)| chunk.as_str()).collect();
    let answer = text
        .split("\n\n")
        .find_map(|event| event.strip_prefix("id: 2/2\ndata: "))
        .unwrap_or_else(|| panic!("no answer on the resumed stream: {text:?}"));
    let answer: Value = serde_json::from_str(answer).unwrap();
    assert_eq!(tool_text(&answer), "slept 2000 ms");
}

#[tokio::test]
async fn stream_numbers_are_per_session() {
    let proxy = Proxy::demo();
    let mut first_ids = Vec::new();
    for _ in 0..2 {
        let client = session_speaking(&proxy, "2025-06-18").await;
        // Progress makes the answer an SSE stream, whose event ids show the stream number.
        let mut call = tool_call(1, "sleep", json!({"ms": 10, "steps": 1}));
        call["params"]["_meta"] = json!({"progressToken": "p"});
        let answer = client.post(&call).await;
        assert_eq!(answer.content_type(), "text/event-stream");
        let ids: Vec<&str> = answer
            .body
            .lines()
            .filter_map(|line| line.strip_prefix("id: "))
            .collect();
        assert_eq!(ids, ["2/1", "2/2"], "{}", answer.body);
        first_ids.push(ids[0].to_string());
    }
    assert_eq!(first_ids[0], first_ids[1]);
}

/// GETs `path` on `addr` over a raw socket with `Host: host` and maybe an `Origin`.
async fn raw_get(addr: &str, path: &str, host: &str, origin: Option<&str>) -> u16 {
    let mut conn = RawConn::connect(addr).await;
    let mut head = format!("GET {path} HTTP/1.1\nHost: {host}\n");
    if let Some(origin) = origin {
        head.push_str(&format!("Origin: {origin}\n"));
    }
    conn.send(&head, b"").await;
    conn.read_head().await.status
}

#[tokio::test]
async fn ops_routes_on_the_main_listener_refuse_a_foreign_host_or_origin() {
    let proxy = Proxy::demo();
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            raw_get(&proxy.addr, path, "evil.example", None).await,
            403,
            "{path}"
        );
        assert_eq!(
            raw_get(&proxy.addr, path, &proxy.addr, Some("http://evil.example")).await,
            403,
            "{path}"
        );
        assert_eq!(
            raw_get(&proxy.addr, path, &proxy.addr, None).await,
            200,
            "{path}"
        );
        assert_eq!(
            raw_get(
                &proxy.addr,
                path,
                "localhost",
                Some("http://localhost:3000")
            )
            .await,
            200,
            "{path}"
        );
    }
    // An unknown path is still 404, not 403.
    assert_eq!(
        raw_get(&proxy.addr, "/nope", "evil.example", None).await,
        404
    );
}

#[tokio::test]
async fn ops_routes_on_the_metrics_listener_stay_open_to_any_host() {
    let proxy = Proxy::start(&["--metrics-addr", "127.0.0.1:0"], &[]);
    let metrics = proxy.metrics_addr().await;
    for path in ["/metrics", "/healthz", "/readyz", "/sessions"] {
        assert_eq!(
            raw_get(&metrics, path, "evil.example", None).await,
            200,
            "{path}"
        );
    }
    assert_eq!(
        raw_get(&proxy.addr, "/healthz", "evil.example", None).await,
        403
    );
    let (status, _, _) = http_get(&proxy.addr, "/healthz").await;
    assert_eq!(status, 200);
}
