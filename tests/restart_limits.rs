//! Where restarting ends: past `--max-restarts`, or when the new MCP server cannot initialize
//! or negotiates another protocol version, the session ends (404) and the other sessions go on;
//! a hung server (stopped, or a replacement that never answers the replayed `initialize`) is
//! killed by the ping timeout; DELETE during a restart stops the new server; and
//! `--request-timeout` answers a slow request with -32001 and cancels it at the server. After
//! every scenario, no process of the session is left.

mod common;

use std::time::{Duration, Instant};

use common::demo::{assert_echo_works, server_pid};
use common::mcp::{INVALID_REQUEST, REQUEST_TIMEOUT, SERVER_ERROR, tool_call};
use common::restart::{
    assert_children_become, assert_group_gone, assert_server_exited, exited_with_code,
    is_tool_call, proxy_id, send_signal, wait_for_replacement,
};
use common::{Client, Proxy, session};
use serde_json::{Value, json};

/// Asserts that `answer` is a -32000 error for request `id` (any message, any data).
fn assert_server_error(answer: &Value, id: i64) {
    assert_eq!(answer["id"], json!(id), "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    assert_eq!(answer["error"]["code"], json!(SERVER_ERROR), "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

/// Waits (bounded) until the session of `client` is gone: a request gets the proxy's 404.
async fn assert_session_ends(client: &Client, id: i64) {
    common::eventually_async("the session ended (404)", || async {
        let answer = client
            .post(&tool_call(id, "echo", json!({"message": "anyone?"})))
            .await;
        if answer.status != 404 {
            return false;
        }
        assert_eq!(answer.content_type(), "application/json", "{}", answer.body);
        assert_eq!(
            answer.last()["error"]["code"],
            json!(INVALID_REQUEST),
            "{}",
            answer.body
        );
        true
    })
    .await;
}

/// A shell command line that runs `first` on its first start and `later` on every later start,
/// told apart by the marker file `mark` (which must not exist yet).
fn first_then(mark: &std::path::Path, first: &str, later: &str) -> String {
    let mark = mark.display();
    format!("if [ -e '{mark}' ]; then exec {later}; else touch '{mark}'; exec {first}; fi")
}

/// A fresh path for a marker file; removed when dropped.
struct MarkerFile(std::path::PathBuf);

impl MarkerFile {
    fn new(name: &str) -> MarkerFile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "hyper-mcp-proxy-restart-{name}-{}-{nanos}",
            std::process::id()
        ));
        assert!(!path.exists());
        MarkerFile(path)
    }
}

impl Drop for MarkerFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `'<BIN>' demo-server <args>` for a shell command line.
fn demo_command(args: &str) -> String {
    format!("'{}' demo-server {args}", common::BIN)
}

#[tokio::test]
async fn too_many_restarts_end_the_session_but_not_the_others() {
    let proxy = Proxy::start(
        &[
            "--max-restarts",
            "2",
            "--restart-backoff-min",
            "10ms",
            "--restart-backoff-max",
            "20ms",
        ],
        &[],
    );
    let bystander = session(&proxy).await;
    let bystander_pid = server_pid(&bystander, 1).await;
    let client = session(&proxy).await;
    let mut pids = vec![server_pid(&client, 1).await];
    let mut get_stream = client.open_get_stream().await;

    for generation in 1..=3u64 {
        let id = 10 * generation as i64;
        let answer = client.call_tool(id, "crash", json!({})).await;
        assert_server_exited(&answer, id, exited_with_code(1, generation));
        if generation < 3 {
            assert_echo_works(&client, id + 1).await;
            pids.push(server_pid(&client, id + 2).await);
        }
    }
    assert_session_ends(&client, 40).await;
    assert!(
        get_stream.next().await.is_none(),
        "the ended session's GET stream ends"
    );

    assert_eq!(server_pid(&bystander, 2).await, bystander_pid);
    assert_echo_works(&bystander, 3).await;
    for pid in &pids {
        assert_group_gone(*pid).await;
    }
    assert_children_become(&proxy, &[bystander_pid]).await;
}

#[tokio::test]
async fn restarted_server_that_cannot_initialize_ends_the_session() {
    let mark = MarkerFile::new("exit-before-init");
    let script = first_then(
        &mark.0,
        &demo_command(""),
        &demo_command("--exit-before-init 3"),
    );
    let proxy = Proxy::start(
        &[
            "--max-restarts",
            "2",
            "--restart-backoff-min",
            "300ms",
            "--restart-backoff-max",
            "300ms",
        ],
        &["sh", "-c", &script],
    );
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    // Held (the backoff leaves it ample time to arrive first) for a server that never becomes
    // ready, then failed when the session gives up.
    let held = client
        .call_tool(3, "echo", json!({"message": "held"}))
        .await;
    assert_server_error(&held, 3);

    assert_session_ends(&client, 4).await;
    proxy
        .logged("saying the restart limit was reached", |line| {
            line.contains("restart limit reached")
        })
        .await;
    assert_group_gone(first).await;
    assert_children_become(&proxy, &[]).await;
}

#[tokio::test]
async fn other_protocol_version_after_restart_ends_the_session() {
    let mark = MarkerFile::new("protocol-version");
    let script = first_then(
        &mark.0,
        &demo_command(""),
        &demo_command("--protocol-version 2025-03-26"),
    );
    let proxy = Proxy::start(
        &[
            "--restart-backoff-min",
            "300ms",
            "--restart-backoff-max",
            "300ms",
        ],
        &["sh", "-c", &script],
    );
    let mut client = proxy.client();
    let result = client.initialize().await;
    assert_eq!(result["protocolVersion"], "2025-06-18");
    let first = server_pid(&client, 1).await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    // Held (the backoff leaves it ample time to arrive first) for the new server, which then
    // disagrees on the version: failed, not hung.
    let held = client
        .call_tool(3, "echo", json!({"message": "held"}))
        .await;
    assert_server_error(&held, 3);

    assert_session_ends(&client, 4).await;
    proxy
        .logged("about a different protocol version", |line| {
            line.contains("different protocol version")
        })
        .await;
    assert_group_gone(first).await;
    assert_children_become(&proxy, &[]).await;
}

#[tokio::test]
async fn hung_server_is_killed_by_the_ping_timeout_and_restarted() {
    let proxy = Proxy::start(
        &["--ping-interval", "200ms", "--ping-timeout", "300ms"],
        &[],
    );
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    send_signal(first, libc::SIGSTOP);
    let second = wait_for_replacement(&proxy, first).await;
    assert_eq!(server_pid(&client, 2).await, second);
    assert_group_gone(first).await;
    assert_echo_works(&client, 3).await;
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]

async fn hung_restarted_server_is_caught_by_the_ping_timeout() {
    let mark = MarkerFile::new("hung-replay");
    let script = first_then(
        &mark.0,
        &demo_command(""),
        &demo_command("--startup-delay-ms 600000"),
    );
    let proxy = Proxy::start(
        &[
            "--ping-interval",
            "200ms",
            "--ping-timeout",
            "300ms",
            "--max-restarts",
            "2",
            "--restart-backoff-min",
            "10ms",
            "--restart-backoff-max",
            "20ms",
        ],
        &["sh", "-c", &script],
    );
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    let hung = wait_for_replacement(&proxy, first).await;

    // It never answers the replayed initialize: it must be killed like any hung server...
    assert_group_gone(hung).await;
    // ...and as every later one hangs too, the restart limit ends the session.
    assert_session_ends(&client, 3).await;
    assert_children_become(&proxy, &[]).await;
}

#[tokio::test]
async fn delete_during_a_restart_stops_the_new_server() {
    let mark = MarkerFile::new("delete");
    // Every later server hangs before reading its input: the session stays in the replay.
    let script = first_then(
        &mark.0,
        &demo_command(""),
        &demo_command("--startup-delay-ms 600000"),
    );
    let proxy = Proxy::start(&[], &["sh", "-c", &script]);
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    let hung = wait_for_replacement(&proxy, first).await;

    let started = Instant::now();
    assert_eq!(client.delete().await, 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "DELETE took {:?}",
        started.elapsed()
    );
    assert_group_gone(hung).await;
    assert_children_become(&proxy, &[]).await;
    let answer = client
        .post(&tool_call(4, "echo", json!({"message": "gone"})))
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[tokio::test]
async fn request_timeout_answers_with_32001_and_cancels_at_the_server() {
    let proxy = Proxy::start(&["--request-timeout", "300ms"], &[]);
    let client = session(&proxy).await;

    let started = Instant::now();
    let answer = client.call_tool(1, "sleep", json!({"ms": 5000})).await;
    let waited = started.elapsed();
    assert_eq!(answer["id"], json!(1), "{answer}");
    assert_eq!(answer["error"]["code"], json!(REQUEST_TIMEOUT), "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("timed out")),
        "{answer}"
    );
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(4000),
        "timed out after {waited:?}"
    );

    let received = client.received(2).await;
    assert_eq!(received.len(), 4, "{received:#?}");
    assert_eq!(received[0]["method"], "initialize");
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert!(is_tool_call(&received[2], "sleep"), "{received:#?}");
    let sleep_id = proxy_id(&received[2]);
    let cancelled = &received[3];
    assert_eq!(
        cancelled["method"], "notifications/cancelled",
        "{cancelled}"
    );
    assert!(cancelled.get("id").is_none(), "{cancelled}");
    assert_eq!(
        cancelled["params"]["requestId"],
        json!(sleep_id),
        "{cancelled}"
    );

    // Timing out a request is not a crash: same server, session goes on.
    let pid = server_pid(&client, 3).await;
    assert_echo_works(&client, 4).await;
    assert_children_become(&proxy, &[pid]).await;
}
