//! The session's housekeeping: timers (kept so they die with the session), the periodic tick,
//! idle expiry, ending a drained session, and publishing its state for metrics.

use std::time::Duration;

use ractor::ActorRef;

use super::{Phase, SessionMsg, SessionState};
use crate::index::SessionPhase;

impl SessionState {
    /// Publishes the session's state for metrics and `/sessions`.
    pub(super) fn publish(&self) {
        let phase = match self.phase {
            _ if self.draining => SessionPhase::Draining,
            Phase::AwaitingInitialize | Phase::Initializing(_) => SessionPhase::Starting,
            Phase::Ready => SessionPhase::Ready,
            Phase::Restarting | Phase::Replaying(_) => SessionPhase::Restarting,
        };
        let standalone_open = self
            .standalone
            .as_ref()
            .is_some_and(|stream| stream.is_attached());
        self.stats
            .publish(phase, self.requests.len() + self.held(), standalone_open);
    }

    /// While draining, ends the session once nothing is in flight.
    pub(super) fn stop_if_drained(&self, myself: &ActorRef<SessionMsg>) {
        if self.draining && self.requests.is_empty() && !self.has_queue() {
            myself.stop(Some("shutdown".into()));
        }
    }

    /// Ends the session if nothing happened in it for `--session-idle-timeout`.
    pub(super) fn on_idle_check(&mut self, myself: &ActorRef<SessionMsg>) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        let stream_open = self
            .standalone
            .as_ref()
            .is_some_and(|stream| stream.is_attached());
        let busy = !self.requests.is_empty()
            || self.has_queue()
            || stream_open
            || matches!(self.phase, Phase::Restarting | Phase::Replaying(_));
        let idle_for = self.last_activity.elapsed();
        if !busy && idle_for >= timeout {
            tracing::info!(parent: &self.span, idle_s = idle_for.as_secs(), "session idle for --session-idle-timeout; closing it and stopping its MCP server");
            myself.stop(Some("idle".into()));
            return;
        }
        let next = if busy {
            timeout
        } else {
            timeout.saturating_sub(idle_for)
        };
        self.after(myself, next.max(Duration::from_millis(10)), || {
            SessionMsg::IdleCheck
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
            self.after(myself, period, || SessionMsg::Tick);
        }
    }
}
