//! Parsing: bytes (or a tree) to a [`Frame`]. The envelope is found by the byte scan
//! (`byte_scan.rs`); what that scan leaves to it, the `serde_json` scan (`envelope.rs`) decides,
//! and what neither keeps as bytes (pretty-printed objects, duplicated routed members, surrogate
//! escapes, deep nesting, non-objects) becomes a tree.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::byte_scan::{self, Scanned};
use super::envelope;
use super::raw_body::RawBody;
use super::{Body, Frame, FrameError, FrameKind, OneLine};

/// JSON's insignificant whitespace.
fn is_json_whitespace(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Classifies a message from the members that decide its kind.
fn classify(
    jsonrpc: Option<&Value>,
    method: Option<&Value>,
    id: Option<&Value>,
    has_result: bool,
    has_error: bool,
) -> Result<FrameKind, FrameError> {
    if jsonrpc.and_then(Value::as_str) != Some("2.0") {
        return Err(FrameError::Invalid("\"jsonrpc\" must be \"2.0\""));
    }
    let id_ok = |id: &Value| matches!(id, Value::String(_) | Value::Number(_));
    match (method, id) {
        (Some(Value::String(_)), Some(id)) if id_ok(id) => Ok(FrameKind::Request),
        (Some(Value::String(_)), Some(_)) => Err(FrameError::Invalid(
            "a request id must be a string or a number",
        )),
        (Some(Value::String(_)), None) => Ok(FrameKind::Notification),
        (Some(_), _) => Err(FrameError::Invalid("\"method\" must be a string")),
        (None, Some(_)) if has_result => Ok(FrameKind::Response),
        (None, Some(_)) if has_error => Ok(FrameKind::Error),
        _ => Err(FrameError::Invalid(
            "not a JSON-RPC request, notification or response",
        )),
    }
}

impl Frame {
    /// Parses one message from borrowed bytes, which it copies (a stdout line repaired from
    /// invalid UTF-8, the era probe's lines; POST bodies and stdout lines are handed over to
    /// [`Frame::parse_bytes`]).
    pub fn parse(bytes: &[u8]) -> Result<Frame, FrameError> {
        Frame::parse_bytes(Bytes::copy_from_slice(bytes))
    }

    /// Parses one message, keeping `bytes` (without copying) as the message to forward.
    pub fn parse_bytes(bytes: Bytes) -> Result<Frame, FrameError> {
        let start = bytes
            .iter()
            .position(|byte| !is_json_whitespace(byte))
            .unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|byte| !is_json_whitespace(byte))
            .map_or(start, |last| last + 1);
        let object = bytes.slice(start..end);
        if object.first() != Some(&b'{') {
            return Frame::parse_tree(&bytes);
        }
        let object = match OneLine::check(object) {
            Ok(object) => object,
            Err(_pretty) => return Frame::parse_tree(&bytes),
        };
        let envelope = match byte_scan::scan(object.as_bytes()) {
            Scanned::Envelope(envelope) => envelope,
            Scanned::NeedsTree => return Frame::parse_tree(&bytes),
            // The reference scan decides what the byte scan did not accept, and words the
            // error exactly as `serde_json` does.
            Scanned::Unsure => {
                if envelope::needs_tree(object.as_bytes()) {
                    return Frame::parse_tree(&bytes);
                }
                envelope::scan(object.as_bytes())
                    .map_err(|err| FrameError::Parse(err.to_string()))?
            }
        };
        if envelope.duplicate {
            return Frame::parse_tree(&bytes);
        }
        let kind = classify(
            envelope.jsonrpc.as_ref(),
            envelope.method.as_ref(),
            envelope.id.as_ref().map(|(id, _)| id),
            envelope.has_result,
            envelope.has_error,
        )?;
        Ok(Frame {
            kind,
            size_hint: bytes.len(),
            body: Body::Raw(Box::new(RawBody::new(object, envelope))),
        })
    }

    /// Parses `bytes` into a tree: the path for what the envelope scan does not keep as bytes
    /// (pretty-printed objects, duplicated routed members) and for what is not an object.
    fn parse_tree(bytes: &[u8]) -> Result<Frame, FrameError> {
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
        let kind = classify(
            map.get("jsonrpc"),
            map.get("method"),
            map.get("id"),
            map.contains_key("result"),
            map.contains_key("error"),
        )?;
        Ok(Frame::built(map, kind))
    }
}
