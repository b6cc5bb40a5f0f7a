//! Crash tolerance of a session, against the real binary: when the session's MCP server process
//! dies (it crashes, is killed from outside, hangs and misses its pings), the requests in flight
//! fail with JSON-RPC -32000 and the exit status, the server→client requests it left open are
//! cancelled towards the client, a new process is started after the backoff and brought to the
//! same point by replaying the client's handshake, and requests sent meanwhile are held for it.
//! Past the restart limit, or when the new process negotiates another protocol version, the
//! session ends and the client gets 404. `--request-timeout` answers a slow request with -32001
//! and cancels it at the server. After every scenario, no process of the session is left.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Proxy};
use serde_json::{Value, json};

/// The proxy's "server error" code: the MCP server process exited.
const SERVER_ERROR: i64 = -32000;
/// The proxy's "request timed out" code (`--request-timeout`).
const REQUEST_TIMEOUT: i64 = -32001;
/// JSON-RPC "Invalid Request", the code of the proxy's 404 answer.
const INVALID_REQUEST: i64 = -32600;

/// A client with an initialized session.
async fn session(proxy: &Proxy) -> Client {
    let mut client = proxy.client();
    client.initialize().await;
    client
}

/// The pid of the session's current MCP server (its `pid` tool), called with request `id`.
async fn server_pid(client: &Client, id: i64) -> u32 {
    let answer = client.call_tool(id, "pid", json!({})).await;
    assert_eq!(answer["id"], json!(id), "{answer}");
    common::tool_text(&answer)
        .parse()
        .unwrap_or_else(|_| panic!("pid is not a number: {answer}"))
}

/// Asserts that `echo` works on the session of `client`.
async fn assert_echo_works(client: &Client, id: i64) {
    let message = format!("echo {id}");
    let answer = client
        .call_tool(id, "echo", json!({"message": message}))
        .await;
    assert_eq!(answer["id"], json!(id), "{answer}");
    assert_eq!(common::tool_text(&answer), message, "{answer}");
}

/// Asserts that `answer` is the proxy's error for request `id` whose MCP server exited, with
/// exactly `data` (`{"exit": {...}, "generation": G}`).
fn assert_server_exited(answer: &Value, id: i64, data: Value) {
    assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
    assert_eq!(answer["id"], json!(id), "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    assert_eq!(answer["error"]["code"], json!(SERVER_ERROR), "{answer}");
    assert_eq!(answer["error"]["data"], data, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("exited"), "{answer}");
}

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

/// `{"exit": {"code": code}, "generation": generation}`
fn exited_with_code(code: i32, generation: u64) -> Value {
    json!({"exit": {"code": code}, "generation": generation})
}

/// `{"exit": {"signal": signal}, "generation": generation}`
fn killed_by_signal(signal: i32, generation: u64) -> Value {
    json!({"exit": {"signal": signal}, "generation": generation})
}

/// Sends `signal` to process `pid`.
fn send_signal(pid: u32, signal: i32) {
    // SAFETY: plain kill(2) on a child of the proxy under test.
    let result = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(result, 0, "kill({pid}, {signal}) failed");
}

/// The direct children of the proxy, sorted.
fn proxy_children(proxy: &Proxy) -> Vec<u32> {
    let mut children = common::children_of(proxy.pid());
    children.sort_unstable();
    children
}

/// Waits (bounded) until the proxy's live child processes are exactly `expected`.
async fn assert_children_become(proxy: &Proxy, expected: &[u32]) {
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let children = proxy_children(proxy);
        if children == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the proxy's children are {children:?}, expected exactly {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until the proxy has exactly one child and it is not `old`; returns it.
async fn wait_for_replacement(proxy: &Proxy, old: u32) -> u32 {
    let mut replacement = None;
    common::eventually(
        "a new MCP server process replaced the old one",
        || match proxy_children(proxy).as_slice() {
            [pid] if *pid != old => {
                replacement = Some(*pid);
                true
            }
            _ => false,
        },
    )
    .await;
    replacement.expect("set when the condition held")
}

/// Waits (bounded) until no process of group `pgid` runs any more.
async fn assert_group_gone(pgid: u32) {
    common::eventually(&format!("process group {pgid} is gone"), || {
        !common::group_alive(pgid)
    })
    .await;
}

/// Waits (bounded) until the MCP server has received a message for which `matches` holds
/// (asked with the `received` tool under request `id`); returns that message.
async fn wait_until_received(client: &Client, id: i64, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        if let Some(message) = client.received(id).await.into_iter().find(&matches) {
            return message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the MCP server never received the expected message"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `message` is the `tools/call` of tool `name`.
fn is_tool_call(message: &Value, name: &str) -> bool {
    message["method"] == "tools/call" && message["params"]["name"] == name
}

/// A `tools/call` request.
fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments}
    })
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

/// The proxy id of a message the MCP server received (the proxy's own ids are integers).
fn proxy_id(message: &Value) -> u64 {
    message["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("the MCP server saw a non-integer id: {message}"))
}

/// `message` without its `id`, after checking that the id is a proxy id.
fn without_proxy_id(message: &Value) -> Value {
    proxy_id(message);
    let mut message = message.clone();
    message.as_object_mut().expect("object").remove("id");
    message
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

/// Calls `sample` on the session and plays the client: reads the `sampling/createMessage` from
/// the call's SSE stream, answers it, and checks that the tool returns the answer.
async fn assert_sampling_works(client: &Client, id: i64, prompt: &str) {
    let mut stream = client
        .open_request(&tool_call(id, "sample", json!({"prompt": prompt})))
        .await;
    assert_eq!(stream.status, 200);
    let request = stream.next().await.expect("the sampling request");
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        json!(prompt),
        "{request}"
    );
    let outbound_id = request["id"].as_u64().expect("an integer outbound id");
    let result = json!({
        "role": "assistant",
        "content": {"type": "text", "text": format!("answer to {prompt}")},
        "model": "test-model",
        "stopReason": "endTurn"
    });
    let status = client
        .send(&json!({"jsonrpc": "2.0", "id": outbound_id, "result": result}))
        .await;
    assert_eq!(status, 202);
    let answer = stream.next().await.expect("the tool result");
    assert_eq!(answer["id"], json!(id), "{answer}");
    let returned: Value = serde_json::from_str(common::tool_text(&answer)).expect("JSON text");
    assert_eq!(returned, result);
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the result"
    );
}

/// Calls `elicit` on the session and plays the client, like [`assert_sampling_works`].
async fn assert_elicitation_works(client: &Client, id: i64) {
    let mut stream = client
        .open_request(&tool_call(id, "elicit", json!({"message": "your name?"})))
        .await;
    assert_eq!(stream.status, 200);
    let request = stream.next().await.expect("the elicitation request");
    assert_eq!(request["method"], "elicitation/create", "{request}");
    assert_eq!(request["params"]["message"], "your name?", "{request}");
    let outbound_id = request["id"].as_u64().expect("an integer outbound id");
    let result = json!({"action": "accept", "content": {"name": "Ada"}});
    let status = client
        .send(&json!({"jsonrpc": "2.0", "id": outbound_id, "result": result}))
        .await;
    assert_eq!(status, 202);
    let answer = stream.next().await.expect("the tool result");
    assert_eq!(answer["id"], json!(id), "{answer}");
    let returned: Value = serde_json::from_str(common::tool_text(&answer)).expect("JSON text");
    assert_eq!(returned, result);
}

#[tokio::test]
async fn crash_after_a_response_restarts_the_server_on_the_same_session() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    assert_eq!(proxy_children(&proxy), vec![first]);

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));

    assert_echo_works(&client, 3).await;
    let second = server_pid(&client, 4).await;
    assert_ne!(second, first);
    assert!(
        !common::group_alive(first),
        "the crashed server's group is gone"
    );
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn crash_exit_code_is_reported() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client.call_tool(1, "crash", json!({"code": 42})).await;
    assert_server_exited(&answer, 1, exited_with_code(42, 1));
    let answer = client.call_tool(2, "crash", json!({"code": 0})).await;
    assert_server_exited(&answer, 2, exited_with_code(0, 2));
    assert_echo_works(&client, 3).await;
    let pid = server_pid(&client, 4).await;
    assert_children_become(&proxy, &[pid]).await;
}

#[tokio::test]
async fn crash_during_a_call_fails_that_call_at_once() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let sleep = client.spawn_post(&tool_call(2, "sleep", json!({"ms": 5000})));
    wait_until_received(&client, 3, |m| is_tool_call(m, "sleep")).await;

    let started = Instant::now();
    let crash = client.call_tool(4, "crash", json!({})).await;
    assert_server_exited(&crash, 4, exited_with_code(1, 1));
    let sleep = sleep.await.expect("the sleep task");
    let waited = started.elapsed();
    assert_eq!(sleep.status, 200, "{}", sleep.body);
    assert_server_exited(sleep.last(), 2, exited_with_code(1, 1));
    assert!(
        waited < Duration::from_millis(4000),
        "the sleep call failed only after {waited:?}"
    );

    assert_echo_works(&client, 5).await;
    let second = server_pid(&client, 6).await;
    assert_ne!(second, first);
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn sigkill_of_an_idle_server_is_survived() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    send_signal(first, libc::SIGKILL);
    let second = wait_for_replacement(&proxy, first).await;

    assert_echo_works(&client, 2).await;
    assert_eq!(server_pid(&client, 3).await, second);
    assert!(!common::group_alive(first));
    // The new server was brought to the same point: it saw the client's handshake.
    let received = client.received(4).await;
    assert_eq!(received[0]["method"], "initialize");
    assert_eq!(received[0]["params"], common::init_params());
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn sigkill_during_a_call_fails_it_with_the_signal() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let sleep = client.spawn_post(&tool_call(2, "sleep", json!({"ms": 5000})));
    wait_until_received(&client, 3, |m| is_tool_call(m, "sleep")).await;

    let started = Instant::now();
    send_signal(first, libc::SIGKILL);
    let sleep = sleep.await.expect("the sleep task");
    assert!(started.elapsed() < Duration::from_millis(4000));
    assert_eq!(sleep.status, 200, "{}", sleep.body);
    assert_server_exited(sleep.last(), 2, killed_by_signal(libc::SIGKILL, 1));

    assert_echo_works(&client, 4).await;
    let second = server_pid(&client, 5).await;
    assert_ne!(second, first);
    assert!(!common::group_alive(first));
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]
async fn restarted_server_gets_the_handshake_replayed_exactly() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let requests = [
        (1, "logging/setLevel", json!({"level": "error"})),
        (2, "logging/setLevel", json!({"level": "warning"})),
        (
            3,
            "resources/subscribe",
            json!({"uri": "demo://static/hello"}),
        ),
        (4, "resources/subscribe", json!({"uri": "demo://items/7"})),
        (5, "resources/unsubscribe", json!({"uri": "demo://items/7"})),
    ];
    for (id, method, params) in requests {
        let answer = client.request(json!(id), method, params).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.last(),
            &json!({"jsonrpc": "2.0", "id": id, "result": {}})
        );
    }

    let answer = client.call_tool(6, "crash", json!({})).await;
    assert_server_exited(&answer, 6, exited_with_code(1, 1));

    let received = client.received(7).await;
    assert_eq!(received.len(), 4, "{received:#?}");
    assert_eq!(
        without_proxy_id(&received[0]),
        json!({"jsonrpc": "2.0", "method": "initialize", "params": common::init_params()})
    );
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_eq!(
        without_proxy_id(&received[2]),
        json!({"jsonrpc": "2.0", "method": "logging/setLevel", "params": {"level": "warning"}})
    );
    assert_eq!(
        without_proxy_id(&received[3]),
        json!({"jsonrpc": "2.0", "method": "resources/subscribe", "params": {"uri": "demo://static/hello"}})
    );
    let ids = [
        proxy_id(&received[0]),
        proxy_id(&received[2]),
        proxy_id(&received[3]),
    ];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );

    // The replayed subscription is live on the new server.
    let answer = client.call_tool(8, "notify", json!({})).await;
    assert_eq!(common::tool_text(&answer), "notified");
    let pid = server_pid(&client, 9).await;
    assert_children_become(&proxy, &[pid]).await;
}

#[tokio::test]
async fn sampling_and_elicitation_work_through_the_restarted_server() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    assert_sampling_works(&client, 1, "before the crash").await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));

    // The new server numbers its own requests from scratch ("demo-1" again).
    assert_sampling_works(&client, 3, "after the crash").await;
    assert_elicitation_works(&client, 4).await;
    assert_echo_works(&client, 5).await;
    let pid = server_pid(&client, 6).await;
    assert_children_become(&proxy, &[pid]).await;
}

#[tokio::test]
async fn pending_sampling_request_is_cancelled_when_the_server_dies() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    let mut stream = client
        .open_request(&tool_call(2, "sample", json!({"prompt": "never answered"})))
        .await;
    assert_eq!(stream.status, 200);
    let request = stream.next().await.expect("the sampling request");
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    let outbound_id = request["id"].as_u64().expect("an integer outbound id");

    send_signal(first, libc::SIGKILL);
    let cancelled = stream.next().await.expect("the cancellation");
    assert_eq!(cancelled["jsonrpc"], "2.0", "{cancelled}");
    assert_eq!(
        cancelled["method"], "notifications/cancelled",
        "{cancelled}"
    );
    assert!(cancelled.get("id").is_none(), "{cancelled}");
    assert_eq!(
        cancelled["params"]["requestId"],
        json!(outbound_id),
        "{cancelled}"
    );
    let answer = stream.next().await.expect("the tool call's answer");
    assert_server_exited(&answer, 2, killed_by_signal(libc::SIGKILL, 1));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );

    // A late answer to the cancelled request is accepted and dropped.
    let late = json!({
        "jsonrpc": "2.0",
        "id": outbound_id,
        "result": {"role": "assistant", "content": {"type": "text", "text": "late"}, "model": "m"}
    });
    assert_eq!(client.send(&late).await, 202);
    assert_echo_works(&client, 3).await;
    let second = server_pid(&client, 4).await;
    assert_ne!(second, first);
    // Nothing of the late answer reached the new server.
    let received = client.received(5).await;
    assert!(
        received.iter().all(|m| m.get("result").is_none()),
        "{received:#?}"
    );
    assert_children_become(&proxy, &[second]).await;
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
    assert!(
        proxy.log().contains("restart limit reached"),
        "the session ended for another reason:\n{}",
        proxy.log()
    );
    assert_group_gone(first).await;
    assert_children_become(&proxy, &[]).await;
}

#[tokio::test]
async fn request_sent_during_the_restart_is_answered_by_the_new_server() {
    let proxy = Proxy::start(
        &[
            "--restart-backoff-min",
            "500ms",
            "--restart-backoff-max",
            "500ms",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    let crashed = Instant::now();
    // A notification sent during the restart is held too, and keeps its place in line.
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    assert_eq!(client.send(&changed).await, 202);
    let second = server_pid(&client, 3).await;
    let held_for = crashed.elapsed();
    assert_ne!(second, first);
    assert!(
        held_for >= Duration::from_millis(400),
        "answered after {held_for:?}: it cannot have waited for the 500 ms backoff"
    );

    let received = client.received(4).await;
    assert_eq!(received.len(), 4, "{received:#?}");
    assert_eq!(received[0]["method"], "initialize", "{received:#?}");
    assert_eq!(
        received[1],
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    );
    assert_eq!(received[2], changed);
    assert_eq!(
        without_proxy_id(&received[3]),
        json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "pid", "arguments": {}}})
    );
    assert_children_become(&proxy, &[second]).await;
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
    assert!(
        proxy.log().contains("different protocol version"),
        "the session ended for another reason:\n{}",
        proxy.log()
    );
    assert_group_gone(first).await;
    assert_children_become(&proxy, &[]).await;
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
async fn crash_kills_what_the_server_forked() {
    let proxy = Proxy::start(&[], &[common::BIN, "demo-server", "--fork-grandchild"]);
    let client = session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let group: Vec<u32> = common::processes()
        .iter()
        .filter(|p| p.pgrp == first && p.state != 'Z')
        .map(|p| p.pid)
        .collect();
    assert_eq!(group.len(), 2, "server and grandchild: {group:?}");

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    assert_group_gone(first).await;
    assert_echo_works(&client, 3).await;
    let second = server_pid(&client, 4).await;
    assert_children_become(&proxy, &[second]).await;
}

#[tokio::test]

async fn refused_set_level_is_not_what_the_restarted_server_gets() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .request(json!(1), "logging/setLevel", json!({"level": "warning"}))
        .await;
    assert_eq!(
        answer.last(),
        &json!({"jsonrpc": "2.0", "id": 1, "result": {}})
    );
    let answer = client
        .request(json!(2), "logging/setLevel", json!({"level": "verbose"}))
        .await;
    assert_eq!(
        answer.last()["error"]["code"],
        json!(-32602),
        "{}",
        answer.body
    );
    let log_info = json!({"name": "log", "arguments": {"level": "info", "message": "filtered"}});
    let answer = client
        .request(json!(3), "tools/call", log_info.clone())
        .await;
    assert_eq!(
        answer.messages.len(),
        1,
        "info is below warning: {}",
        answer.body
    );

    let answer = client.call_tool(4, "crash", json!({})).await;
    assert_server_exited(&answer, 4, exited_with_code(1, 1));

    // The session's log level is still "warning": info messages stay filtered.
    let answer = client.request(json!(5), "tools/call", log_info).await;
    assert_eq!(
        answer.messages.len(),
        1,
        "the restarted server lost the client's log level: {}",
        answer.body
    );
    let received = client.received(6).await;
    let set_level: Vec<&Value> = received
        .iter()
        .filter(|m| m["method"] == "logging/setLevel")
        .collect();
    assert_eq!(set_level.len(), 1, "{received:#?}");
    assert_eq!(set_level[0]["params"], json!({"level": "warning"}));
}

#[tokio::test]

async fn subscribe_held_during_the_restart_reaches_the_new_server_once() {
    let proxy = Proxy::start(
        &[
            "--restart-backoff-min",
            "500ms",
            "--restart-backoff-max",
            "500ms",
        ],
        &[],
    );
    let client = session(&proxy).await;
    let answer = client.call_tool(1, "crash", json!({})).await;
    assert_server_exited(&answer, 1, exited_with_code(1, 1));

    let answer = client
        .request(
            json!(2),
            "resources/subscribe",
            json!({"uri": "demo://items/9"}),
        )
        .await;
    assert_eq!(
        answer.last(),
        &json!({"jsonrpc": "2.0", "id": 2, "result": {}})
    );
    let received = client.received(3).await;
    let methods: Vec<&Value> = received.iter().map(|m| &m["method"]).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "resources/subscribe"
        ],
        "{received:#?}"
    );
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
