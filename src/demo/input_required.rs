//! Multi-round-trip requests (MRTR) on a modern-pinned process. A 2026-07-28 server must not
//! send requests to the client, so a tool that needs the client answers
//! `{"resultType":"input_required","inputRequests":{<key>:{method,params}},"requestState":…}`;
//! the client fulfils the request and retries the same call with a new id, adding
//! `inputResponses:{<key>: result}` and echoing `requestState`.
//!
//! The demo keeps nothing between rounds: its `requestState` is the base64url of the JSON
//! `{"tool": <name>, "arguments": <arguments>}`, and the retry's own `inputResponses` hold the
//! answer. The token is **not sealed**: anyone can forge one. It is checked only against the
//! call being retried, so that a proxy that loses, alters or misroutes it is caught
//! (`-32602 Invalid or expired requestState`); a real server must seal it (HMAC or AEAD) and
//! bind it to the principal with a short lifetime.

use serde_json::{Value, json};

use super::error::RpcError;
use super::request::{RequestContext, json_text};
use crate::base64url;

/// Where a `tools/call` stands in its rounds.
#[derive(Debug, Clone, PartialEq)]
pub enum Round {
    /// The retry carries the client's result for the request: the tool can finish.
    Answered(Value),
    /// The `input_required` result asking the client for it (again).
    Ask(Value),
}

/// Finds the client's answer to the `method` request this `tools/call` needs, or builds the
/// result asking for it. The input request's key is `method` itself (one request per tool). A
/// retry whose `inputResponses` lacks the key is asked again, as the spec recommends.
pub fn resume(
    request: &RequestContext,
    method: &str,
    params: Option<Value>,
) -> Result<Round, RpcError> {
    let call = request.params_or_null();
    let expected_state = call_state(call);
    let responses = call.get("inputResponses");
    match call.get("requestState") {
        None if responses.is_some() => Err(RpcError::invalid_params(
            "inputResponses came without the requestState that asked for them",
        )),
        Some(token) if !token_matches(token, &expected_state) => {
            Err(RpcError::invalid_params("Invalid or expired requestState"))
        }
        _ => match responses.and_then(|responses| responses.get(method)) {
            Some(response) => Ok(Round::Answered(response.clone())),
            None => Ok(Round::Ask(ask(method, params, &expected_state)?)),
        },
    }
}

/// What the demo's `requestState` encodes for a `tools/call`: the tool and its arguments
/// (absent and `null` arguments count as `{}`, as the tools read them).
fn call_state(call: &Value) -> Value {
    let arguments = match call.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(arguments) => arguments.clone(),
    };
    json!({ "tool": call.get("name").cloned().unwrap_or(Value::Null), "arguments": arguments })
}

/// Whether an echoed token decodes to the state of the call being retried. It is compared as
/// JSON, so a proxy may re-serialize the arguments (key order, spacing) of the retried call.
fn token_matches(token: &Value, expected_state: &Value) -> bool {
    token
        .as_str()
        .and_then(base64url::decode)
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|state| state == *expected_state)
}

fn ask(method: &str, params: Option<Value>, state: &Value) -> Result<Value, RpcError> {
    let mut input_request = json!({ "method": method });
    if let (Some(params), Value::Object(object)) = (params, &mut input_request) {
        object.insert("params".to_owned(), params);
    }
    Ok(json!({
        "resultType": "input_required",
        "inputRequests": { method: input_request },
        "requestState": base64url::encode(json_text(state)?.as_bytes()),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::error::INVALID_PARAMS;
    use super::*;

    fn retry(params: Value) -> RequestContext {
        RequestContext {
            id: json!(1),
            method: "tools/call".into(),
            params: Some(params),
            received_index: 0,
            envelope: None,
        }
    }

    fn token(state: &str) -> String {
        base64url::encode(state.as_bytes())
    }

    #[test]
    fn the_first_round_asks_with_a_readable_state() {
        let first = retry(json!({ "name": "roots", "arguments": null }));
        assert_eq!(
            resume(&first, "roots/list", None),
            Ok(Round::Ask(json!({
                "resultType": "input_required",
                "inputRequests": { "roots/list": { "method": "roots/list" } },
                "requestState": token(r#"{"tool":"roots","arguments":{}}"#),
            })))
        );
        let first = retry(json!({ "name": "elicit", "arguments": { "message": "m" } }));
        let Ok(Round::Ask(asked)) = resume(&first, "elicitation/create", Some(json!({ "k": 1 })))
        else {
            panic!("asks");
        };
        assert_eq!(
            asked["inputRequests"]["elicitation/create"],
            json!({ "method": "elicitation/create", "params": { "k": 1 } })
        );
        assert_eq!(
            asked["requestState"],
            json!(token(r#"{"tool":"elicit","arguments":{"message":"m"}}"#))
        );
    }

    #[test]
    fn a_retry_with_the_answer_and_its_state_finishes() {
        let state = token(r#"{ "arguments": { "message": "m" }, "tool": "elicit" }"#);
        let second = retry(json!({
            "name": "elicit", "arguments": { "message": "m" }, "requestState": state,
            "inputResponses": { "elicitation/create": { "action": "decline" } },
        }));
        assert_eq!(
            resume(&second, "elicitation/create", None),
            Ok(Round::Answered(json!({ "action": "decline" })))
        );
    }

    #[test]
    fn a_retry_without_the_answer_is_asked_again() {
        let state = token(r#"{"tool":"roots","arguments":{}}"#);
        let second = retry(json!({ "name": "roots", "requestState": state, "inputResponses": {} }));
        let Ok(Round::Ask(asked)) = resume(&second, "roots/list", None) else {
            panic!("asks again");
        };
        assert_eq!(asked["requestState"], json!(state));
    }

    #[test]
    fn a_state_of_another_call_or_none_at_all_is_refused() {
        let refused = |params: Value| {
            resume(&retry(params), "roots/list", None).map_err(|error| (error.code, error.message))
        };
        let answers = json!({ "roots/list": { "roots": [] } });
        let invalid = Err((INVALID_PARAMS, "Invalid or expired requestState".to_owned()));
        let other_tool = token(r#"{"tool":"sample","arguments":{}}"#);
        assert_eq!(
            refused(
                json!({ "name": "roots", "requestState": other_tool, "inputResponses": answers })
            ),
            invalid
        );
        let other_arguments = token(r#"{"tool":"roots","arguments":{"x":1}}"#);
        assert_eq!(
            refused(
                json!({ "name": "roots", "requestState": other_arguments, "inputResponses": answers })
            ),
            invalid
        );
        for garbage in [json!("not base64!"), json!(token("not json")), json!(7)] {
            assert_eq!(
                refused(json!({ "name": "roots", "requestState": garbage })),
                invalid
            );
        }
        assert_eq!(
            refused(json!({ "name": "roots", "inputResponses": answers })),
            Err((
                INVALID_PARAMS,
                "inputResponses came without the requestState that asked for them".to_owned()
            ))
        );
    }
}
