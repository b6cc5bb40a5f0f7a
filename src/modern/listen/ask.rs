//! One request of the proxy's own (`resources/subscribe`, `resources/unsubscribe`) to a pooled
//! child, sent through its session like a client's: the session gives it an id of its own,
//! and its `HandshakeRecord` commits a subscription once the answer reaches the proxy, so a
//! restarted child gets it replayed.

use std::time::Duration;

use serde_json::{Value, json};

use crate::frame::{Frame, FrameKind};
use crate::modern::pooled_child::{PooledChild, answer_server_request, send_to_session};
use crate::protocol::SessionMsg;
use crate::stream::{Priming, StreamEnd, StreamSender};

/// Events queued on the answer stream of one such request.
const ANSWER_CAPACITY: usize = 8;

/// Why a request of the proxy's own got no successful answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AskError {
    #[error("the pooled MCP server session is busy (mailbox or byte budget full)")]
    Busy,
    #[error("the pooled MCP server session ended")]
    Ended,
    #[error("the MCP server answered with an error: {0}")]
    Refused(String),
    #[error("the MCP server did not answer within {0:?}")]
    TimedOut(Duration),
}

/// Sends `method` with `params` to `child` under `id` and waits up to `deadline` for its
/// result. A request of the child's that lands on the answer stream (the session routes the
/// child's requests to the only request in flight) is answered as any unrelated one is.
pub async fn ask(
    child: &PooledChild,
    id: Value,
    method: &str,
    params: Value,
    deadline: Duration,
) -> Result<Value, AskError> {
    let entry = &child.entry;
    let frame = Frame::request(id.clone(), method, Some(params));
    let (Some(permit), Ok(charge)) = (
        entry.inbox.try_reserve(),
        entry.budgets.to_child.try_charge(frame.size_hint()),
    ) else {
        return Err(AskError::Busy);
    };
    let (stream, mut rx) = StreamSender::open(entry.streams.next(), ANSWER_CAPACITY, Priming::None);
    entry
        .actor
        .cast(SessionMsg::Request {
            frame,
            stream,
            permit,
            charge,
        })
        .map_err(|_| AskError::Ended)?;
    let answer = tokio::time::timeout(deadline, async {
        while let Some(event) = rx.recv().await {
            let Ok(frame) = Frame::parse_bytes(event.payload.into_bytes()) else {
                continue;
            };
            let ours = frame.id() == Some(&id) || matches!(event.end, StreamEnd::Refused(_));
            match frame.kind() {
                FrameKind::Response if ours => {
                    return Ok(frame.result().cloned().unwrap_or(Value::Null));
                }
                FrameKind::Error if ours => {
                    let error = frame.error().map(Value::to_string).unwrap_or_default();
                    return Err(AskError::Refused(error));
                }
                FrameKind::Request => {
                    answer_server_request(entry, &frame, &child.span, &child.roots)
                }
                _ => {}
            }
        }
        Err(AskError::Ended)
    })
    .await;
    answer.unwrap_or_else(|_| {
        // The session forgets the request (and whatever it would have declared).
        let cancel = Frame::notification(
            "notifications/cancelled",
            Some(json!({ "requestId": id, "reason": "no answer in time" })),
        );
        send_to_session(entry, cancel);
        Err(AskError::TimedOut(deadline))
    })
}
