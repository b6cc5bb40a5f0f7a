//! The HTTP edge's connection limits, seen through raw sockets: a connection that does not
//! deliver a whole request head within `--header-read-timeout` is closed, a kept-alive
//! connection idle for `--idle-connection-timeout` is closed, a request in progress is never
//! timed out, and beyond `--max-connections` new connections get 503 at once, so a flood of
//! stalled connections neither exhausts descriptors nor keeps a real client out for long.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::mcp::{initialize_request, tool_call};
use common::metric_names::LIMIT_HITS;
use common::raw_tcp::{
    closed_within, connect, exchange, fd_count, is_closed, raise_fd_limit, stalled_head,
};
use common::{Proxy, WAIT, session};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// The most descriptors a process held, sampled every few milliseconds on a thread.
struct FdPeak {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<usize>,
}

impl FdPeak {
    fn watch(pid: u32) -> FdPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopped.load(Ordering::Relaxed) {
                peak = peak.max(fd_count(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        FdPeak { stop, sampler }
    }

    fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().expect("sampler")
    }
}

fn healthz(addr: &str) -> String {
    format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

#[tokio::test]
async fn a_stalled_request_head_is_closed_after_the_header_read_timeout() {
    let proxy = Proxy::start(
        &[
            "--header-read-timeout",
            "1s",
            "--idle-connection-timeout",
            "60s",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[],
    );
    let metrics = proxy.metrics_addr().await;
    let opened = Instant::now();
    let mut half_line = stalled_head(&proxy.addr).await;
    let mut silent = connect(&proxy.addr).await;
    // Whole headers but the blank line that ends them never comes.
    let mut unfinished_headers = connect(&proxy.addr).await;
    unfinished_headers
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n", proxy.addr).as_bytes())
        .await
        .unwrap();
    let bound = Duration::from_secs(5);
    for (what, stream) in [
        ("half a request line", &mut half_line),
        ("nothing at all", &mut silent),
        ("headers without their end", &mut unfinished_headers),
    ] {
        assert!(
            closed_within(stream, bound).await.is_some(),
            "a connection that sent {what} was still open after {bound:?}"
        );
        let took = opened.elapsed();
        eprintln!("a connection that sent {what} was closed {took:?} after it was opened");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "{what}: closed {took:?} after it was opened"
        );
    }
    let scrape = common::ops::scrape_until(&metrics, "three header timeouts are counted", |s| {
        s.get(LIMIT_HITS, &[("limit", "header_read_timeout")]) == 3.0
    })
    .await;
    assert_eq!(scrape.get(LIMIT_HITS, &[("limit", "max_connections")]), 0.0);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout_not_before() {
    let proxy = Proxy::start(
        &[
            "--header-read-timeout",
            "1s",
            "--idle-connection-timeout",
            "3s",
        ],
        &[],
    );
    let mut stream = connect(&proxy.addr).await;
    let (status, _) = exchange(&mut stream, &healthz(&proxy.addr)).await;
    assert_eq!(status, 200);
    let answered = Instant::now();
    // Past the header timeout: an idle connection is not waiting for a head yet.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(
        !is_closed(&mut stream).await,
        "closed while idle for less than the idle timeout"
    );
    let (status, _) = exchange(&mut stream, &healthz(&proxy.addr)).await;
    assert_eq!(
        status, 200,
        "the kept-alive connection serves a second request"
    );
    let second = Instant::now();
    let took = closed_within(&mut stream, WAIT)
        .await
        .expect("the idle connection is closed");
    let idle_for = second.elapsed();
    eprintln!(
        "an idle connection was closed after {idle_for:?} (first answer {:?} ago)",
        answered.elapsed()
    );
    assert!(
        took >= Duration::from_millis(2500),
        "closed after {took:?} idle"
    );
    assert!(
        idle_for < Duration::from_secs(5),
        "closed after {idle_for:?} idle"
    );
}

#[tokio::test]
async fn a_request_in_progress_is_not_timed_out() {
    let proxy = Proxy::start(
        &[
            "--header-read-timeout",
            "1s",
            "--idle-connection-timeout",
            "1s",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let answer = client.call_tool(7, "sleep", json!({"ms": 2500})).await;
    assert_eq!(common::tool_text(&answer), "slept 2500 ms");
}

/// POSTs `message` until it is not refused for the connection limit (503, or a connection
/// closed without an answer), backing off from 50 ms to 1 s, for at most [`WAIT`].
async fn post_retrying(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    message: &Value,
    refusals: &mut u32,
) -> reqwest::Response {
    let deadline = Instant::now() + WAIT;
    let mut backoff = Duration::from_millis(50);
    loop {
        let mut request = http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(serde_json::to_vec(message).unwrap());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        match request.send().await {
            Ok(response) if response.status() != 503 => return response,
            Ok(response) => {
                assert_eq!(
                    response.headers().get("retry-after").map(|v| v.as_bytes()),
                    Some(&b"1"[..])
                );
                let body: Value = response.json().await.expect("a JSON-RPC error body");
                assert_eq!(body["error"]["code"], -32000, "{body}");
            }
            Err(_) => {}
        }
        *refusals += 1;
        assert!(Instant::now() < deadline, "still refused after {WAIT:?}");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_real_client_is_served_during_a_flood_of_stalled_connections() {
    // The flood needs descriptors in this process too.
    let nofile = raise_fd_limit();
    let flood = 1500.min(nofile.saturating_sub(300) as usize);
    let max_connections = flood / 3;
    assert!(
        flood >= 300,
        "descriptor limit {nofile} too low for a flood"
    );
    let proxy = Proxy::start(
        &[
            "--max-connections",
            &max_connections.to_string(),
            "--header-read-timeout",
            "4s",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[],
    );
    let metrics = proxy.metrics_addr().await;
    let before = fd_count(proxy.pid());
    let peak = FdPeak::watch(proxy.pid());

    let started = Instant::now();
    let mut stalled = Vec::with_capacity(flood);
    for _ in 0..flood {
        stalled.push(stalled_head(&proxy.addr).await);
    }
    let opened_in = started.elapsed();
    // The refusals of the last ones over the limit are done.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let held = fd_count(proxy.pid());
    assert!(
        held >= max_connections,
        "the proxy held {held} descriptors: the flood did not fill --max-connections {max_connections}"
    );

    let served = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(WAIT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut refusals = 0;
    let initialized = post_retrying(
        &http,
        &proxy.url,
        None,
        &initialize_request(),
        &mut refusals,
    )
    .await;
    assert_eq!(initialized.status(), 200);
    let session_id = initialized.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let ack = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let acked = post_retrying(&http, &proxy.url, Some(&session_id), &ack, &mut refusals).await;
    assert_eq!(acked.status(), 202);
    let call = tool_call(json!(1), "echo", json!({"message": "through the flood"}));
    let called = post_retrying(&http, &proxy.url, Some(&session_id), &call, &mut refusals).await;
    assert_eq!(called.status(), 200);
    let answer: Value = called.json().await.unwrap();
    assert_eq!(common::tool_text(&answer), "through the flood", "{answer}");
    eprintln!(
        "the real client was served {:?} after the flood, after {refusals} refusals",
        served.elapsed()
    );

    let peak = peak.stop();
    eprintln!(
        "flood of {flood} stalled connections opened in {opened_in:?}; the proxy held {held} descriptors after it, at most {peak} during it ({before} before; --max-connections {max_connections}; descriptor limit of this test {nofile})"
    );
    assert!(
        peak <= before + max_connections + 64 + 8,
        "the proxy held {peak} descriptors, beyond --max-connections {max_connections} plus the refusals in flight"
    );
    let scrape = common::scrape(&metrics).await;
    let refused = scrape.get(LIMIT_HITS, &[("limit", "max_connections")]);
    eprintln!("limit_hits_total{{limit=\"max_connections\"}} = {refused}");
    assert!(
        refused > 0.0,
        "limit_hits_total{{limit=\"max_connections\"}} = {refused}"
    );
    drop(stalled);
}
