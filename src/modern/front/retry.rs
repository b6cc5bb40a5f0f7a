//! The retry of a call answered with an `InputRequiredResult`: the same method and params, a
//! new JSON-RPC id, the client's `inputResponses` and the echoed `requestState`. The state is
//! opened (seal, boot, expiry, binding to the method, name and arguments); a translated call
//! is taken back from its parking (once), the answered questions go to the child, questions
//! left unanswered are asked again, and the call goes on under the retry's id. A passthrough
//! child's own state is unwrapped and the retry goes back to that child. A state another
//! instance issued (`--instance-id`) means the load balancer misrouted the retry: it is
//! refused naming that instance, logged and counted like a misrouted session request.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::ModernFront;
use super::forward::Outgoing;
use crate::frame::Frame;
use crate::modern::ladder::ModernCall as Admitted;
use crate::modern::parked::Resumed;
use crate::modern::request_state::{Binding, StateError, StateKind, unix_ms_now};
use crate::modern::respond::{Parking, json as json_response, refuse, respond};
use crate::session_id::SessionId;

/// JSON-RPC "Invalid params": how a bad `requestState` is refused.
const INVALID_PARAMS: i64 = -32602;

/// What the retry's state said.
pub(super) enum Retry {
    /// Not a retry (no `requestState`): the request, untouched.
    Fresh(Frame, Admitted),
    /// Answered already (refused, or the resumed call's answer).
    Answered(Response),
    /// A passthrough retry: send it, state unwrapped, on this child's lease.
    ToChild(Outgoing),
}

impl ModernFront {
    /// Handles `requestState` on a request, if it has one.
    pub(super) async fn retry(&self, mut frame: Frame, call: Admitted, client_id: Value) -> Retry {
        let Some(token) = frame
            .params()
            .and_then(|params| params.get("requestState"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Retry::Fresh(frame, call);
        };
        let binding = Binding::of(&call.method, frame.params());
        let opened = self.0.parked.sealer().open(&token, &binding, unix_ms_now());
        let kind = match opened {
            Ok(kind) => kind,
            Err(err) => {
                if let Some(issuer) = err.issuer() {
                    self.misrouted_retry(issuer.as_str(), &call.method);
                }
                return Retry::Answered(invalid_state(
                    client_id,
                    &err.to_string(),
                    refusal_data(&err),
                ));
            }
        };
        match kind {
            StateKind::Parked { parked } => {
                let Some(resumed) = self.0.parked.resume(parked) else {
                    return Retry::Answered(invalid_state(
                        client_id,
                        "this requestState was used already, or its call expired (--modern-input-ttl); start the call again without requestState",
                        json!({ "reason": "used or expired" }),
                    ));
                };
                let responses = frame
                    .params()
                    .and_then(|params| params.get("inputResponses"))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                Retry::Answered(
                    self.resume(resumed, responses, call, client_id, binding)
                        .await,
                )
            }
            StateKind::Child {
                child,
                generation,
                state,
            } => {
                let gone = || {
                    Retry::Answered(invalid_state(
                        client_id.clone(),
                        "the MCP server process holding this requestState is gone (restarted or retired); start the call again without requestState",
                        json!({ "reason": "server restarted" }),
                    ))
                };
                let Some(lease) = self
                    .0
                    .passthrough
                    .lease_child(&SessionId::from_header(&child))
                else {
                    return gone();
                };
                if lease.child().entry.stats.generation() != generation {
                    return gone();
                }
                if let Some(params) = frame.params_mut().and_then(Value::as_object_mut) {
                    params.insert("requestState".into(), Value::from(state));
                }
                Retry::ToChild(Outgoing {
                    lease,
                    frame,
                    call,
                    client_id,
                    translate: false,
                    exclusive: false,
                    listen: None,
                })
            }
        }
    }

    /// A retry whose state `issuer` sealed reached this instance: the balancer's mistake, made
    /// visible as for a session id of another instance (`src/http/misroute.rs`).
    fn misrouted_retry(&self, issuer: &str, method: &str) {
        self.0.metrics.misrouted();
        let own = self.0.config.instance_id();
        tracing::warn!(
            state_instance = issuer,
            instance = own.map(|name| name.as_str()),
            method,
            "misrouted request: a modern retry's requestState belongs to instance {issuer:?}, not to this one; answered 400 (route requests on the requestState prefix: see the README, Running several instances)"
        );
    }

    /// A parked call's retry: answers go to the child; what is still unanswered is asked
    /// again; else the call goes on and its answer answers the retry.
    async fn resume(
        &self,
        resumed: Resumed,
        mut responses: Map<String, Value>,
        call: Admitted,
        client_id: Value,
        binding: Binding,
    ) -> Response {
        let Resumed {
            call: mut call_state,
            asks,
        } = resumed;
        let (answered, unanswered): (Vec<_>, Vec<_>) = asks
            .into_iter()
            .partition(|ask| responses.contains_key(&ask.key));
        let answers = answered
            .into_iter()
            .filter_map(|ask| responses.remove(&ask.key).map(|result| (ask, result)))
            .collect();
        call_state.resume(client_id.clone(), call.progress_token, answers);
        if !unanswered.is_empty() {
            // A retry missing answers is asked again (the specification's SHOULD).
            return match self.0.parked.park(call_state, unanswered, &binding) {
                Some(answer) => json_response(StatusCode::OK, answer),
                None => refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    client_id,
                    crate::frame::INTERNAL_ERROR,
                    "too many calls are waiting for their clients' answers; retry shortly",
                ),
            };
        }
        let parking = Parking {
            parked: self.0.parked.clone(),
            binding,
        };
        respond(call_state, self.delivery(Some(parking)), client_id).await
    }
}

/// `error.data` of a refused state: the reason, and the instance that issued the state when
/// the retry reached another one.
fn refusal_data(err: &StateError) -> Value {
    match err.issuer() {
        Some(issuer) => json!({ "reason": err.reason(), "instance": issuer.as_str() }),
        None => json!({ "reason": err.reason() }),
    }
}

/// 400 `-32602` for a `requestState` the proxy cannot honour, with the reason in `data`.
fn invalid_state(id: Value, message: &str, data: Value) -> Response {
    let body = Frame::error_response(id, INVALID_PARAMS, message, Some(data));
    json_response(StatusCode::BAD_REQUEST, body.to_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::refusal_data;
    use crate::modern::request_state::StateError;
    use crate::session_id::InstanceId;

    #[test]
    fn a_state_of_another_instance_is_refused_naming_it() {
        let issuer = InstanceId::parse("proxy-2").expect("a valid name");
        assert_eq!(
            refusal_data(&StateError::AnotherInstance(issuer)),
            json!({"reason": "another instance", "instance": "proxy-2"})
        );
    }

    #[test]
    fn other_refusals_carry_only_their_reason() {
        assert_eq!(
            refusal_data(&StateError::OtherBoot),
            json!({"reason": "proxy restarted"})
        );
        assert_eq!(
            refusal_data(&StateError::Tampered),
            json!({"reason": "tampered"})
        );
    }
}
