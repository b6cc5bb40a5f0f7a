//! `SessionRouter`: the root actor. It opens sessions (mints ids, spawns supervisors with the
//! client's `initialize`), unlists them the moment they begin to end, counts them until they
//! have stopped, drains them all on shutdown, and is the only writer of the `SessionIndex`.
//!
//! Its mailbox sees lifecycle traffic only: requests go from HTTP handlers straight to the
//! session actors, and slow work (stopping a child) runs in the sessions or in tasks, so one
//! session's lifecycle never delays another's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::budget::GlobalBudgets;
use crate::child::Launcher;
use crate::config::SessionConfig;
use crate::frame::Frame;
use crate::index::{SessionEntry, SessionIndex};
use crate::mailbox::MailboxBound;
use crate::metrics::{Limit, ProxyMetrics};
use crate::protocol::{CloseReason, OpenError, OpenedSession, RouterMsg, SessionKind, SessionMsg};
use crate::session::{SessionArgs, SessionSupervisor};
use crate::session_id::SessionId;
use crate::session_stats::SessionStats;
use crate::stream::StreamSender;

// ============================ SessionRouter actor ============================

pub struct SessionRouter;

pub struct RouterArgs {
    pub index: Arc<SessionIndex>,
    pub session: Arc<SessionConfig>,
    pub max_sessions: usize,
    pub metrics: Arc<ProxyMetrics>,
    pub budgets: GlobalBudgets,
    /// Where sessions get their children (with `--prespawn`, the pool of spares first).
    pub launcher: Launcher,
}

/// A session the router spawned and has not seen stop yet.
struct Spawned {
    id: SessionId,
    /// Where the session publishes why it ends, read when its actor stops.
    stats: Arc<SessionStats>,
}

pub struct RouterState {
    index: Arc<SessionIndex>,
    session: Arc<SessionConfig>,
    /// Session actor → its id and close reason, so the index is cleaned however it ends.
    spawned: HashMap<ActorId, Spawned>,
    /// Set by `Drain`: new sessions are refused.
    draining: bool,
    max_sessions: usize,
    metrics: Arc<ProxyMetrics>,
    budgets: GlobalBudgets,
    launcher: Launcher,
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
            spawned: HashMap::new(),
            draining: false,
            max_sessions: args.max_sessions,
            metrics: args.metrics,
            budgets: args.budgets,
            launcher: args.launcher,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RouterMsg>,
        message: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RouterMsg::Open {
                kind,
                initialize,
                reply,
            } => {
                let opened = state.open(&myself, kind, initialize).await;
                let _ = reply.send(opened);
            }
            RouterMsg::Close { id, reply } => match state.unlist(&id, CloseReason::Deleted) {
                Some(entry) => {
                    tracing::info!(parent: &session_span(&id), "session closed by the client (DELETE)");
                    tokio::spawn(async move {
                        let _ = entry
                            .actor
                            .stop_and_wait(None, Some(SESSION_STOP_BUDGET))
                            .await;
                        let _ = reply.send(true);
                    });
                }
                None => {
                    let _ = reply.send(false);
                }
            },
            RouterMsg::Closing { actor, reason } => {
                if let Some(id) = state.spawned.get(&actor).map(|s| s.id.clone()) {
                    state.unlist(&id, reason);
                }
            }
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
                            remaining = index.occupied(),
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
                for (id, entry) in state.index.entries() {
                    state.unlist(&id, CloseReason::Shutdown);
                    // The session's post_stop answers its clients, then stops its child.
                    entry.actor.stop(None);
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
        let cell = match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => cell,
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "a session actor failed; its session is gone");
                cell
            }
            _ => return Ok(()),
        };
        if let Some(Spawned { id, stats }) = state.spawned.remove(&cell.get_id()) {
            // A session stopped without notice first (a panic) is unlisted now.
            stats.mark_closing(CloseReason::Failed);
            state.index.unlist(&id);
            let reason = stats.close_reason().unwrap_or(CloseReason::Failed);
            state.index.stopped();
            state.metrics.session_closed(reason);
            tracing::debug!(parent: &session_span(&id), reason = reason.label(), "session ended");
        }
        Ok(())
    }
}

impl RouterState {
    /// Mints an id, spawns the session's supervisor with its `initialize` and lists it.
    async fn open(
        &mut self,
        myself: &ActorRef<RouterMsg>,
        kind: SessionKind,
        initialize: Option<(Frame, StreamSender)>,
    ) -> Result<OpenedSession, OpenError> {
        if self.draining {
            return Err(OpenError::Draining);
        }
        if self.index.occupied() >= self.max_sessions {
            tracing::warn!(
                max_sessions = self.max_sessions,
                "initialize refused: --max-sessions reached"
            );
            self.metrics.limit_hit(Limit::MaxSessions);
            return Err(OpenError::Full(self.max_sessions));
        }
        let id =
            SessionId::mint_in(self.session.instance_id.as_ref()).map_err(OpenError::Random)?;
        let inbox = MailboxBound::new(self.session.mailbox_capacity);
        let stats = Arc::new(SessionStats::default());
        let budgets = self.budgets.session(self.session.session_buffer_bytes);
        let args = SessionArgs {
            id: id.clone(),
            config: self.session.clone(),
            inbox: inbox.clone(),
            stats: stats.clone(),
            metrics: self.metrics.clone(),
            router: myself.clone(),
            budgets: budgets.clone(),
            launcher: self.launcher.clone(),
            kind,
            initialize,
        };
        let (actor, _) =
            Actor::spawn_linked(None, SessionSupervisor, args, myself.get_cell()).await?;
        self.spawned.insert(
            actor.get_id(),
            Spawned {
                id: id.clone(),
                stats: stats.clone(),
            },
        );
        self.metrics.sessions_opened.inc();
        let entry = SessionEntry {
            actor: actor.clone(),
            inbox,
            stats: stats.clone(),
            budgets,
            streams: Arc::default(),
            kind,
        };
        self.index.insert(id.clone(), entry);
        Ok(OpenedSession { id, stats, actor })
    }

    /// Unlists a session that begins to end for `reason` (the first reason wins); it keeps
    /// counting against `--max-sessions` until its actor has stopped.
    fn unlist(&mut self, id: &SessionId, reason: CloseReason) -> Option<SessionEntry> {
        let entry = self.index.unlist(id)?;
        entry.stats.mark_closing(reason);
        Some(entry)
    }
}

/// A span naming a session, for the router's lines about it (the same shape as the
/// session's own span, so logs can be filtered by session id alike).
fn session_span(id: &SessionId) -> tracing::Span {
    tracing::info_span!("session", id = id.log_id(), instance = id.instance())
}
