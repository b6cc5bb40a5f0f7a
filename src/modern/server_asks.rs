//! What a pooled child asks its client mid-call (elicitation, sampling, roots) and how the
//! modern leg answers: a 2026-07-28 client cannot be sent requests, so a question the caller
//! declared it can answer becomes part of an `InputRequiredResult` (an [`Ask`]); one it did not
//! declare is refused with `-32021`; and a child asking outside an interactive request gets the
//! proxy's own answer (`ping`, `roots/list` from `--roots`) or an error.

use serde_json::{Map, Value, json};

use crate::frame::Frame;

/// JSON-RPC "Missing required client capability" (2026-07-28).
pub const MISSING_CAPABILITY: i64 = -32021;
/// JSON-RPC "Method not found".
const METHOD_NOT_FOUND: i64 = -32601;

/// Server→client requests a 2026-07-28 client answers through `inputResponses`.
pub const ASKABLE: [&str; 3] = ["elicitation/create", "sampling/createMessage", "roots/list"];

/// Methods whose result may be an `InputRequiredResult`.
pub const MAY_ASK: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

/// One question of the child waiting for the client's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// The key in `inputRequests` and `inputResponses`.
    pub key: String,
    /// The id the session gave the child's request (its answer goes back under it).
    pub proxy_id: Value,
    pub method: String,
    /// As the child sent them, minus fields 2026-07-28 does not have.
    pub params: Value,
}

impl Ask {
    /// The question of `request` (a server→client request of the child).
    pub fn of(request: &Frame) -> Option<Ask> {
        let proxy_id = request.id()?.clone();
        let method = request.method()?.to_owned();
        let mut params = request.params().cloned().unwrap_or_else(|| json!({}));
        if let Some(fields) = params.as_object_mut() {
            // 2025-only: URL elicitation's completion id and task augmentation.
            fields.shift_remove("elicitationId");
            fields.shift_remove("task");
        }
        let id_text = match &proxy_id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Some(Ask {
            key: format!("{method}#{id_text}"),
            proxy_id,
            method,
            params,
        })
    }

    /// Its entry in `inputRequests`.
    pub fn request_value(&self) -> Value {
        json!({ "method": self.method, "params": self.params })
    }

    /// The child's answer when the client never gave one (the parked call expired):
    /// elicitation is cancelled as a user would, anything else is an error.
    pub fn unanswered(&self) -> Frame {
        if self.method == "elicitation/create" {
            Frame::response(self.proxy_id.clone(), json!({ "action": "cancel" }))
        } else {
            Frame::error_response(
                self.proxy_id.clone(),
                crate::frame::INTERNAL_ERROR,
                "the client did not answer in time (hyper-mcp-proxy --modern-input-ttl)",
                None,
            )
        }
    }
}

/// The capabilities `request` needs that `declared` lacks, as a `ClientCapabilities` object, or
/// `None` if the caller declared what it takes to answer.
pub fn missing_capability(request: &Frame, declared: &Value) -> Option<Value> {
    let has = |name: &str| declared.get(name).is_some_and(|value| !value.is_null());
    match request.method()? {
        "elicitation/create" => {
            let url_mode = request
                .params()
                .and_then(|params| params.get("mode"))
                .and_then(Value::as_str)
                == Some("url");
            let elicitation = declared.get("elicitation");
            let ok = if url_mode {
                elicitation.is_some_and(|e| e.get("url").is_some())
            } else {
                // A bare `elicitation: {}` means form support (as the SDKs read it).
                elicitation.is_some_and(|e| {
                    e.get("form").is_some() || e.as_object().is_some_and(Map::is_empty)
                })
            };
            let wanted = if url_mode {
                json!({ "elicitation": { "url": {} } })
            } else {
                json!({ "elicitation": { "form": {} } })
            };
            (!ok).then_some(wanted)
        }
        "sampling/createMessage" => (!has("sampling")).then(|| json!({ "sampling": {} })),
        "roots/list" => (!has("roots")).then(|| json!({ "roots": {} })),
        _ => None,
    }
}

/// The error a caller gets for a question it did not declare it could answer.
pub fn missing_capability_error(id: Value, method: &str, required: Value) -> Frame {
    Frame::error_response(
        id,
        MISSING_CAPABILITY,
        &format!(
            "the server asked {method}, which this request did not declare in io.modelcontextprotocol/clientCapabilities; declare it and retry"
        ),
        Some(json!({ "requiredCapabilities": required })),
    )
}

/// The proxy's own answer to a child's request that no client can answer here.
pub fn proxy_answer(request: &Frame, roots: &[String]) -> Option<Frame> {
    let id = request.id()?.clone();
    let method = request.method().unwrap_or_default();
    Some(match method {
        "ping" => Frame::response(id, json!({})),
        "roots/list" => {
            let roots: Vec<Value> = roots.iter().map(|uri| json!({ "uri": uri })).collect();
            Frame::response(id, json!({ "roots": roots }))
        }
        _ => Frame::error_response(
            id,
            METHOD_NOT_FOUND,
            &format!(
                "{method} is not available: the client reached this server through hyper-mcp-proxy's modern leg and did not declare it can answer it in this request"
            ),
            None,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, params: Value) -> Frame {
        Frame::request(json!(7), method, Some(params))
    }

    #[test]
    fn an_ask_keeps_params_minus_2025_fields() {
        let ask = Ask::of(&request(
            "elicitation/create",
            json!({"mode": "url", "message": "m", "url": "https://x", "elicitationId": "e1", "task": {}}),
        ))
        .unwrap();
        assert_eq!(ask.key, "elicitation/create#7");
        assert_eq!(ask.proxy_id, json!(7));
        assert_eq!(
            ask.request_value(),
            json!({"method": "elicitation/create", "params": {"mode": "url", "message": "m", "url": "https://x"}})
        );
    }

    #[test]
    fn unanswered_elicitation_is_cancelled_and_others_fail() {
        let elicit = Ask::of(&request("elicitation/create", json!({}))).unwrap();
        assert_eq!(
            elicit.unanswered().to_bytes(),
            Frame::response(json!(7), json!({"action": "cancel"})).to_bytes()
        );
        let sample = Ask::of(&request("sampling/createMessage", json!({}))).unwrap();
        assert_eq!(sample.unanswered().error().unwrap()["code"], json!(-32603));
    }

    #[test]
    fn missing_capabilities_name_what_is_needed() {
        let form = request("elicitation/create", json!({"message": "m"}));
        let url = request("elicitation/create", json!({"mode": "url"}));
        let sample = request("sampling/createMessage", json!({}));
        let roots = request("roots/list", json!({}));
        assert_eq!(missing_capability(&form, &json!({"elicitation": {}})), None);
        assert_eq!(
            missing_capability(&form, &json!({"elicitation": {"form": {}}})),
            None
        );
        assert_eq!(
            missing_capability(&url, &json!({"elicitation": {"form": {}}})),
            Some(json!({"elicitation": {"url": {}}}))
        );
        assert_eq!(
            missing_capability(&form, &json!({})),
            Some(json!({"elicitation": {"form": {}}}))
        );
        assert_eq!(missing_capability(&sample, &json!({"sampling": {}})), None);
        assert_eq!(
            missing_capability(&sample, &json!({"roots": {}})),
            Some(json!({"sampling": {}}))
        );
        assert_eq!(
            missing_capability(&roots, &json!({"roots": null})),
            Some(json!({"roots": {}}))
        );
    }

    #[test]
    fn the_proxy_answers_ping_and_roots_and_refuses_the_rest() {
        let roots = vec!["file:///a".to_owned()];
        assert_eq!(
            proxy_answer(&request("roots/list", json!({})), &roots)
                .unwrap()
                .result(),
            Some(&json!({"roots": [{"uri": "file:///a"}]}))
        );
        assert_eq!(
            proxy_answer(&request("ping", json!({})), &[])
                .unwrap()
                .result(),
            Some(&json!({}))
        );
        let refused = proxy_answer(&request("sampling/createMessage", json!({})), &[]).unwrap();
        assert_eq!(refused.error().unwrap()["code"], json!(-32601));
    }
}
