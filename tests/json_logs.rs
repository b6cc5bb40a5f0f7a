//! `--log-format json`: every line the proxy logs is one JSON object, and every line about a
//! session carries its log id in the span (the `session` span's `id`, or the `child` span's
//! `session` next to the child's pid and generation). The log id is the session id's first 8
//! characters: the whole id is the client's credential, and no log line ever holds it.

mod common;

use common::demo::child_pid;
use common::{Proxy, session, tool_text};
use serde_json::{Value, json};

/// Stops the proxy; every line it wrote to stderr must be one JSON object.
async fn stop_and_read_json_log(mut proxy: Proxy) -> Vec<Value> {
    proxy.signal(libc::SIGTERM);
    assert_eq!(proxy.wait_exit(), Some(0));
    // The reader thread appends the last lines after the pipe closes.
    common::eventually("the log ends with the proxy's last line", || {
        proxy.log().contains("\"stopped\"")
    })
    .await;
    let log = proxy.log();
    assert!(log.lines().count() >= 3, "{log}");
    log.lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(value @ Value::Object(_)) => value,
            _ => panic!("not a JSON object line: {l:?}"),
        })
        .collect()
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_child_span_fields() {
    let proxy = Proxy::start(&["--log-format", "json"], &[]);
    let client = session(&proxy).await;
    let id = client.logged_session();
    let pid = child_pid(&client, 1).await;
    let answer = client.call_tool(2, "stderr", json!({"lines": 1})).await;
    assert_eq!(tool_text(&answer), "wrote 1 lines");

    let mut line = None;
    common::eventually("the child's stderr line was logged", || {
        line = proxy
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["fields"]["message"] == "demo stderr line 1");
        line.is_some()
    })
    .await;
    let line = line.unwrap();
    let span = &line["span"];
    assert_eq!(span["session"], json!(id), "{line}");
    assert_eq!(span["pid"], json!(pid), "{line}");
    assert_eq!(span["generation"], json!(1), "{line}");

    assert!(matches!(client.delete().await, 200 | 204));
    let lines = stop_and_read_json_log(proxy).await;
    let session_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "session")
        .collect();
    assert!(!session_lines.is_empty(), "no line in the session span");
    for l in session_lines {
        assert_eq!(l["span"]["id"], json!(id), "{l}");
    }
    for l in lines.iter().filter(|l| l["span"]["name"] == "child") {
        assert_eq!(l["span"]["session"], json!(id), "{l}");
        assert_eq!(l["span"]["pid"], json!(pid), "{l}");
        assert_eq!(l["span"]["generation"], json!(1), "{l}");
    }
}

#[tokio::test]
async fn every_json_log_line_about_a_session_carries_its_id_in_the_span() {
    let proxy = Proxy::start(&["--log-format", "json"], &[]);
    let client = session(&proxy).await;
    let full_id = client.session.clone().unwrap();
    let id = client.logged_session();
    let echo = client.call_tool(1, "echo", json!({"message": "x"})).await;
    assert_eq!(tool_text(&echo), "x");
    assert!(matches!(client.delete().await, 200 | 204));
    let lines = stop_and_read_json_log(proxy).await;
    let leaks: Vec<String> = lines
        .iter()
        .map(Value::to_string)
        .filter(|l| l.contains(&full_id))
        .collect();
    assert!(
        leaks.is_empty(),
        "lines holding the full session id:\n{}",
        leaks.join("\n")
    );
    let about: Vec<&Value> = lines
        .iter()
        .filter(|l| l.to_string().contains(&id))
        .collect();
    assert!(about.len() >= 3, "{about:?}");
    let wrong: Vec<String> = about
        .iter()
        .filter(|l| {
            let span = &l["span"];
            !(span["name"] == "session" && span["id"] == json!(id)
                || span["name"] == "child" && span["session"] == json!(id))
        })
        .map(|l| l.to_string())
        .collect();
    assert!(
        wrong.is_empty(),
        "lines about session {id} without it as span.id / span.session:\n{}",
        wrong.join("\n")
    );
}
