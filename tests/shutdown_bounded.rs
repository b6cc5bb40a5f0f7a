//! Shutdown is bounded whatever the clients do: after the session drain, open connections get
//! `--shutdown-grace` and are then dropped, so SIGTERM exits 0 within `--shutdown-timeout`
//! plus the grace with a half-sent request or a client that stopped reading its SSE stream; a
//! second SIGTERM (or SIGQUIT) exits at once; SIGHUP drains like SIGTERM. No process of a
//! session is ever left behind.

mod common;

use std::time::{Duration, Instant};

use common::demo::server_pid as pid_of;
use common::lifecycle::{assert_group_gone, exit_code, get_path};
use common::mcp::tool_call;
use common::raw_tcp::{closed_within, connect, connect_small_window, stalled_head};
use common::{Client, Proxy, WAIT, session};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A POST whose headers are complete but whose body stops after 10 of 1000 bytes.
async fn stalled_body(proxy: &Proxy) -> TcpStream {
    let mut stream = connect(&proxy.addr).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\"",
        proxy.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Opens the session's GET stream on a socket with a small receive window, reads only the
/// response head, and never reads again.
async fn unread_sse_stream(proxy: &Proxy, client: &Client) -> TcpStream {
    let mut stream = connect_small_window(&proxy.addr).await;
    let request = format!(
        "GET /mcp HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {}\r\n\r\n",
        proxy.addr,
        client.session.as_deref().unwrap()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("the GET stream's head in time")
            .unwrap();
        assert_eq!(n, 1, "closed before the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

/// Sends SIGTERM; returns the exit code and how long the proxy took to exit.
async fn terminate(proxy: Proxy) -> (Proxy, Option<i32>, Duration) {
    let signalled = Instant::now();
    proxy.signal(libc::SIGTERM);
    let (proxy, code) = exit_code(proxy).await;
    (proxy, code, signalled.elapsed())
}

#[tokio::test]
async fn sigterm_exits_within_the_timeout_and_grace_with_half_sent_requests() {
    let proxy = Proxy::start(
        &[
            "--shutdown-timeout",
            "2s",
            "--shutdown-grace",
            "1s",
            "--header-read-timeout",
            "60s",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    let mut head = stalled_head(&proxy.addr).await;
    let mut body = stalled_body(&proxy).await;

    let (proxy, code, took) = terminate(proxy).await;
    eprintln!("exited {took:?} after SIGTERM with a stalled head and a stalled body connected");
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert!(
        took >= Duration::from_secs(1),
        "exited {took:?} after SIGTERM: before the grace was over"
    );
    assert!(
        took < Duration::from_secs(2 + 1 + 2),
        "exited {took:?} after SIGTERM, past --shutdown-timeout + --shutdown-grace"
    );
    proxy
        .logged("about dropping connections", |line| {
            line.contains("dropping the HTTP connections still open")
        })
        .await;
    for stream in [&mut head, &mut body] {
        assert!(
            closed_within(stream, Duration::from_secs(1))
                .await
                .is_some()
        );
    }
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn sigterm_exits_in_time_with_a_client_that_stopped_reading_its_sse_stream() {
    let proxy = Proxy::start(&["--shutdown-timeout", "2s", "--shutdown-grace", "1s"], &[]);
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    let _unread = unread_sse_stream(&proxy, &client).await;
    // 12 MiB of log notifications for the GET stream: far more than the socket buffers hold.
    let message = "x".repeat(512 * 1024);
    for id in 0..24 {
        let logged = client
            .call_tool(
                100 + id,
                "log",
                json!({"level": "emergency", "message": message}),
            )
            .await;
        assert_eq!(common::tool_text(&logged), "logged", "{logged}");
    }

    let (proxy, code, took) = terminate(proxy).await;
    eprintln!("exited {took:?} after SIGTERM with a client that stopped reading its SSE stream");
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert!(
        took < Duration::from_secs(2 + 1 + 2),
        "exited {took:?} after SIGTERM, past --shutdown-timeout + --shutdown-grace"
    );
    proxy
        .logged("about dropping the stuck stream's connection", |line| {
            line.contains("dropping the HTTP connections still open")
        })
        .await;
    assert_group_gone(pid).await;
}

/// Starts a 30 s call on `client` and waits until its child runs it.
async fn call_in_flight(client: &Client) -> tokio::task::JoinHandle<common::Answer> {
    let sleep = client.spawn_post(&tool_call(json!("slow"), "sleep", json!({"ms": 30000})));
    let mut id = 200;
    common::eventually_async("the child received the sleep call", || {
        id += 1;
        let id = id;
        async move {
            client.received(id).await.iter().any(|message| {
                message["method"] == "tools/call" && message["params"]["name"] == "sleep"
            })
        }
    })
    .await;
    sleep
}

#[tokio::test]
async fn a_second_sigterm_exits_at_once_with_a_stalled_connection() {
    let proxy = Proxy::start(
        &[
            "--shutdown-timeout",
            "60s",
            "--shutdown-grace",
            "60s",
            "--header-read-timeout",
            "60s",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    let _sleep = call_in_flight(&client).await;
    let mut head = stalled_head(&proxy.addr).await;

    proxy.signal(libc::SIGTERM);
    common::eventually_async("/readyz answers 503", || async {
        get_path(&proxy, "/readyz").await.0 == 503
    })
    .await;
    let (proxy, code, took) = terminate(proxy).await;
    eprintln!("exited {took:?} after the second SIGTERM");
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after the second SIGTERM"
    );
    assert!(
        closed_within(&mut head, Duration::from_secs(1))
            .await
            .is_some()
    );
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn sigquit_stops_at_once_and_sighup_drains() {
    let quit = Proxy::start(&["--shutdown-timeout", "60s"], &[]);
    let client = session(&quit).await;
    let pid = pid_of(&client, 1).await;
    let sleep = call_in_flight(&client).await;
    let signalled = Instant::now();
    quit.signal(libc::SIGQUIT);
    let (quit, code) = exit_code(quit).await;
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "log:\n{}", quit.log());
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after SIGQUIT"
    );
    let answer = tokio::time::timeout(WAIT, sleep).await.unwrap().unwrap();
    assert!(answer.last().get("error").is_some(), "{}", answer.body);
    assert_group_gone(pid).await;
    quit.logged("about SIGQUIT", |line| line.contains("SIGQUIT received"))
        .await;

    let hangup = Proxy::start(&[], &[]);
    let client = session(&hangup).await;
    let pid = pid_of(&client, 1).await;
    let slow = client.spawn_post(&tool_call(json!("short"), "sleep", json!({"ms": 1000})));
    tokio::time::sleep(Duration::from_millis(300)).await;
    hangup.signal(libc::SIGHUP);
    let slept = common::lifecycle::finished(slow).await;
    assert_eq!(common::tool_text(&slept), "slept 1000 ms", "{slept}");
    let (hangup, code) = exit_code(hangup).await;
    assert_eq!(code, Some(0), "log:\n{}", hangup.log());
    assert_group_gone(pid).await;
    hangup
        .logged("about SIGHUP", |line| line.contains("SIGHUP received"))
        .await;
}
