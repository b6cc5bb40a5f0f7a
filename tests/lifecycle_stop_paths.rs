//! Every way a session stops leaves no process of its process group behind, even behind a
//! `sh -c` wrapper that forks a grandchild: DELETE, idle expiry (`--session-idle-timeout`;
//! an open GET stream keeps a session alive), restart give-up, and SIGTERM or SIGINT to the
//! proxy; a child that ignores both stdin EOF and SIGTERM is escalated to SIGKILL.
//!
//! Process cleanup is checked by process group and pid (the demo's `pid` tool and /proc),
//! never by process name.

mod common;

use std::time::{Duration, Instant};

use common::demo::{assert_echo_works, server_pid as pid_of};
use common::lifecycle::{assert_group_gone, assert_rpc_error, exit_code};
use common::mcp::{INVALID_REQUEST, SERVER_ERROR, tool_call};
use common::{Client, Proxy, session};
use serde_json::{Value, json};

/// A `sh -c` wrapper that forks a grandchild (`sleep 1000`, in the same process group) and then
/// execs the demo server, so the demo's pid (its `pid` tool) is the `sh` pid: the group leader.
const WRAPPER: [&str; 4] = [
    "sh",
    "-c",
    "sleep 1000 & exec \"$0\" demo-server",
    common::BIN,
];

/// Pids of the running (non-zombie) members of process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    common::processes()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// The command line of process `pid`.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// Opens a session on a proxy whose backend is [`WRAPPER`] and checks the wrapper did what it
/// says: the demo server runs as `BIN demo-server` under the `sh` pid (exec kept it), leads its
/// own process group, and the `sleep` grandchild that `sh` forked is the group's other member.
/// Returns the client and the process group id.
async fn wrapper_session(proxy: &Proxy) -> (Client, u32) {
    let client = session(proxy).await;
    let pgid = pid_of(&client, 1).await;
    assert_eq!(common::children_of(proxy.pid()), vec![pgid]);
    assert_eq!(
        cmdline(pgid),
        vec![common::BIN.to_string(), "demo-server".into()]
    );
    let rows = common::processes();
    let leader = rows
        .iter()
        .find(|p| p.pid == pgid)
        .expect("the demo server");
    assert_eq!(leader.pgrp, pgid, "the child leads its own process group");
    let mut members = group_members(pgid);
    members.sort_unstable();
    assert_eq!(members.len(), 2, "server and grandchild: {members:?}");
    let grandchild = *members
        .iter()
        .find(|&&pid| pid != pgid)
        .expect("grandchild");
    let row = rows
        .iter()
        .find(|p| p.pid == grandchild)
        .expect("grandchild row");
    assert_eq!(row.ppid, pgid, "the grandchild was forked by the wrapper");
    // Forked by `sh` before it execs the server, but it may not have exec'd `sleep` yet.
    common::eventually("the grandchild runs `sleep 1000`", || {
        cmdline(grandchild) == ["sleep", "1000"]
    })
    .await;
    (client, pgid)
}

/// Asserts the session of `client` is gone: a request gets 404 with a JSON-RPC error.
async fn assert_session_gone(client: &Client, id: i64) {
    let answer = client
        .post(&tool_call(json!(id), "echo", json!({"message": "gone?"})))
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_rpc_error(answer.last(), &Value::Null, INVALID_REQUEST);
}

/// Kills the listed process groups when the test panics, so a failing test leaves no process
/// behind even if the proxy did not stop them (never used on the passing path).
struct KillGroupsOnPanic(Vec<u32>);

impl Drop for KillGroupsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for &pgid in &self.0 {
                // SAFETY: plain killpg(2) on a group the proxy under test created for this test.
                unsafe {
                    libc::killpg(pgid as i32, libc::SIGKILL);
                }
            }
        }
    }
}

#[tokio::test]
async fn wrapper_group_is_gone_after_delete() {
    let proxy = Proxy::start(&[], &WRAPPER);
    let (client, pgid) = wrapper_session(&proxy).await;

    assert_eq!(client.delete().await, 200);
    assert_group_gone(pgid).await;
    assert!(common::children_of(proxy.pid()).is_empty());
    assert_session_gone(&client, 2).await;
}

#[tokio::test]
async fn wrapper_group_is_gone_after_idle_expiry() {
    let proxy = Proxy::start(&["--session-idle-timeout", "300ms"], &WRAPPER);
    let (client, pgid) = wrapper_session(&proxy).await;
    assert_echo_works(&client, 2).await;
    let last_answer = Instant::now();

    // Probing the session with requests would keep it alive: watch its process group instead.
    assert_group_gone(pgid).await;
    let expired_after = last_answer.elapsed();
    assert!(
        expired_after >= Duration::from_millis(250),
        "expired {expired_after:?} after the last answer, before --session-idle-timeout"
    );
    assert!(common::children_of(proxy.pid()).is_empty());
    assert_session_gone(&client, 3).await;
    proxy
        .logged("about the idle session", |line| {
            line.contains("session idle for --session-idle-timeout")
        })
        .await;
}

#[tokio::test]
async fn idle_session_with_an_open_get_stream_is_not_expired() {
    let proxy = Proxy::start(&["--session-idle-timeout", "300ms"], &WRAPPER);
    let (client, pgid) = wrapper_session(&proxy).await;
    let mut get = client.open_get_stream().await;

    // Negative check, a bounded wait with no condition to await: three idle timeouts pass with
    // the GET stream open, and the stream neither ends nor carries anything.
    assert_eq!(get.next_within(Duration::from_millis(900)).await, None);
    assert_eq!(group_members(pgid).len(), 2, "the session's processes run");
    assert_echo_works(&client, 2).await;
    assert_eq!(common::children_of(proxy.pid()), vec![pgid]);

    // Once the client closes the stream, the session is idle again and expires.
    drop(get);
    assert_group_gone(pgid).await;
    assert_session_gone(&client, 3).await;
}

#[tokio::test]
async fn wrapper_groups_are_gone_after_restart_give_up() {
    let proxy = Proxy::start(
        &[
            "--max-restarts",
            "1",
            "--restart-backoff-min",
            "10ms",
            "--restart-backoff-max",
            "20ms",
            // Only so that a failure is cleaned up quickly (the proxy is dropped first).
            "--shutdown-timeout",
            "1s",
        ],
        &WRAPPER,
    );
    let (client, first) = wrapper_session(&proxy).await;
    let mut cleanup = KillGroupsOnPanic(vec![first]);

    let crash = tokio::time::timeout(
        Duration::from_secs(5),
        client.call_tool(2, "crash", json!({})),
    )
    .await
    .expect("the crash call is answered within 5 s");
    assert_rpc_error(&crash, &json!(2), SERVER_ERROR);
    assert_eq!(
        crash["error"]["data"],
        json!({"exit": {"code": 1}, "generation": 1})
    );
    assert_group_gone(first).await;

    // The restarted server (generation 2), behind the same wrapper.
    let second = pid_of(&client, 3).await;
    cleanup.0.push(second);
    assert_ne!(second, first);
    assert_eq!(common::children_of(proxy.pid()), vec![second]);
    assert_eq!(group_members(second).len(), 2, "server and grandchild");

    let crash = tokio::time::timeout(
        Duration::from_secs(5),
        client.call_tool(4, "crash", json!({})),
    )
    .await
    .expect("the second crash call is answered within 5 s");
    assert_rpc_error(&crash, &json!(4), SERVER_ERROR);
    assert_group_gone(second).await;
    // Past --max-restarts the session ends instead of restarting.
    common::eventually_async("the session answers 404", || async {
        client
            .post(&tool_call(json!(5), "echo", json!({"message": "x"})))
            .await
            .status
            == 404
    })
    .await;
    assert_session_gone(&client, 6).await;
    assert!(common::children_of(proxy.pid()).is_empty());
}

/// Stops the proxy with `signal` and checks it exits 0 leaving nothing of the wrapper's group.
async fn wrapper_group_is_gone_after_signal(signal: i32) {
    let proxy = Proxy::start(&[], &WRAPPER);
    let (client, pgid) = wrapper_session(&proxy).await;
    assert_echo_works(&client, 2).await;

    proxy.signal(signal);
    let (proxy, code) = exit_code(proxy).await;
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    assert_group_gone(pgid).await;
}

#[tokio::test]
async fn wrapper_group_is_gone_after_sigterm() {
    wrapper_group_is_gone_after_signal(libc::SIGTERM).await;
}

#[tokio::test]
async fn wrapper_group_is_gone_after_sigint() {
    wrapper_group_is_gone_after_signal(libc::SIGINT).await;
}

#[tokio::test]
async fn delete_escalates_to_sigkill_for_a_child_ignoring_eof_and_sigterm() {
    let proxy = Proxy::start(
        &["--kill-grace", "200ms"],
        &[
            common::BIN,
            "demo-server",
            "--ignore-sigterm",
            "--linger-after-eof-ms",
            "60000",
        ],
    );
    let client = session(&proxy).await;
    let pid = pid_of(&client, 1).await;
    assert_eq!(group_members(pid), vec![pid]);

    let started = Instant::now();
    assert_eq!(client.delete().await, 200);
    let took = started.elapsed();
    // Both grace steps passed (EOF ignored, SIGTERM ignored) before SIGKILL, and no more.
    assert!(
        took >= Duration::from_millis(400),
        "DELETE answered after {took:?}"
    );
    assert!(took < Duration::from_secs(3), "DELETE took {took:?}");
    assert_group_gone(pid).await;
    assert!(common::children_of(proxy.pid()).is_empty());
    proxy
        .logged("saying the server was killed by signal 9", |line| {
            line.contains("MCP server process stopped") && line.contains("killed by signal 9")
        })
        .await;
}
