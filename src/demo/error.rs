//! JSON-RPC error values: the `code` / `message` / `data` triple that every
//! failed request is answered with, and the error codes the demo server uses.

use serde_json::{Map, Value, json};

/// The line was not valid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON value was not a JSON-RPC 2.0 message.
pub const INVALID_REQUEST: i64 = -32600;
/// The request method is not implemented.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The request parameters or tool arguments are wrong.
pub const INVALID_PARAMS: i64 = -32602;
/// Something went wrong inside the demo server itself.
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: the requested resource does not exist.
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// A request the demo server sent to the client was cancelled by the client.
pub const REQUEST_CANCELLED: i64 = -32800;
/// MCP 2026-07-28: the request needs a client capability its envelope did not declare.
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
/// MCP 2026-07-28: the requested protocol version is not served here.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("JSON-RPC error {code}: {message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// Omitted from the wire form when `None`.
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// `-32700` for a line that is not JSON; the parser's complaint goes in `data.detail`.
    pub fn parse_error(cause: &serde_json::Error) -> Self {
        Self::new(PARSE_ERROR, "Parse error").with_data(json!({ "detail": cause.to_string() }))
    }

    /// `-32600` for a JSON value that is not a JSON-RPC message; `reason` goes in `data.detail`.
    pub fn invalid_request(reason: &str) -> Self {
        Self::new(INVALID_REQUEST, "Invalid Request").with_data(json!({ "detail": reason }))
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("Method not found: {method}"))
            .with_data(json!({ "method": method }))
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    pub fn resource_not_found(uri: &str) -> Self {
        Self::new(RESOURCE_NOT_FOUND, "Resource not found").with_data(json!({ "uri": uri }))
    }

    pub fn request_cancelled() -> Self {
        Self::new(REQUEST_CANCELLED, "request cancelled")
    }

    /// Takes over the `error` member of a response the client sent, keeping its
    /// code, message and data exactly. An error object without an integer
    /// `code` and a string `message` becomes an internal error carrying the
    /// malformed object as `data`.
    pub fn from_client(error: Value) -> Self {
        let code = error.get("code").and_then(Value::as_i64);
        let message = error.get("message").and_then(Value::as_str);
        match (code, message) {
            (Some(code), Some(message)) => Self {
                code,
                message: message.to_owned(),
                data: error.get("data").cloned(),
            },
            _ => Self::internal("client answered with a malformed error object").with_data(error),
        }
    }

    /// The wire form: `{"code": …, "message": …, "data"?: …}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("code".to_owned(), json!(self.code));
        object.insert("message".to_owned(), json!(self.message));
        if let Some(data) = &self.data {
            object.insert("data".to_owned(), data.clone());
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_omits_absent_data() {
        assert_eq!(
            RpcError::new(-1, "boom").to_json(),
            json!({"code": -1, "message": "boom"})
        );
        assert_eq!(
            RpcError::new(-1, "boom").with_data(Value::Null).to_json(),
            json!({"code": -1, "message": "boom", "data": null})
        );
    }

    #[test]
    fn method_not_found_names_the_method_in_message_and_data() {
        assert_eq!(
            RpcError::method_not_found("x/y").to_json(),
            json!({"code": -32601, "message": "Method not found: x/y", "data": {"method": "x/y"}})
        );
    }

    #[test]
    fn client_errors_are_kept_verbatim() {
        let error = RpcError::from_client(json!({"code": -1, "message": "no", "data": [1]}));
        assert_eq!(error, RpcError::new(-1, "no").with_data(json!([1])));
        let error = RpcError::from_client(json!({"code": 7, "message": "m"}));
        assert_eq!(error.data, None);
    }

    #[test]
    fn malformed_client_errors_become_internal_errors() {
        let error = RpcError::from_client(json!({"message": "no code"}));
        assert_eq!(error.code, INTERNAL_ERROR);
        assert_eq!(error.data, Some(json!({"message": "no code"})));
    }
}
