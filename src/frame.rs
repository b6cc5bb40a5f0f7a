//! `Frame`: one JSON-RPC 2.0 message, kept as raw JSON so that it crosses the proxy unchanged.
//!
//! A frame is never converted into a typed MCP message and back: unknown fields, number
//! spellings (`serde_json` runs with `arbitrary_precision`), key order (`preserve_order`) and
//! custom methods all survive. The proxy only reads a few fields and swaps the `id`.
//!
//! A parsed frame keeps its original bytes and what one validating scan learned (kind, id,
//! method, where `id` and `params` lie; `frame/byte_scan.rs`, with `serde_json` deciding what
//! that scan leaves to it). Forwarding splices the current id into those bytes (a large
//! message as pieces around the new id, never joined: see [`OneLine`]); the ordered JSON tree
//! is built only when a caller reads `params`, `result` or `error`, and replaces the bytes only
//! when a caller changes them.

mod byte_scan;
mod envelope;
mod one_line;
mod parsing;
mod raw_body;

use bytes::Bytes;
use rmcp::model::ErrorCode;
use serde_json::{Map, Value};

pub use one_line::OneLine;
use raw_body::{RawBody, write_value};

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
    body: Body,
    /// Cached classification, so routing never re-inspects the message.
    kind: FrameKind,
    /// Size of the message when it was parsed: serialization reserves this much up front, so
    /// a large message is written without repeated reallocation.
    size_hint: usize,
}

/// How a frame holds its message.
#[derive(Debug, Clone)]
enum Body {
    /// The bytes as received, with the current id kept beside them.
    Raw(Box<RawBody>),
    /// An ordered tree: messages the proxy builds, changed ones, and pretty-printed input
    /// (compacted once, so that its serialization is single-line).
    Tree(Map<String, Value>),
}

impl PartialEq for Frame {
    /// Two frames are equal when they carry the same message.
    fn eq(&self, other: &Frame) -> bool {
        self.tree() == other.tree()
    }
}

impl Frame {
    /// A frame the proxy built itself.
    fn built(map: Map<String, Value>, kind: FrameKind) -> Frame {
        Frame {
            body: Body::Tree(map),
            kind,
            size_hint: SMALL_MESSAGE,
        }
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
        Frame::built(map, FrameKind::Error)
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
        Frame::built(map, FrameKind::Request)
    }

    /// Builds a successful answer the proxy sends on its own (to a server's `ping`).
    pub fn response(id: Value, result: Value) -> Frame {
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        map.insert("id".into(), id);
        map.insert("result".into(), result);
        Frame::built(map, FrameKind::Response)
    }

    /// Builds a notification the proxy sends on its own (cancellation, replayed `initialized`).
    pub fn notification(method: &str, params: Option<Value>) -> Frame {
        let mut map = Map::new();
        map.insert("jsonrpc".into(), Value::from("2.0"));
        map.insert("method".into(), Value::from(method));
        if let Some(params) = params {
            map.insert("params".into(), params);
        }
        Frame::built(map, FrameKind::Notification)
    }

    /// The whole message as a tree (built on first use for a parsed frame).
    fn tree(&self) -> &Map<String, Value> {
        match &self.body {
            Body::Raw(raw) => raw.tree(),
            Body::Tree(map) => map,
        }
    }

    /// The tree, to change: from now on the frame is serialized from it.
    fn tree_mut(&mut self) -> &mut Map<String, Value> {
        if let Body::Raw(_) = &self.body {
            let map = match std::mem::replace(&mut self.body, Body::Tree(Map::new())) {
                Body::Raw(raw) => raw.into_tree(),
                Body::Tree(map) => map,
            };
            self.body = Body::Tree(map);
        }
        match &mut self.body {
            Body::Tree(map) => map,
            Body::Raw(_) => unreachable!("the body was made a tree just above"),
        }
    }

    /// The `result` of a response, to patch in place (the modern leg's translation).
    pub fn result_mut(&mut self) -> Option<&mut Value> {
        self.tree_mut().get_mut("result")
    }

    /// The `error` of an error response, to patch in place.
    pub fn error_mut(&mut self) -> Option<&mut Value> {
        self.tree_mut().get_mut("error")
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
        match &self.body {
            Body::Raw(raw) => raw.method.as_ref().and_then(Value::as_str),
            Body::Tree(map) => map.get("method").and_then(Value::as_str),
        }
    }

    /// `id`, for requests and responses.
    pub fn id(&self) -> Option<&Value> {
        match &self.body {
            Body::Raw(raw) => raw.id.as_ref().map(|(id, _)| id),
            Body::Tree(map) => map.get("id"),
        }
    }

    /// Replaces `id` in place (keeping its position) and returns the old one.
    pub fn replace_id(&mut self, id: Value) -> Option<Value> {
        if let Body::Raw(raw) = &mut self.body
            && let Some((current, _)) = &mut raw.id
        {
            if let Some(tree) = raw.tree.get_mut() {
                tree.insert("id".into(), id.clone());
            }
            raw.id_replaced = true;
            return Some(std::mem::replace(current, id));
        }
        // No id in the bytes to splice over: the id joins the tree, last.
        self.tree_mut().insert("id".into(), id)
    }

    /// `params`, if any.
    pub fn params(&self) -> Option<&Value> {
        self.tree().get("params")
    }

    /// Mutable `params`, for the one field the proxy translates (`requestId` of a cancellation).
    pub fn params_mut(&mut self) -> Option<&mut Value> {
        self.tree_mut().get_mut("params")
    }

    /// `result`, for responses.
    pub fn result(&self) -> Option<&Value> {
        self.tree().get("result")
    }

    /// `error`, for error responses.
    pub fn error(&self) -> Option<&Value> {
        self.tree().get("error")
    }

    /// `params._meta.progressToken`, which ties progress notifications to this request.
    pub fn progress_token(&self) -> Option<&Value> {
        match &self.body {
            Body::Raw(raw) => raw.progress_token(),
            Body::Tree(map) => map.get("params")?.get("_meta")?.get("progressToken"),
        }
    }

    /// The frame as one run of bytes: a JSON body the proxy answers with itself, a message the
    /// modern leg parses again. (What the stdin queue and client streams carry is
    /// [`Frame::to_one_line`], which a large message reaches without a copy.)
    pub fn to_bytes(&self) -> Bytes {
        self.to_one_line().into_bytes()
    }

    /// The frame's serialization, typed as free of raw line breaks: what the stdin queue and
    /// client streams carry. A large parsed frame whose id was replaced comes as pieces around
    /// the new id, which writers write one after another (see [`OneLine`]).
    pub fn to_one_line(&self) -> OneLine {
        match &self.body {
            // The stored bytes are single-line and the spliced id is compact JSON.
            Body::Raw(raw) => raw.to_one_line(),
            Body::Tree(map) => OneLine::compact(self.serialize_tree(map, false)),
        }
    }

    /// Serializes the frame followed by `\n`, the framing of the stdio transport, as one run
    /// of bytes (for a writer of its own, like the era probe's; the stdin writer adds the
    /// newline as a slice of its own instead).
    pub fn to_line(&self) -> Bytes {
        match &self.body {
            Body::Raw(raw) => raw.serialize(true),
            Body::Tree(map) => Bytes::from(self.serialize_tree(map, true)),
        }
    }

    fn serialize_tree(&self, map: &Map<String, Value>, newline: bool) -> Vec<u8> {
        // Room for the message as parsed plus a rewritten id and the newline.
        let mut out = Vec::with_capacity(self.size_hint + 32);
        write_value(&mut out, map);
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
mod tests;

#[cfg(test)]
mod proptests;
