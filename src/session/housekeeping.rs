//! The session's housekeeping: timers (kept so they die with the session), the periodic tick,
//! idle expiry, and publishing its state for metrics.

use std::time::Duration;

use ractor::ActorRef;

use super::{BACKLOG_MAX_AGE, Phase, SessionMsg, SessionState};
use crate::protocol::{CloseReason, SessionTimer};
use crate::session_stats::SessionPhase;

impl SessionState {
    /// Publishes the session's state for metrics and `/sessions`.
    pub(super) fn publish(&self) {
        let phase = match self.phase {
            _ if self.draining => SessionPhase::Draining,
            Phase::AwaitingInitialize | Phase::Initializing(_) => SessionPhase::Starting,
            Phase::Ready => SessionPhase::Ready,
            Phase::Restarting | Phase::Replaying(_) => SessionPhase::Restarting,
        };
        self.stats.publish(
            phase,
            self.requests.len() + self.held(),
            self.standalone_attached(),
        );
    }

    /// Ends the session if its client sent nothing for `--session-idle-timeout`.
    pub(super) fn on_idle_check(&mut self, myself: &ActorRef<SessionMsg>) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        let busy = !self.requests.is_empty()
            || self.has_queue()
            || self.standalone_attached()
            || matches!(self.phase, Phase::Restarting | Phase::Replaying(_));
        let idle_for = self.last_client_activity.elapsed();
        if !busy && idle_for >= timeout {
            tracing::info!(parent: &self.span, idle_s = idle_for.as_secs(), "session idle for --session-idle-timeout; closing it and stopping its MCP server");
            self.close(myself, CloseReason::Idle);
            return;
        }
        let next = if busy {
            timeout
        } else {
            timeout.saturating_sub(idle_for)
        };
        self.after(myself, next.max(Duration::from_millis(10)), || {
            SessionMsg::Timer(SessionTimer::IdleCheck)
        });
    }

    /// Sends `message` to this session after `delay`, keeping the timer so it can be aborted.
    pub(super) fn after(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        delay: Duration,
        message: impl FnOnce() -> SessionMsg + Send + 'static,
    ) {
        self.timers.retain(|timer| !timer.is_finished());
        self.timers.push(myself.send_after(delay, message));
    }

    /// Schedules the housekeeping tick if it is not scheduled yet.
    pub(super) fn schedule_tick(&mut self, myself: &ActorRef<SessionMsg>) {
        if !self.tick_scheduled {
            self.tick_scheduled = true;
            // Fine enough for --request-timeout: a quarter of it, at most a second.
            let period = self
                .config
                .request_timeout
                .map_or(Duration::from_secs(1), |timeout| {
                    (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
                });
            self.after(myself, period, || SessionMsg::Timer(SessionTimer::Tick));
        }
    }

    /// Housekeeping: messages parked too long are dropped; parked requests are answered to the
    /// child with an error so it never waits forever.
    pub(super) fn on_tick(&mut self, myself: &ActorRef<SessionMsg>) {
        self.tick_scheduled = false;
        for parked in self.backlog.expire(BACKLOG_MAX_AGE) {
            tracing::warn!(parent: &self.span, "no client stream opened in time for a message of the MCP server; dropped (clients should open the GET stream)");
            self.expire_server_request(parked.server_request);
        }
        self.expire_queue(false);
        self.expire_requests();
        self.expire_server_requests();
        self.resumable.expire();
        let timing_requests = self.config.request_timeout.is_some() && !self.requests.is_empty();
        if !self.backlog.is_empty()
            || !self.server_requests.is_empty()
            || self.has_queue()
            || timing_requests
            || !self.resumable.is_empty()
        {
            self.schedule_tick(myself);
        }
    }
}
