//! The retry of a call answered with an `InputRequiredResult`: the same method and params, a
//! new JSON-RPC id, the client's `inputResponses` and the echoed `requestState`. The state is
//! opened (seal, boot, expiry, binding to the method, name and arguments); a translated call
//! is taken back from its parking (once), the answered questions go to the child, questions
//! left unanswered are asked again, and the call goes on under the retry's id. A passthrough
//! child's own state is unwrapped and the retry goes back to that child.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::forward::Outgoing;
use super::{ModernFront, refuse};
use crate::frame::Frame;
use crate::modern::ladder::ModernCall as Admitted;
use crate::modern::parked::Resumed;
use crate::modern::request_state::{Binding, StateKind, unix_ms_now};
use crate::modern::respond::{Parking, json as json_response, respond};
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
                return Retry::Answered(invalid_state(client_id, &err.to_string(), err.reason()));
            }
        };
        match kind {
            StateKind::Parked { parked } => {
                let Some(resumed) = self.0.parked.resume(parked) else {
                    return Retry::Answered(invalid_state(
                        client_id,
                        "this requestState was used already, or its call expired (--modern-input-ttl); start the call again without requestState",
                        "used or expired",
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
                        "server restarted",
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

/// 400 `-32602` for a `requestState` the proxy cannot honour, with the reason in `data`.
fn invalid_state(id: Value, message: &str, reason: &str) -> Response {
    let body = Frame::error_response(
        id,
        INVALID_PARAMS,
        message,
        Some(json!({ "reason": reason })),
    );
    json_response(StatusCode::BAD_REQUEST, body.to_bytes())
}
