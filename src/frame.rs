//! `Frame`: one JSON-RPC 2.0 message, kept as raw JSON so that it crosses the proxy unchanged.
//!
//! A frame is never converted into a typed MCP message and back: unknown fields, number
//! spellings (`serde_json` runs with `arbitrary_precision`), key order (`preserve_order`) and
//! custom methods all survive. The proxy only reads a few fields and swaps the `id`.

use bytes::Bytes;
use rmcp::model::ErrorCode;
use serde_json::{Map, Value};

/// What kind of JSON-RPC message a frame is, decided once when it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Has `method` and `id`: expects an answer.
    Request,
    /// Has `method` and no `id`.
    Notification,
    /// Has `id` and `result`.
    Response,
    /// Has `id` and `error`.
    Error,
}

/// Why bytes could not become a frame; each maps to a JSON-RPC error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes are not JSON at all (`-32700`).
    #[error("parse error: {0}")]
    Parse(String),
    /// Valid JSON, but not a JSON-RPC 2.0 message (`-32600`).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
}

impl FrameError {
    /// The JSON-RPC error code for this failure.
    pub fn code(&self) -> i64 {
        match self {
            FrameError::Parse(_) => PARSE_ERROR,
            FrameError::Invalid(_) => INVALID_REQUEST,
        }
    }
}

/// Buffer reserved for messages the proxy builds itself.
const SMALL_MESSAGE: usize = 128;

/// JSON-RPC "Parse error" (the code from rmcp's model).
pub const PARSE_ERROR: i64 = ErrorCode::PARSE_ERROR.0 as i64;
/// JSON-RPC "Invalid Request".
pub const INVALID_REQUEST: i64 = ErrorCode::INVALID_REQUEST.0 as i64;
/// JSON-RPC "Internal error".
pub const INTERNAL_ERROR: i64 = ErrorCode::INTERNAL_ERROR.0 as i64;
/// Implementation-defined server error the proxy uses for "the MCP server process is gone".
pub const SERVER_ERROR: i64 = -32000;

/// One JSON-RPC message as an ordered JSON object.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The whole message; only `id` is ever replaced.
    map: Map<String, Value>,
    /// Cached classification, so routing never re-inspects the map.
    kind: FrameKind,
    /// Size of the message when it was parsed: serialization reserves this much up front, so
    /// a large message is written without repeated reallocation.
    size_hint: usize,
}

impl PartialEq for Frame {
    /// Two frames are equal when they carry the same message.
    fn eq(&self, other: &Frame) -> bool {
        self.map == other.map
    }
}

impl Frame {
    /// Parses one message from bytes (a POST body or one stdout line).
    pub fn parse(bytes: &[u8]) -> Result<Frame, FrameError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|err| FrameError::Parse(err.to_string()))?;
        match value {
            Value::Object(map) => Frame::from_map(map).map(|mut frame| {
                frame.size_hint = bytes.len();
                frame
            }),
            Value::Array(_) => Err(FrameError::Invalid(
                "JSON-RPC batches are not supported (removed in MCP 2025-06-18)",
            )),
            _ => Err(FrameError::Invalid(
                "a JSON-RPC message must be a JSON object",
            )),
        }
    }

    /// Validates and classifies an already-parsed object.
    pub fn from_map(map: Map<String, Value>) -> Result<Frame, FrameError> {
        if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(FrameError::Invalid("\"jsonrpc\" must be \"2.0\""));
        }
        let id_ok = |id: &Value| matches!(id, Value::String(_) | Value::Number(_));
        let kind = match (map.get("method"), map.get("id")) {
            (Some(Value::String(_)), Some(id)) if id_ok(id) => FrameKind::Request,
            (Some(Value::String(_)), Some(_)) => {
                return Err(FrameError::Invalid(
                    "a request id must be a string or a number",
                ));
            }
            (Some(Value::String(_)), None) => FrameKind::Notification,
            (Some(_), _) => return Err(FrameError::Invalid("\"method\" must be a string")),
            (None, Some(_)) if map.contains_key("result") => FrameKind::Response,
            (None, Some(_)) if map.contains_key("error") => FrameKind::Error,
            _ => {
                return Err(FrameError::Invalid(
                    "not a JSON-RPC request, notification or response",
                ));
            }
        };
        Ok(Frame {
            map,
            kind,
            size_hint: SMALL_MESSAGE,
        })
    }

    /// Builds an error response, as the proxy itself answers when it must.
    pub fn error_response(id: Value, code: i64, message: &str, data: Option<Value>) -> Frame {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(code));
        error.insert("message".into(), Value::from(message));
        if let Some(data) = data {
            error.insert("data".into(), data);
        }
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        map.insert("id".into(), id);
        map.insert("error".into(), Value::Object(error));
        Frame {
            map,
            kind: FrameKind::Error,
            size_hint: SMALL_MESSAGE,
        }
    }

    /// Builds a request the proxy sends on its own (handshake replay, ping).
    pub fn request(id: Value, method: &str, params: Option<Value>) -> Frame {
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        map.insert("id".into(), id);
        map.insert("method".into(), Value::from(method));
        if let Some(params) = params {
            map.insert("params".into(), params);
        }
        Frame {
            map,
            kind: FrameKind::Request,
            size_hint: SMALL_MESSAGE,
        }
    }

    /// The `result` of a response, to patch in place (the modern leg's translation).
    pub fn result_mut(&mut self) -> Option<&mut Value> {
        self.map.get_mut("result")
    }

    /// The `error` of an error response, to patch in place.
    pub fn error_mut(&mut self) -> Option<&mut Value> {
        self.map.get_mut("error")
    }

    /// Builds a successful answer the proxy sends on its own (to a server's `ping`).
    pub fn response(id: Value, result: Value) -> Frame {
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        map.insert("id".into(), id);
        map.insert("result".into(), result);
        Frame {
            map,
            kind: FrameKind::Response,
            size_hint: SMALL_MESSAGE,
        }
    }

    /// Builds a notification the proxy sends on its own (cancellation, replayed `initialized`).
    pub fn notification(method: &str, params: Option<Value>) -> Frame {
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        map.insert("method".into(), Value::from(method));
        if let Some(params) = params {
            map.insert("params".into(), params);
        }
        Frame {
            map,
            kind: FrameKind::Notification,
            size_hint: SMALL_MESSAGE,
        }
    }

    /// The size of the message as it was received (an estimate for messages the proxy built).
    pub fn size_hint(&self) -> usize {
        self.size_hint
    }

    /// The message's kind.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// `method`, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        self.map.get("method").and_then(Value::as_str)
    }

    /// `id`, for requests and responses.
    pub fn id(&self) -> Option<&Value> {
        self.map.get("id")
    }

    /// Replaces `id` in place (keeping its position) and returns the old one.
    pub fn replace_id(&mut self, id: Value) -> Option<Value> {
        self.map.insert("id".into(), id)
    }

    /// `params`, if any.
    pub fn params(&self) -> Option<&Value> {
        self.map.get("params")
    }

    /// Mutable `params`, for the one field the proxy translates (`requestId` of a cancellation).
    pub fn params_mut(&mut self) -> Option<&mut Value> {
        self.map.get_mut("params")
    }

    /// `result`, for responses.
    pub fn result(&self) -> Option<&Value> {
        self.map.get("result")
    }

    /// `error`, for error responses.
    pub fn error(&self) -> Option<&Value> {
        self.map.get("error")
    }

    /// `params._meta.progressToken`, which ties progress notifications to this request.
    pub fn progress_token(&self) -> Option<&Value> {
        self.params()?.get("_meta")?.get("progressToken")
    }

    /// Serializes the frame once; the same bytes serve JSON bodies and SSE events.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.serialize(false))
    }

    /// Serializes the frame followed by `\n`, the framing of the stdio transport.
    pub fn to_line(&self) -> Bytes {
        Bytes::from(self.serialize(true))
    }

    fn serialize(&self, newline: bool) -> Vec<u8> {
        // Room for the message as parsed plus a rewritten id and the newline.
        let mut out = Vec::with_capacity(self.size_hint + 32);
        // Serializing a `Map` of `Value`s cannot fail: keys are strings and there is no
        // user-defined `Serialize` impl in the tree.
        if serde_json::to_writer(&mut out, &self.map).is_err() {
            out.clear();
        }
        if newline {
            out.push(b'\n');
        }
        out
    }
}

/// A hashable, exact key for a JSON-RPC id: strings and numbers never collide, and numbers
/// compare by their exact source text (so `1` and `1.0` stay distinct, as they were sent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdKey {
    /// A string id.
    Text(String),
    /// A number id, by its textual form.
    Number(String),
}

impl IdKey {
    /// The key of an id value, or `None` for values that cannot be ids.
    pub fn of(id: &Value) -> Option<IdKey> {
        match id {
            Value::String(text) => Some(IdKey::Text(text.clone())),
            Value::Number(number) => Some(IdKey::Number(number.to_string())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_the_four_kinds() {
        let kind = |text: &str| Frame::parse(text.as_bytes()).map(|f| f.kind());
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#),
            Ok(FrameKind::Request)
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","method":"x"}"#),
            Ok(FrameKind::Notification)
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(FrameKind::Response)
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}"#),
            Ok(FrameKind::Error)
        );
    }

    #[test]
    fn rejects_what_is_not_json_rpc() {
        assert_eq!(Frame::parse(b"{nope").unwrap_err().code(), PARSE_ERROR);
        assert_eq!(Frame::parse(b"[]").unwrap_err().code(), INVALID_REQUEST);
        assert_eq!(Frame::parse(b"42").unwrap_err().code(), INVALID_REQUEST);
        assert_eq!(
            Frame::parse(br#"{"id":1,"method":"x"}"#)
                .unwrap_err()
                .code(),
            INVALID_REQUEST
        );
        assert_eq!(
            Frame::parse(br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#)
                .unwrap_err()
                .code(),
            INVALID_REQUEST
        );
        assert_eq!(
            Frame::parse(br#"{"jsonrpc":"2.0","id":1}"#)
                .unwrap_err()
                .code(),
            INVALID_REQUEST
        );
    }

    #[test]
    fn round_trips_unknown_fields_key_order_and_number_spellings() {
        let text = r#"{"jsonrpc":"2.0","id":1.0,"method":"custom/x","params":[1e+2,18446744073709551616123,-0.0,0.10],"zzz":{"b":1,"a":2}}"#;
        let frame = Frame::parse(text.as_bytes()).unwrap();
        assert_eq!(frame.to_bytes(), text.as_bytes());
    }

    #[test]
    fn replace_id_keeps_position_and_returns_the_original_exactly() {
        let text = r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"m"}"#;
        let mut frame = Frame::parse(text.as_bytes()).unwrap();
        let original = frame.replace_id(json!(7)).unwrap();
        assert_eq!(
            frame.to_bytes(),
            &br#"{"jsonrpc":"2.0","id":7,"method":"m"}"#[..]
        );
        frame.replace_id(original);
        assert_eq!(frame.to_bytes(), text.as_bytes());
    }

    #[test]
    fn id_keys_distinguish_strings_numbers_and_spellings() {
        let key = |text: &str| IdKey::of(&serde_json::from_str::<Value>(text).unwrap());
        assert_ne!(key("1"), key("\"1\""));
        assert_ne!(key("1"), key("1.0"));
        assert_eq!(
            key("99999999999999999999999"),
            key("99999999999999999999999")
        );
        assert_eq!(key("null"), None);
    }

    #[test]
    fn progress_token_is_read_from_meta() {
        let frame = Frame::parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"t"}}}"#,
        )
        .unwrap();
        assert_eq!(frame.progress_token(), Some(&json!("t")));
    }

    #[test]
    fn to_line_ends_with_newline() {
        let frame = Frame::notification("notifications/initialized", None);
        assert_eq!(
            frame.to_line(),
            &b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"[..]
        );
    }
}

#[cfg(test)]
mod proptests;
