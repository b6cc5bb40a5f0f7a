//! What a demo handler is given (one client request, with its era) and what it gives back (a
//! result to write, or the note that it wrote its answer itself).

use serde_json::{Value, json};

use super::envelope::Envelope;
use super::error::RpcError;
use super::modern;

static NULL: Value = Value::Null;

/// One client request as a handler sees it.
pub struct RequestContext {
    pub id: Value,
    pub method: String,
    pub params: Option<Value>,
    /// Position of this request in the record of received messages.
    pub received_index: usize,
    /// The checked 2026-07-28 envelope on a modern-pinned process; `None` on a legacy one.
    pub envelope: Option<Envelope>,
}

impl RequestContext {
    /// The params, or `null` when absent (lookups on `null` find nothing).
    pub fn params_or_null(&self) -> &Value {
        self.params.as_ref().unwrap_or(&NULL)
    }

    /// `params._meta.progressToken`, if the client asked for progress.
    pub fn progress_token(&self) -> Option<&Value> {
        self.params_or_null().get("_meta")?.get("progressToken")
    }

    /// Whether this request is served in the 2026-07-28 era.
    pub fn is_modern(&self) -> bool {
        self.envelope.is_some()
    }

    /// `result` as this request's era answers it: unchanged for legacy, completed with
    /// `resultType` and the rest for modern. Only handlers that write their answer themselves
    /// need this; the modern dispatcher completes every other result.
    pub fn era_result(&self, result: Value) -> Value {
        if self.is_modern() {
            modern::complete_result(&self.method, result)
        } else {
            result
        }
    }
}

/// How a handler answered a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The result, for the serve loop to write.
    Result(Value),
    /// The handler wrote its answer to stdout itself (bytes no serializer would produce).
    Written,
}

/// `{"content":[{"type":"text","text": text}]}`
pub fn text_result(text: String) -> Value {
    json!({ "content": [{ "type": "text", "text": text }] })
}

/// A tool result that reports a failure of the tool itself (`isError`), not of the request.
pub fn tool_error_result(text: String) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": true })
}

/// `value` as compact JSON text.
pub fn json_text(value: &Value) -> Result<String, RpcError> {
    serde_json::to_string(value).map_err(|cause| RpcError::internal(cause.to_string()))
}
