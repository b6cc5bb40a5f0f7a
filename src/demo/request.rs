//! What a demo handler is given (one client request) and what it gives back (a result to
//! write, or the note that it wrote its answer itself).

use serde_json::{Value, json};

static NULL: Value = Value::Null;

/// One client request as a handler sees it.
pub struct RequestContext {
    pub id: Value,
    pub method: String,
    pub params: Option<Value>,
    /// Position of this request in the record of received messages.
    pub received_index: usize,
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
