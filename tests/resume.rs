//! Resuming SSE streams with `Last-Event-ID`: a client whose connection dropped gets, on a GET
//! naming the last event it saw, what followed on that stream (including the answer to its
//! request), with the same event ids.

mod common;

use common::{Proxy, WAIT};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// One SSE event: its id and its JSON data.
#[derive(Debug, Clone)]
struct Event {
    id: String,
    data: Value,
}

/// Reads SSE events with their ids from a streaming response.
struct EventReader {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl EventReader {
    fn new(response: reqwest::Response) -> EventReader {
        EventReader {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the stream ended (bounded wait).
    async fn next(&mut self) -> Option<Event> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut id = None;
                    let mut data = None;
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("id: ") {
                            id = Some(value.to_string());
                        } else if let Some(value) = line.strip_prefix("data: ") {
                            data = Some(serde_json::from_str(value).expect("JSON data"));
                        }
                    }
                    if let (Some(id), Some(data)) = (id, data) {
                        return Some(Event { id, data });
                    }
                    continue;
                }
                match self.stream.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
        .expect("timed out waiting for an SSE event")
    }
}

/// `(stream, seq)` of an event id.
fn split_id(id: &str) -> (u64, u64) {
    let (stream, seq) = id.split_once('/').expect("id is stream/seq");
    (stream.parse().unwrap(), seq.parse().unwrap())
}

async fn post_stream(client: &common::Client, message: &Value) -> EventReader {
    let response = client
        .http
        .post(&client.url)
        .headers(client.headers())
        .body(serde_json::to_vec(message).unwrap())
        .send()
        .await
        .expect("POST");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    EventReader::new(response)
}

async fn resume(client: &common::Client, last_event_id: &str) -> EventReader {
    let mut headers = client.headers();
    headers.remove("content-type");
    headers.insert("accept", "text/event-stream".parse().unwrap());
    headers.insert("last-event-id", last_event_id.parse().unwrap());
    let response = client
        .http
        .get(&client.url)
        .headers(headers)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 200);
    EventReader::new(response)
}

fn slow_call(id: &str, ms: u64, steps: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"ms": ms, "steps": steps},
                   "_meta": {"progressToken": id}}
    })
}

#[tokio::test]
async fn a_dropped_request_stream_resumes_with_what_followed_and_its_answer() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    client.initialize().await;

    let mut original = post_stream(&client, &slow_call("slow-1", 900, 3)).await;
    let first = original.next().await.expect("first progress");
    assert_eq!(first.data["method"], "notifications/progress");
    let (stream, seq) = split_id(&first.id);
    assert_eq!(seq, 1);
    drop(original);

    let mut resumed = resume(&client, &first.id).await;
    let mut events = Vec::new();
    while let Some(event) = resumed.next().await {
        events.push(event);
    }
    let answer = events.last().expect("the answer is replayed");
    assert_eq!(answer.data["id"], json!("slow-1"));
    assert_eq!(
        answer.data["result"]["content"][0]["text"],
        json!("slept 900 ms")
    );
    let mut last_seq = seq;
    for event in &events {
        let (event_stream, event_seq) = split_id(&event.id);
        assert_eq!(event_stream, stream, "{events:?}");
        assert!(event_seq > last_seq, "{events:?}");
        last_seq = event_seq;
    }
}

#[tokio::test]
async fn an_answered_request_stream_can_still_be_resumed() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    client.initialize().await;

    let mut original = post_stream(&client, &slow_call("slow-2", 200, 2)).await;
    let first = original.next().await.expect("first progress");
    drop(original);
    // A second call on the same session returns after the first one was answered.
    let later = client
        .call_tool(2, "sleep", json!({"ms": 400, "steps": 1}))
        .await;
    assert_eq!(common::tool_text(&later), "slept 400 ms");

    let mut resumed = resume(&client, &first.id).await;
    let mut last = None;
    while let Some(event) = resumed.next().await {
        last = Some(event);
    }
    let last = last.expect("at least the answer");
    assert_eq!(last.data["id"], json!("slow-2"));
    assert_eq!(
        last.data["result"]["content"][0]["text"],
        json!("slept 200 ms")
    );
}

#[tokio::test]
async fn an_unknown_last_event_id_opens_a_fresh_get_stream() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    client.initialize().await;

    let mut stream = resume(&client, "999999/7").await;
    let notify = client.call_tool(3, "notify", json!({})).await;
    assert_eq!(common::tool_text(&notify), "notified");
    let event = stream.next().await.expect("a notification");
    assert_eq!(event.data["method"], "notifications/tools/list_changed");
    let (stream_number, seq) = split_id(&event.id);
    assert_ne!(stream_number, 999_999);
    assert_eq!(seq, 1);
}

#[tokio::test]
async fn a_resumed_get_stream_replays_and_continues() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    client.initialize().await;

    let mut get = resume(&client, "0/0").await;
    let notify = client.call_tool(4, "notify", json!({})).await;
    assert_eq!(common::tool_text(&notify), "notified");
    let first = get.next().await.expect("first notification");
    assert_eq!(first.data["method"], "notifications/tools/list_changed");
    drop(get);

    let mut resumed = resume(&client, &first.id).await;
    let replayed = resumed.next().await.expect("replayed notification");
    assert_eq!(split_id(&replayed.id).0, split_id(&first.id).0);
    assert_eq!(split_id(&replayed.id).1, 2);
    assert_eq!(
        replayed.data["method"],
        "notifications/resources/list_changed"
    );
    // The stream goes on after the replay.
    let mut methods = vec![replayed.data["method"].clone()];
    while methods.len() < 4 {
        let event = resumed.next().await.expect("more notifications");
        methods.push(event.data["method"].clone());
    }
    assert_eq!(
        methods,
        vec![
            json!("notifications/resources/list_changed"),
            json!("notifications/prompts/list_changed"),
            json!("notifications/message"),
            json!("notifications/demo/custom"),
        ]
    );
}
