//! What the MCP server writes on stdout always reaches its request, however the server writes
//! it: an answer followed at once by the process's exit is delivered (the exit is reported
//! after the server's last line, never ahead of it), an answer with an invalid UTF-8 byte is
//! read lossily (U+FFFD), and a line that is not JSON-RPC fails the request it answers at once
//! with -32000 instead of leaving it waiting forever.
//!
//! The demo server's `answer_and_exit`, `invalid_utf8` and `broken_answer` tools write these
//! lines by hand.

mod common;

use std::time::Duration;

use common::http_rules::assert_echo_works;
use common::mcp::{SERVER_ERROR, tool_call};
use common::{Answer, Client, Proxy, session};
use serde_json::{Value, json};

/// How long a request may take here: each answer is written at once, so anything near this
/// bound is a request waiting on an answer the proxy lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The text the demo's `answer_and_exit` tool answers with.
const ANSWER_AND_EXIT_TEXT: &str = "answered, then exited";

/// POSTs `tools/call` of `name` with request `id` and reads the whole answer, failing the test
/// if it takes longer than [`ANSWER_WITHIN`].
async fn call_within(client: &Client, id: i64, name: &str, arguments: Value) -> Answer {
    let request = tool_call(json!(id), name, arguments);
    tokio::time::timeout(ANSWER_WITHIN, client.post(&request))
        .await
        .unwrap_or_else(|_| panic!("`{name}` (request {id}) was not answered within 5 s"))
}

/// What a client must receive for `answer_and_exit` with `logs` log notifications, as request
/// `id`: the notifications in order, then the tool's own result.
fn answer_and_exit_messages(id: i64, logs: u64) -> Vec<Value> {
    let mut messages: Vec<Value> = (1..=logs)
        .map(|number| {
            json!({
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "logger": "demo", "data": format!("log {number} of {logs}")}
            })
        })
        .collect();
    messages.push(json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {"content": [{"type": "text", "text": ANSWER_AND_EXIT_TEXT}]}
    }));
    messages
}

#[tokio::test]
async fn answer_then_exit_always_delivers_the_answer() {
    const ROUNDS: i64 = 20;
    let proxy = Proxy::demo();
    // One session per round: every round starts from a live server, and no restart policy
    // (backoff, give-up) is involved. The rounds run at once because the lost answer showed
    // up when the session was busy with frames still queued as the exit came in.
    let clients = futures_util::future::join_all((0..ROUNDS).map(|_| session(&proxy))).await;
    let rounds = clients
        .iter()
        .enumerate()
        .map(|(round, client)| async move {
            let id = 100 + round as i64;
            // Half the rounds send ten log notifications before the answer, half answer at once.
            let logs = if round % 2 == 0 { 0 } else { 10 };
            let answer = call_within(client, id, "answer_and_exit", json!({"logs": logs})).await;
            (id, logs, answer)
        });
    let answers = futures_util::future::join_all(rounds).await;

    let wrong: Vec<String> = answers
        .iter()
        .filter(|(id, logs, answer)| {
            answer.status != 200 || answer.messages != answer_and_exit_messages(*id, *logs)
        })
        .map(|(id, logs, answer)| {
            format!(
                "request {id} ({logs} logs): {} {}",
                answer.status, answer.body
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {ROUNDS} rounds did not get the server's own answer:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn an_invalid_utf8_byte_in_an_answer_is_read_lossily() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;

    // The demo writes "before", the raw byte 0xFF, "after": the client gets U+FFFD in its place.
    let answer = call_within(&client, 1, "invalid_utf8", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.messages,
        vec![json!({
            "jsonrpc": "2.0",
            "id": 1,
            "result": {"content": [{"type": "text", "text": "before\u{FFFD}after"}]}
        })],
        "{}",
        answer.body
    );
    assert_echo_works(&client, 2).await;
}

#[tokio::test]
async fn a_non_json_answer_fails_its_request_at_once() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;

    // The demo writes `{"jsonrpc":"2.0","id":<proxy id>,"result":{...,"text":"cut off` and
    // nothing more for this request: the id can be read, the message cannot.
    let answer = call_within(&client, 1, "broken_answer", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type(), "application/json", "{}", answer.body);
    assert_eq!(answer.messages.len(), 1, "{}", answer.body);
    let message = &answer.messages[0];
    assert_eq!(message["jsonrpc"], "2.0", "{message}");
    assert_eq!(message["id"], json!(1), "{message}");
    assert!(message.get("result").is_none(), "{message}");
    assert_eq!(message["error"]["code"], json!(SERVER_ERROR), "{message}");
    assert_eq!(
        message["error"]["data"],
        json!({"reason": "unreadable answer"}),
        "{message}"
    );
    let text = message["error"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("the MCP server wrote an answer that is not valid JSON-RPC (")
            && text.ends_with(')'),
        "{message}"
    );

    // The session goes on with the same server.
    assert_echo_works(&client, 2).await;
}
