//! Line framing of the newline-delimited JSON-RPC stream: decoding one stdin
//! line into a classified message, building outgoing messages, and the single
//! writer task that owns stdout so that lines never interleave.

use std::io;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::error::RpcError;

/// How many outgoing lines may wait for the writer before senders block.
const OUTBOX_CAPACITY: usize = 1024;

/// One well-formed JSON-RPC message received from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    Response {
        id: Value,
        outcome: Result<Value, RpcError>,
    },
}

/// A JSON value that is not a JSON-RPC message, with the id to answer it under
/// (the message's own id when it had a usable one, else `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidMessage {
    pub reply_id: Value,
    pub reason: &'static str,
}

impl InvalidMessage {
    /// The `-32600` error response this message gets.
    pub fn reply(self) -> Value {
        failure(self.reply_id, &RpcError::invalid_request(self.reason))
    }
}

/// Parses one line (without or with its trailing newline). Blank lines yield
/// `Ok(None)` and are skipped; anything else that is not JSON is a parse error.
pub fn parse_line(line: &[u8]) -> Result<Option<Value>, RpcError> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(line)
        .map(Some)
        .map_err(|cause| RpcError::parse_error(&cause))
}

/// Sorts a parsed JSON value into request, notification or response.
pub fn classify(message: Value) -> Result<Incoming, InvalidMessage> {
    let Value::Object(mut object) = message else {
        return Err(invalid(
            Value::Null,
            "a JSON-RPC message must be a JSON object",
        ));
    };
    let id = object.remove("id");
    let reply_id = match &id {
        Some(usable @ (Value::String(_) | Value::Number(_))) => usable.clone(),
        _ => Value::Null,
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(reply_id, "`jsonrpc` must be \"2.0\""));
    }
    if let Some(method) = object.remove("method") {
        let Value::String(method) = method else {
            return Err(invalid(reply_id, "`method` must be a string"));
        };
        let params = object.remove("params");
        if params
            .as_ref()
            .is_some_and(|p| !p.is_object() && !p.is_array())
        {
            return Err(invalid(reply_id, "`params` must be an object or an array"));
        }
        return match id {
            None => Ok(Incoming::Notification { method, params }),
            Some(Value::String(_) | Value::Number(_)) => Ok(Incoming::Request {
                id: reply_id,
                method,
                params,
            }),
            Some(_) => Err(invalid(Value::Null, "`id` must be a string or a number")),
        };
    }
    let Some(id) = id else {
        return Err(invalid(
            Value::Null,
            "message has neither `method` nor `id`",
        ));
    };
    if !matches!(id, Value::String(_) | Value::Number(_) | Value::Null) {
        return Err(invalid(Value::Null, "`id` must be a string or a number"));
    }
    match (object.remove("result"), object.remove("error")) {
        (Some(result), None) => Ok(Incoming::Response {
            id,
            outcome: Ok(result),
        }),
        (None, Some(error)) => Ok(Incoming::Response {
            id,
            outcome: Err(RpcError::from_client(error)),
        }),
        _ => Err(invalid(
            reply_id,
            "a response needs exactly one of `result` and `error`",
        )),
    }
}

fn invalid(reply_id: Value, reason: &'static str) -> InvalidMessage {
    InvalidMessage { reply_id, reason }
}

/// A successful response.
pub fn success(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// An error response.
pub fn failure(id: Value, error: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() })
}

/// A notification; `params` is left out entirely when `None`.
pub fn notification(method: &str, params: Option<Value>) -> Value {
    let mut object = Map::new();
    object.insert("jsonrpc".to_owned(), json!("2.0"));
    object.insert("method".to_owned(), json!(method));
    if let Some(params) = params {
        object.insert("params".to_owned(), params);
    }
    Value::Object(object)
}

/// A request from the demo server to the client; `params` is left out when `None`.
pub fn request(id: &str, method: &str, params: Option<Value>) -> Value {
    let mut message = notification(method, params);
    if let Value::Object(object) = &mut message {
        object.insert("id".to_owned(), json!(id));
    }
    message
}

enum OutboxItem {
    Line(Vec<u8>),
    /// Acknowledged once every line queued before it is written and flushed.
    Flushed(oneshot::Sender<()>),
    Close,
}

/// The sending side of the stdout writer task. Cloneable; every clone feeds
/// the same FIFO, so messages sent by one task appear in the order sent.
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::Sender<OutboxItem>,
}

impl Outbox {
    /// Queues one JSON message as one line. If the writer has stopped (stdout
    /// is gone) the message is dropped: nobody could read it anyway.
    pub async fn send(&self, message: &Value) {
        match serde_json::to_vec(message) {
            Ok(line) => self.push(OutboxItem::Line(line)).await,
            Err(cause) => note!("demo server: could not serialize a message: {cause}"),
        }
    }

    /// Queues a line verbatim. The caller guarantees it contains no newline.
    pub async fn send_raw_line(&self, line: &str) {
        self.send_raw_bytes(line.as_bytes().to_vec()).await;
    }

    /// Queues a line of raw bytes (not necessarily UTF-8, not necessarily JSON). The caller
    /// guarantees it contains no newline.
    pub async fn send_raw_bytes(&self, line: Vec<u8>) {
        self.push(OutboxItem::Line(line)).await;
    }

    /// Waits until every line queued so far is written and flushed, so the process can exit
    /// right after without losing one (returns at once if the writer has stopped).
    pub async fn flushed(&self) {
        let (done, written) = oneshot::channel();
        self.push(OutboxItem::Flushed(done)).await;
        let _ = written.await;
    }

    /// Tells the writer to stop after the lines already queued.
    pub async fn close(&self) {
        self.push(OutboxItem::Close).await;
    }

    async fn push(&self, item: OutboxItem) {
        // An error means the writer task has ended; see `send`.
        let _ = self.sender.send(item).await;
    }
}

/// Starts the task that owns `output`: it writes each queued line followed by
/// `\n`, flushes after every line, and ends on `Outbox::close`, when every
/// `Outbox` is dropped, or at the first write error (which it returns).
pub fn spawn_writer<W>(output: W) -> (Outbox, JoinHandle<io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
    let writer = tokio::spawn(write_lines(output, receiver));
    (Outbox { sender }, writer)
}

async fn write_lines<W>(mut output: W, mut items: mpsc::Receiver<OutboxItem>) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    loop {
        match items.recv().await {
            Some(OutboxItem::Line(mut line)) => {
                line.push(b'\n');
                output.write_all(&line).await?;
                output.flush().await?;
            }
            // Every line is flushed as it is written: the earlier ones are out already.
            Some(OutboxItem::Flushed(done)) => {
                let _ = done.send(());
            }
            Some(OutboxItem::Close) | None => break,
        }
    }
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::super::error::{INVALID_REQUEST, PARSE_ERROR};
    use super::*;

    fn classify_text(text: &str) -> Result<Incoming, InvalidMessage> {
        let value = parse_line(text.as_bytes())
            .expect("valid JSON")
            .expect("not blank");
        classify(value)
    }

    #[test]
    fn blank_lines_are_skipped_and_garbage_is_a_parse_error() {
        assert_eq!(parse_line(b"  \r\n"), Ok(None));
        let error = parse_line(b"this is not json\n").expect_err("garbage");
        assert_eq!(error.code, PARSE_ERROR);
        assert_eq!(error.message, "Parse error");
        assert!(parse_line(b"{} {}").is_err(), "two values on one line");
        assert!(parse_line(&[0xff, 0xfe]).is_err(), "invalid UTF-8");
    }

    #[test]
    fn numbers_keep_their_digits_but_exponents_gain_a_sign() {
        // `arbitrary_precision` keeps `1.0` and big integers as written, but
        // its parser rewrites exponents (`1e3` becomes `1e+3`).
        let value = parse_line(b"[1.0, 1e3, 2E-2, 12345678901234567890123]").expect("json");
        assert_eq!(
            serde_json::to_string(&value).expect("serializes"),
            "[1.0,1e+3,2e-2,12345678901234567890123]"
        );
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        assert_eq!(
            classify_text(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#),
            Ok(Incoming::Request {
                id: json!(7),
                method: "ping".into(),
                params: None
            })
        );
        assert_eq!(
            classify_text(r#"{"jsonrpc":"2.0","method":"n","params":{"a":1}}"#),
            Ok(Incoming::Notification {
                method: "n".into(),
                params: Some(json!({"a": 1}))
            })
        );
        assert_eq!(
            classify_text(r#"{"jsonrpc":"2.0","id":"demo-1","result":{}}"#),
            Ok(Incoming::Response {
                id: json!("demo-1"),
                outcome: Ok(json!({}))
            })
        );
        assert_eq!(
            classify_text(r#"{"jsonrpc":"2.0","id":"demo-2","error":{"code":-1,"message":"m"}}"#),
            Ok(Incoming::Response {
                id: json!("demo-2"),
                outcome: Err(RpcError::new(-1, "m"))
            })
        );
    }

    #[test]
    fn non_messages_are_invalid_requests_answered_with_their_usable_id() {
        let cases = [
            ("[1,2]", Value::Null),
            ("42", Value::Null),
            (r#"{"id":3,"method":"ping"}"#, json!(3)),
            (r#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#, json!("a")),
            (r#"{"jsonrpc":"2.0","id":4,"method":5}"#, json!(4)),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"m","params":3}"#,
                json!(5),
            ),
            (r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#, Value::Null),
            (r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#, Value::Null),
            (r#"{"jsonrpc":"2.0"}"#, Value::Null),
            (r#"{"jsonrpc":"2.0","id":6}"#, json!(6)),
            (
                r#"{"jsonrpc":"2.0","id":6,"result":1,"error":{}}"#,
                json!(6),
            ),
        ];
        for (text, expected_id) in cases {
            let reply = classify_text(text).expect_err(text).reply();
            assert_eq!(reply["id"], expected_id, "{text}");
            assert_eq!(reply["error"]["code"], INVALID_REQUEST, "{text}");
            assert_eq!(reply["error"]["message"], "Invalid Request", "{text}");
        }
    }

    #[test]
    fn outgoing_messages_have_the_json_rpc_shape() {
        assert_eq!(
            failure(Value::Null, &RpcError::new(-32700, "Parse error")),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})
        );
        assert_eq!(
            notification("notifications/tools/list_changed", None),
            json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})
        );
        assert_eq!(
            request("demo-1", "ping", None),
            json!({"jsonrpc":"2.0","method":"ping","id":"demo-1"})
        );
    }

    #[tokio::test]
    async fn writer_emits_one_flushed_line_per_message_until_closed() {
        let (server_side, mut test_side) = tokio::io::duplex(1 << 16);
        let (outbox, writer) = spawn_writer(server_side);
        outbox.send(&json!({"text": "a\nb"})).await;
        outbox.send_raw_line("raw").await;
        outbox.flushed().await;
        outbox.close().await;
        outbox.send(&json!("after close")).await;
        writer.await.expect("joins").expect("writes");
        let mut written = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut test_side, &mut written)
            .await
            .expect("reads");
        assert_eq!(written, "{\"text\":\"a\\nb\"}\nraw\n");
    }
}
