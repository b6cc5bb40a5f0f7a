//! How a session ends, whatever the reason (idle, restart give-up, failed start, a client gone
//! before its `initialize` answer, drain): the moment it begins to end it is unreachable (its
//! published `closing` flag turns every request into 404, and the router unlists it), every
//! client waiting on it gets its error, and only then is the child stopped. The router keeps
//! counting it against `--max-sessions` until its child is reaped.

use ractor::ActorRef;
use serde_json::json;

use super::failure::ProxyError;
use super::{Phase, SessionMsg, SessionState};
use crate::frame::SERVER_ERROR;
use crate::metrics::FailReason;
use crate::protocol::{CloseReason, RouterMsg};

impl SessionState {
    /// Begins to end the session for `reason`; the actor stops, and `post_stop` stops the child.
    pub(super) fn close(&mut self, myself: &ActorRef<SessionMsg>, reason: CloseReason) {
        if self.closing.is_some() {
            return;
        }
        self.closing = Some(reason);
        self.stats.mark_closing(reason);
        let _ = self.router.cast(RouterMsg::Closing {
            actor: myself.get_id(),
            reason,
        });
        self.fail_everything();
        myself.stop(None);
    }

    /// Answers everything a client still waits for, and ends the GET stream.
    pub(super) fn fail_everything(&mut self) {
        let reason = if self.draining || self.closing == Some(CloseReason::Shutdown) {
            FailReason::Shutdown
        } else {
            FailReason::SessionClosed
        };
        let error = ProxyError::new(SERVER_ERROR, "the MCP session was closed", reason)
            .with_data(json!({ "reason": "session closed" }));
        self.fail_all_in_flight(&error);
        self.expire_queue(true);
        self.standalone = None;
    }

    /// The client that sent `initialize` went away before the answer.
    pub(super) fn on_initialize_abandoned(&mut self, myself: &ActorRef<SessionMsg>) {
        if matches!(
            self.phase,
            Phase::AwaitingInitialize | Phase::Initializing(_)
        ) {
            tracing::info!(parent: &self.span, "the client went away before the answer to initialize; ending the session and stopping its MCP server");
            self.close(myself, CloseReason::Abandoned);
        }
    }

    /// While draining, ends the session once nothing is in flight.
    pub(super) fn stop_if_drained(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.draining && self.requests.is_empty() && !self.has_queue() {
            self.close(myself, CloseReason::Shutdown);
        }
    }
}
