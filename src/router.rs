//! `SessionRouter`: the root actor. It opens sessions (mints ids, spawns supervisors), closes
//! them, drains them all on shutdown, and is the only writer of the `SessionIndex`.
//!
//! Its mailbox sees lifecycle traffic only: requests go from HTTP handlers straight to the
//! session actors, and slow work (stopping a child) runs in tasks, so one session's lifecycle
//! never delays another's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::config::SessionConfig;
use crate::index::{SessionEntry, SessionId, SessionIndex, SessionStats};
use crate::mailbox::MailboxBound;
use crate::metrics::{Limit, ProxyMetrics};
use crate::session::{SessionArgs, SessionMsg, SessionSupervisor};

// ============================ SessionRouter actor ============================

/// The root actor of the session tree.
pub struct SessionRouter;

/// Lifecycle requests.
pub enum RouterMsg {
    /// Open a new session; its `initialize` is then sent to it by the caller.
    Open(RpcReplyPort<Result<(SessionId, SessionEntry), OpenError>>),
    /// Close a session (DELETE): replies `false` if it was unknown.
    Close {
        /// Which session.
        id: SessionId,
        /// `true` once the session and its child are stopped.
        reply: RpcReplyPort<bool>,
    },
    /// Shutdown: refuse new sessions, let every session finish its requests in flight (up to
    /// `timeout`), then stop them all; replies when every session is stopped.
    Drain {
        /// Longest wait for requests in flight.
        timeout: Duration,
        /// Answered when every session is stopped.
        reply: RpcReplyPort<()>,
    },
    /// Second signal: stop every session now (children are still stopped properly).
    DrainNow,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The proxy is shutting down.
    #[error("the proxy is shutting down and accepts no new sessions")]
    Draining,
    /// `--max-sessions` sessions are open.
    #[error("the proxy already serves its maximum of {0} sessions (--max-sessions)")]
    Full(usize),
    /// The OS random source failed.
    #[error("cannot mint a session id: {0}")]
    Random(String),
    /// The session actor could not start.
    #[error("cannot start the session actor: {0}")]
    Spawn(String),
}

/// What the router is built with.
pub struct RouterArgs {
    /// The index it maintains.
    pub index: Arc<SessionIndex>,
    /// Settings for every session.
    pub session: Arc<SessionConfig>,
    /// Most concurrent sessions.
    pub max_sessions: usize,
    /// Where lifecycle events are counted.
    pub metrics: Arc<ProxyMetrics>,
}

/// The router's state.
pub struct RouterState {
    /// The index it alone writes.
    index: Arc<SessionIndex>,
    /// Settings for every session.
    session: Arc<SessionConfig>,
    /// Session actor → id, to clean the index when a session ends by itself.
    by_actor: HashMap<ActorId, SessionId>,
    /// Set by `Drain`: new sessions are refused.
    draining: bool,
    /// Most concurrent sessions.
    max_sessions: usize,
    /// Where lifecycle events are counted.
    metrics: Arc<ProxyMetrics>,
}

/// Longest wait for one session (and its child) to stop.
const SESSION_STOP_BUDGET: Duration = Duration::from_secs(30);

impl Actor for SessionRouter {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<RouterMsg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        Ok(RouterState {
            index: args.index,
            session: args.session,
            by_actor: HashMap::new(),
            draining: false,
            max_sessions: args.max_sessions,
            metrics: args.metrics,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RouterMsg>,
        message: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RouterMsg::Open(reply) => {
                let opened = state.open(&myself).await;
                let _ = reply.send(opened);
            }
            RouterMsg::Close { id, reply } => match state.index.remove(&id) {
                Some(actor) => {
                    tracing::info!(parent: &session_span(&id), "session closed by the client (DELETE)");
                    tokio::spawn(async move {
                        let _ = actor
                            .stop_and_wait(Some(CLOSE_REASONS[0].into()), Some(SESSION_STOP_BUDGET))
                            .await;
                        let _ = reply.send(true);
                    });
                }
                None => {
                    let _ = reply.send(false);
                }
            },
            RouterMsg::Drain { timeout, reply } => {
                state.draining = true;
                let sessions = state.index.entries();
                tracing::info!(
                    sessions = sessions.len(),
                    timeout_s = timeout.as_secs_f64(),
                    "draining: new sessions are refused; sessions end once their requests in flight are answered"
                );
                for (_, entry) in &sessions {
                    let _ = entry.actor.cast(SessionMsg::Drain);
                }
                let index = state.index.clone();
                let router = myself.clone();
                tokio::spawn(async move {
                    if tokio::time::timeout(timeout, index.wait_empty())
                        .await
                        .is_err()
                    {
                        tracing::warn!(
                            remaining = index.len(),
                            "--shutdown-timeout passed with requests still in flight; stopping the remaining sessions"
                        );
                        let _ = router.cast(RouterMsg::DrainNow);
                        let _ = tokio::time::timeout(SESSION_STOP_BUDGET, index.wait_empty()).await;
                    }
                    let _ = reply.send(());
                });
            }
            RouterMsg::DrainNow => {
                state.draining = true;
                for (_, entry) in state.index.entries() {
                    // The session's post_stop stops its child through the graceful path.
                    entry.actor.stop(Some("shutdown".into()));
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<RouterMsg>,
        event: SupervisionEvent,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        // Overridden: ractor's default would stop the router when any session ends.
        let (cell, reason) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, close_reason(reason.as_deref()))
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "a session actor failed; its session is gone");
                (cell, "failed")
            }
            _ => return Ok(()),
        };
        if let Some(id) = state.by_actor.remove(&cell.get_id()) {
            state.index.remove(&id);
            state.metrics.session_closed(reason);
            tracing::debug!(parent: &session_span(&id), reason, "session ended");
        }
        Ok(())
    }
}

impl RouterState {
    /// Mints an id, spawns the session's supervisor and publishes it in the index.
    async fn open(
        &mut self,
        myself: &ActorRef<RouterMsg>,
    ) -> Result<(SessionId, SessionEntry), OpenError> {
        if self.draining {
            return Err(OpenError::Draining);
        }
        if self.index.len() >= self.max_sessions {
            tracing::warn!(
                max_sessions = self.max_sessions,
                "initialize refused: --max-sessions reached"
            );
            self.metrics.limit_hit(Limit::MaxSessions);
            return Err(OpenError::Full(self.max_sessions));
        }
        let id = SessionId::mint().map_err(|err| OpenError::Random(err.to_string()))?;
        let inbox = MailboxBound::new(self.session.mailbox_capacity);
        let stats = Arc::new(SessionStats::default());
        let args = SessionArgs {
            id: id.clone(),
            config: self.session.clone(),
            inbox: inbox.clone(),
            stats: stats.clone(),
            metrics: self.metrics.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, SessionSupervisor, args, myself.get_cell())
            .await
            .map_err(|err| OpenError::Spawn(err.to_string()))?;
        self.by_actor.insert(actor.get_id(), id.clone());
        self.metrics.sessions_opened.inc();
        let entry = SessionEntry {
            actor,
            inbox,
            stats,
        };
        self.index.insert(id.clone(), entry.clone());
        Ok((id, entry))
    }
}

/// A span naming a session, for the router's lines about it (the same shape as the
/// session's own span, so logs can be filtered by session id alike).
fn session_span(id: &SessionId) -> tracing::Span {
    tracing::info_span!("session", id = %id)
}

/// Reasons a session ends, as the `reason` label of `sessions_closed_total`.
pub const CLOSE_REASONS: [&str; 8] = [
    "deleted",
    "idle",
    "restart_limit",
    "shutdown",
    "spawn_failed",
    "init_failed",
    "protocol_changed",
    "rehandshake_failed",
];

/// The label for a session actor's stop reason (anything unexpected is `other`).
fn close_reason(reason: Option<&str>) -> &'static str {
    reason
        .and_then(|reason| CLOSE_REASONS.iter().find(|known| **known == reason))
        .copied()
        .unwrap_or("other")
}
